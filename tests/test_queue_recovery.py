"""Workers that die, race or keep failing, and spaces small enough to search through."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import threading
from typing import Any

import pytest

from findhash.engine.scanner import Hit
from findhash.queue import Lease, Queue, connect
from findhash.space import Space
from tests.queue_support import (
    T0,
    TTL_MS,
    QueueHarness,
    absent_prefix,
    drain,
    first_hit,
    hit_at,
    scan,
    work_once,
)

DEFAULT_SPACE = Space()
# 2 + 4 + 8 = 14 candidates: small enough to search through in three chunks.
TINY = Space(alphabet="ab", max_length=3)


def tiny_item(prefix: str) -> str:
    return json.dumps({"prefix": prefix, "alphabet": "ab", "max_length": 3})


def test_a_worker_killed_after_claiming_loses_nothing(queues: QueueHarness) -> None:
    queue = queues.open()
    queues.push(queue, ["0ce", "babaca"])
    index = first_hit(DEFAULT_SPACE, "0ce")
    dead = queue.claim("dead", index + 1, now_ms=T0)
    assert dead is not None

    # Until the lease expires the chunk is the dead worker's; then it is taken up again.
    live = queue.claim("live", index + 1, now_ms=T0 + 1)
    retaken = queue.claim("live", index + 1, now_ms=T0 + TTL_MS)

    assert live is not None and live.start == index + 1
    assert retaken is not None and (retaken.start, retaken.count) == (dead.start, dead.count)
    assert queue.report(retaken, *scan(retaken), now_ms=T0 + TTL_MS)
    assert [record["item"] for record in queue.results()] == ["0ce"]


def test_workers_dying_at_every_step_still_complete_the_queue(queues: QueueHarness) -> None:
    queue = queues.open()
    queues.push(queue, ["0ce", "a1", "a1", "fff", "zz"])
    now = T0
    for step in range(200):
        if queue.is_complete():
            break
        lease = queue.claim(f"w{step}", 700, now_ms=now)
        if lease is not None and step % 3 == 0:
            hits, hashed = scan(lease)
            queue.report(lease, hits, hashed, now_ms=now)
        elif lease is not None and step % 3 == 1:
            queue.release(lease, now_ms=now)
        now += TTL_MS // 2
    assert queue.is_complete()
    assert sorted(record["item"] for record in queue.results()) == ["0ce", "a1", "a1", "fff"]


def _two_leases_with_hits(queue: Queue, prefix: str) -> list[tuple[Lease, dict[str, Hit]]]:
    """Two leases on different chunks that both hold a hit for `prefix`."""
    first = first_hit(DEFAULT_SPACE, prefix)
    leases = []
    for _ in range(2):
        lease = queue.claim("w", first + 1, now_ms=T0)
        assert lease is not None
        leases.append(lease)
    # Both report the same true hit: as if both had scanned it (a re-leased chunk).
    hit = hit_at(DEFAULT_SPACE, prefix, first)
    return [(lease, {prefix: hit}) for lease in leases]


def _report_at_once(work: list[tuple[Queue, Lease, dict[str, Hit]]]) -> list[bool]:
    """Report from one thread per lease, all released at the same moment."""
    barrier = threading.Barrier(len(work))
    outcomes: list[bool] = []

    def report(queue: Queue, lease: Lease, hits: dict[str, Hit]) -> None:
        barrier.wait()
        outcomes.append(queue.report(lease, hits, lease.count, now_ms=T0 + 1))

    threads = [threading.Thread(target=report, args=job) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_racing_reports_of_one_prefix_record_it_exactly_once(queues: QueueHarness) -> None:
    prefixes = [f"{value:02x}" for value in range(0, 256, 37)]
    for prefix in prefixes:
        reporters = [queues.open(), queues.open()]
        queues.push(reporters[0], [prefix, prefix])
        work = _two_leases_with_hits(reporters[0], prefix)
        jobs = [(queue, lease, hits) for queue, (lease, hits) in zip(reporters, work, strict=True)]

        assert _report_at_once(jobs) == [True, True]

    records = reporters[0].results()
    assert sorted(record["prefix"] for record in records) == sorted(prefixes * 2)


def _drain_in_process(url: str, worker: str) -> None:
    queue = connect(url, "job", lease_ttl_s=10.0)
    try:
        for _ in range(400):
            if queue.is_complete():
                return
            lease = queue.claim(worker, 1500)
            if lease is not None:
                hits, hashed = scan(lease)
                queue.report(lease, hits, hashed)
    finally:
        queue.close()


def test_several_processes_share_a_queue_and_record_each_item_once(queues: QueueHarness) -> None:
    queue = queues.open()
    items = [f"{value:03x}" for value in range(0, 4096, 211)]
    queues.push(queue, items + items[:5] + ["nope"])
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=_drain_in_process, args=(queues.url, f"p{n}")) for n in range(3)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
        assert process.exitcode == 0

    assert queue.is_complete()
    assert len(queue.results()) == len(items) + 5
    assert len(queue.failed()) == 1


def test_a_finite_space_is_declared_exhausted_after_a_full_round(queues: QueueHarness) -> None:
    queue = queues.open()
    prefix = absent_prefix(TINY)
    queues.push(queue, [tiny_item(prefix)])
    spans = []
    for _ in range(3):
        assert queue.counts().failed == 0
        lease = work_once(queue, T0, max_count=5)
        assert lease is not None
        spans.append((lease.start, lease.count))

    assert spans == [(0, 5), (5, 5), (10, 4)]
    [record] = queue.failed()
    assert record["kind"] == "exhausted"
    assert record["reason"].startswith("space exhausted after 14 candidates")
    assert record["prefix"] == prefix
    assert queue.is_complete()


def test_exhaustion_waits_for_every_chunk_still_in_flight(queues: QueueHarness) -> None:
    queue = queues.open()
    queues.push(queue, [tiny_item(absent_prefix(TINY))])
    leases = [queue.claim("w", 5, now_ms=T0) for _ in range(3)]
    assert all(leases)

    # The round is fully cut: nothing new is leased while its chunks are out.
    assert queue.claim("w", 5, now_ms=T0) is None
    for lease in reversed(leases):
        assert lease is not None
        assert queue.counts().failed == 0
        queue.report(lease, *scan(lease), now_ms=T0)

    assert queue.counts().failed == 1


def test_a_prefix_opened_mid_round_gets_a_full_round_of_its_own(queues: QueueHarness) -> None:
    queue = queues.open()
    early, late = absent_prefix(TINY, 4), absent_prefix(TINY, 5)
    queues.push(queue, [tiny_item(early)])
    work_once(queue, T0, max_count=5)
    queues.push(queue, [tiny_item(late)])

    seen = [work_once(queue, T0, max_count=5) for _ in range(2)]
    failed_after_round = [record["prefix"] for record in queue.failed()]
    wrap = work_once(queue, T0, max_count=5)

    assert [(lease.start, sorted(lease.prefixes)) for lease in seen if lease] == [
        (5, sorted([early, late])),
        (10, sorted([early, late])),
    ]
    assert failed_after_round == [early]
    assert wrap is not None and (wrap.start, wrap.prefixes) == (0, (late,))
    assert [record["prefix"] for record in queue.failed()] == [early, late]


def test_a_prefix_found_in_a_finite_space_is_solved_not_exhausted(queues: QueueHarness) -> None:
    queue = queues.open()
    prefix = hashlib.sha256(TINY.candidate(9).encode()).hexdigest()[:3]
    queues.push(queue, [tiny_item(prefix)])

    drain(queue, max_count=5)

    [record] = queue.results()
    assert record["index"] <= 9
    assert queue.counts().failed == 0


def test_an_exhausted_prefix_pushed_again_fails_at_once(queues: QueueHarness) -> None:
    queue = queues.open()
    item = tiny_item(absent_prefix(TINY))
    queues.push(queue, [item])
    drain(queue, max_count=20)

    queues.push(queue, [item])
    assert queue.claim("w", 5, now_ms=T0 + 9) is None

    first, second = queue.failed()
    assert first["reason"] == second["reason"]
    assert second["failed_at"] == T0 + 9


def test_poison_in_a_finite_space_fails_the_items_that_needed_it(queues: QueueHarness) -> None:
    queue = queues.open(max_attempts=2)
    queues.push(queue, [tiny_item(absent_prefix(TINY))])
    now = T0
    for _ in range(2):
        lease = queue.claim("doomed", 5, now_ms=now)
        assert lease is not None and lease.start == 0
        now += TTL_MS

    drain(queue, now_ms=now, max_count=5)

    [record] = queue.failed()
    assert record["kind"] == "poison"
    assert "set aside" in record["reason"]
    assert len(queue.poison()) == 1


def test_a_chunk_taken_up_again_is_checked_against_the_prefixes_open_now(
    queues: QueueHarness,
) -> None:
    queue = queues.open()
    queues.push(queue, ["babaca"])
    lost = queue.claim("w", 100, now_ms=T0)
    queues.push(queue, ["c0ffee"])
    assert lost is not None and lost.prefixes == ("babaca",)

    again = queue.claim("v", 100, now_ms=T0 + TTL_MS)

    assert again is not None and again.start == lost.start
    assert sorted(again.prefixes) == ["babaca", "c0ffee"]


@pytest.mark.parametrize("attempts", [1, 3])
def test_max_attempts_is_configurable(queues: QueueHarness, attempts: int) -> None:
    queue = queues.open(max_attempts=attempts)
    queues.push(queue, ["babaca"])
    now = T0
    for _ in range(attempts):
        lease = queue.claim("w", 10, now_ms=now)
        assert lease is not None and lease.start == 0
        now += TTL_MS

    lease = queue.claim("w", 10, now_ms=now)

    assert lease is not None and lease.start == 10
    info: list[dict[str, Any]] = queue.poison()
    assert [record["attempts"] for record in info] == [attempts]
