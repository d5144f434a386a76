"""The queue contract, run against both backends: leasing, renewing, reporting, handing back."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from findhash.queue import QueueCounts, connect
from findhash.space import Space
from tests.queue_support import (
    T0,
    TTL_MS,
    QueueHarness,
    drain,
    first_hit,
    hit_at,
    scan,
    work_once,
)

DEFAULT_SPACE = Space()


def test_an_empty_queue_is_complete_and_has_nothing_to_lease(queues: QueueHarness) -> None:
    queue = queues.open()

    assert queue.is_complete()
    assert queue.claim("w", 100, now_ms=T0) is None
    assert queue.counts() == QueueCounts(0, 0, 0, 0)


def test_a_pushed_prefix_is_leased_from_the_start_of_its_space(queues: QueueHarness) -> None:
    queue = queues.open()
    queues.push(queue, ["0ce"])

    lease = queue.claim("w", 500, now_ms=T0)

    assert lease is not None
    assert (lease.start, lease.count, lease.prefixes) == (0, 500, ("0ce",))
    assert lease.space == DEFAULT_SPACE
    assert lease.expires_at_ms == T0 + TTL_MS
    assert queue.counts() == QueueCounts(pending=0, processing=1, results=0, failed=0)
    assert not queue.is_complete()


def test_a_prefix_is_solved_once_and_its_record_holds_the_answer(queues: QueueHarness) -> None:
    queue = queues.open()
    queues.push(queue, ["0ce"])

    drain(queue)

    [record] = queue.results()
    index = first_hit(DEFAULT_SPACE, "0ce")
    assert record["item"] == "0ce"
    assert record["prefix"] == "0ce"
    assert record["index"] == index
    assert record["nonce"] == record["input"] == DEFAULT_SPACE.candidate(index)
    assert record["algorithm"] == "sha256"
    assert record["tries"] == index + 1
    assert record["solved_at"] == T0
    assert record["space"] == DEFAULT_SPACE.to_dict()
    assert queue.is_complete()


def test_consecutive_chunks_tile_the_space_without_gaps(queues: QueueHarness) -> None:
    queue = queues.open()
    queues.push(queue, ["babaca"])

    leases = [queue.claim("w", 300, now_ms=T0) for _ in range(4)]

    assert [(lease.start, lease.count) for lease in leases if lease] == [
        (0, 300),
        (300, 300),
        (600, 300),
        (900, 300),
    ]
    assert len({lease.token for lease in leases if lease}) == 4


def test_every_chunk_carries_all_open_prefixes_of_its_space(queues: QueueHarness) -> None:
    queue = queues.open()
    queues.push(queue, ["babaca", "c0ffee", "BABACA", " 00000 "])

    lease = queue.claim("w", 100, now_ms=T0)

    assert lease is not None
    assert sorted(lease.prefixes) == ["00000", "babaca", "c0ffee"]


def test_a_prefix_opened_later_is_searched_from_the_cursor_on(queues: QueueHarness) -> None:
    queue = queues.open()
    queues.push(queue, ["babaca"])
    before = queue.claim("w", 100, now_ms=T0)
    queues.push(queue, ["c0ffee"])

    after = queue.claim("w", 100, now_ms=T0)

    assert before is not None and after is not None
    assert before.prefixes == ("babaca",)
    assert after.start == 100
    assert sorted(after.prefixes) == ["babaca", "c0ffee"]


def test_renewing_a_live_lease_moves_its_expiry(queues: QueueHarness) -> None:
    queue = queues.open()
    queues.push(queue, ["babaca"])
    lease = queue.claim("w", 100, now_ms=T0)
    assert lease is not None

    assert queue.renew(lease, now_ms=T0 + TTL_MS - 1)
    # Past the first expiry, but within the renewed one: nobody else gets the chunk.
    other = queue.claim("v", 100, now_ms=T0 + TTL_MS + 1)

    assert other is not None and other.start == 100
    assert queue.report(lease, *scan(lease), now_ms=T0 + TTL_MS + 2)


def test_an_expired_lease_is_leased_again_with_the_same_range(queues: QueueHarness) -> None:
    queue = queues.open()
    queues.push(queue, ["babaca"])
    lost = queue.claim("w", 100, now_ms=T0)

    again = queue.claim("v", 100, now_ms=T0 + TTL_MS)

    assert lost is not None and again is not None
    assert (again.start, again.count, again.attempt) == (lost.start, lost.count, 2)
    assert again.token != lost.token


def test_a_stale_token_can_neither_renew_nor_finish_the_chunk(queues: QueueHarness) -> None:
    queue = queues.open()
    queues.push(queue, ["babaca"])
    stale = queue.claim("w", 100, now_ms=T0)
    fresh = queue.claim("v", 100, now_ms=T0 + TTL_MS)
    assert stale is not None and fresh is not None

    assert not queue.renew(stale, now_ms=T0 + TTL_MS + 1)
    assert not queue.report(stale, {}, stale.count, now_ms=T0 + TTL_MS + 1)

    # The chunk is still the fresh lease's: it renews, and its report finishes it.
    assert queue.renew(fresh, now_ms=T0 + TTL_MS + 2)
    assert queue.report(fresh, {}, fresh.count, now_ms=T0 + TTL_MS + 3)
    assert not queue.report(fresh, {}, fresh.count, now_ms=T0 + TTL_MS + 4)
    assert queue.stats()["reports"] == 1


def test_a_stale_report_still_records_its_hits_once(queues: QueueHarness) -> None:
    queue = queues.open()
    queues.push(queue, ["0ce"])
    index = first_hit(DEFAULT_SPACE, "0ce")
    stale = queue.claim("w", index + 1, now_ms=T0)
    fresh = queue.claim("v", index + 1, now_ms=T0 + TTL_MS)
    assert stale is not None and fresh is not None
    hits = {"0ce": hit_at(DEFAULT_SPACE, "0ce", index)}

    assert not queue.report(stale, hits, stale.count, now_ms=T0 + TTL_MS + 1)
    assert queue.report(fresh, hits, fresh.count, now_ms=T0 + TTL_MS + 2)

    assert [record["index"] for record in queue.results()] == [index]
    assert queue.is_complete()


def test_a_released_chunk_is_leased_again_before_new_ranges(queues: QueueHarness) -> None:
    queue = queues.open()
    queues.push(queue, ["babaca"])
    first = queue.claim("w", 100, now_ms=T0)
    second = queue.claim("w", 100, now_ms=T0)
    assert first is not None and second is not None

    queue.release(first, now_ms=T0)
    again = queue.claim("v", 100, now_ms=T0)

    assert again is not None
    assert (again.start, again.count, again.attempt) == (0, 100, 2)
    assert not queue.renew(first, now_ms=T0)
    assert not queue.report(first, {}, 100, now_ms=T0)


def test_a_chunk_handed_back_is_cut_to_the_claimers_size(queues: QueueHarness) -> None:
    queue = queues.open()
    queues.push(queue, ["babaca"])
    big = queue.claim("fast", 1000, now_ms=T0)
    assert big is not None
    queue.release(big, now_ms=T0)

    pieces = [queue.claim("slow", 400, now_ms=T0) for _ in range(4)]

    spans = [(lease.start, lease.count) for lease in pieces if lease]
    assert spans == [(0, 400), (400, 400), (800, 200), (1000, 400)]


def test_a_chunk_lost_too_often_is_set_aside_as_poison(queues: QueueHarness) -> None:
    queue = queues.open(max_attempts=3)
    queues.push(queue, ["babaca"])
    now = T0
    starts = []
    for _ in range(3):
        lease = queue.claim("w", 100, now_ms=now)
        assert lease is not None
        starts.append(lease.start)
        now += TTL_MS

    after = queue.claim("w", 100, now_ms=now)

    assert starts == [0, 0, 0]
    assert after is not None and after.start == 100
    [record] = queue.poison()
    assert (record["start"], record["count"], record["attempts"]) == (0, 100, 3)
    assert record["last_worker"] == "w"
    assert queue.stats()["poisoned"] == 1
    # The item itself goes on: an infinite space has other places to look.
    assert queue.counts().processing == 1


def test_releasing_counts_as_a_lost_attempt(queues: QueueHarness) -> None:
    queue = queues.open(max_attempts=2)
    queues.push(queue, ["babaca"])
    for _ in range(2):
        lease = queue.claim("w", 100, now_ms=T0)
        assert lease is not None and lease.start == 0
        queue.release(lease, now_ms=T0)

    lease = queue.claim("w", 100, now_ms=T0)

    assert lease is not None and lease.start == 100
    assert len(queue.poison()) == 1


def test_a_lease_on_a_space_with_nothing_left_to_find_cannot_be_renewed(
    queues: QueueHarness,
) -> None:
    queue = queues.open()
    queues.push(queue, ["0ce"])
    index = first_hit(DEFAULT_SPACE, "0ce")
    finder = queue.claim("w", index + 1, now_ms=T0)
    other = queue.claim("v", 100, now_ms=T0)
    assert finder is not None and other is not None

    assert queue.report(finder, *scan(finder), now_ms=T0)

    assert not queue.renew(other, now_ms=T0)
    assert queue.claim("v", 100, now_ms=T0) is None
    assert queue.is_complete()


def test_heartbeats_list_live_workers_and_forget_silent_ones(queues: QueueHarness) -> None:
    queue = queues.open()
    queue.heartbeat("pod-a", 1.5e6, 4, now_ms=T0)
    queue.heartbeat("pod-b", 2.0e6, 8, now_ms=T0 + 1000)

    live = queue.workers(now_ms=T0 + 1000)
    later = T0 + 3 * TTL_MS + 500
    queue.heartbeat("pod-b", 2.5e6, 8, now_ms=later)

    assert {(w.worker_id, w.hashes_per_second, w.threads) for w in live} == {
        ("pod-a", 1.5e6, 4),
        ("pod-b", 2.0e6, 8),
    }
    [status] = queue.workers(now_ms=later)
    assert (status.worker_id, status.hashes_per_second, status.last_seen_ms) == (
        "pod-b",
        2.5e6,
        later,
    )
    assert status.to_dict()["threads"] == 8


def test_stats_count_reported_hashes_and_open_prefixes(queues: QueueHarness) -> None:
    queue = queues.open()
    queues.push(queue, ["babaca", "c0ffee", "00"])
    lease = queue.claim("w", 300, now_ms=T0)
    assert lease is not None
    queue.report(lease, {}, 300, now_ms=T0)

    stats = queue.stats()

    assert stats["hashes"] == 300
    assert stats["claims"] >= 1
    assert sorted(stats["open_prefix_lengths"]) == [2, 6, 6]
    [space] = stats["spaces"]
    assert (space["open"], space["hashed"], space["cursor"]) == (3, 300, 300)


def test_items_lists_what_the_queue_holds_in_every_place(queues: QueueHarness) -> None:
    queue = queues.open()
    queues.push(queue, ["0ce", "babaca", "xyz", "0ce"])
    work_once(queue, T0, max_count=first_hit(DEFAULT_SPACE, "0ce") + 1)
    queues.push(queue, ["later"])

    assert sorted(queue.items()) == sorted(["0ce", "0ce", "babaca", "xyz", "later"])


def test_queues_of_different_names_share_a_store_without_mixing(queues: QueueHarness) -> None:
    job = queues.open()
    other = connect(queues.url, "other:queue", lease_ttl_s=10.0)
    try:
        queues.push(job, ["0ce"])
        other.push(["babaca", "c0ffee"])

        assert job.counts().pending == 1
        assert other.counts().pending == 2
        lease = other.claim("w", 10, now_ms=T0)
        assert lease is not None and sorted(lease.prefixes) == ["babaca", "c0ffee"]
        assert job.counts().pending == 1
    finally:
        other.close()


def test_setting_aside_a_chunk_is_logged_as_a_warning(
    queues: QueueHarness, caplog: pytest.LogCaptureFixture
) -> None:
    queue = queues.open(max_attempts=1)
    queues.push(queue, ["babaca"])
    lease = queue.claim("w", 10, now_ms=T0)
    assert lease is not None

    with caplog.at_level(logging.WARNING, logger="findhash.queue"):
        queue.release(lease, now_ms=T0)

    assert "will not be leased again" in caplog.text
    assert "job:poison" in caplog.text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"intake_batch": 5000}, "intake_batch"),
        ({"lease_ttl_s": 0.0}, "lease_ttl_s"),
    ],
)
def test_settings_the_queue_cannot_honour_are_refused(
    queues: QueueHarness, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        queues.open(**options)


def test_a_claim_for_no_indices_is_refused(queues: QueueHarness) -> None:
    queue = queues.open()

    with pytest.raises(ValueError, match="max_count"):
        queue.claim("w", 0, now_ms=T0)
