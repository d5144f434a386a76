"""What the queue makes of items: plain prefixes, JSON objects, duplicates and bad input."""

from __future__ import annotations

import json

import pytest

from findhash.queue.items import Admitted, Rejected, judge, space_id
from findhash.space import Space
from tests.queue_support import T0, QueueHarness, drain, first_hit, work_once

DEFAULT_SPACE = Space()

BAD_ITEMS = [
    ("xyz", "invalid", "the character 'x' at position 1"),
    ("", "invalid", "prefix is empty"),
    ("   ", "invalid", "prefix is empty"),
    ("0c e", "invalid", "U+0020 at position 3"),
    ("a" * 65, "invalid", "a sha256 digest has only 64"),
    ("0" * 17, "infeasible", "needs 2.95e+20 tries on average"),
    ("{not json", "invalid", "does not parse"),
    ("[1, 2]", "invalid", "the character '['"),
    ('{"prefix": "0ce", "colour": "red"}', "invalid", "unknown field 'colour'"),
    ('{"algorithm": "md5"}', "invalid", "no 'prefix' field"),
    ('{"prefix": 12}', "invalid", "prefix must be a string"),
    ('{"prefix": "0ce", "algorithm": "nope"}', "invalid", "unknown hash algorithm 'nope'"),
    ('{"prefix": "0ce", "algorithm": "shake_128"}', "invalid", "no fixed digest length"),
    ('{"prefix": "0ce", "alphabet": "a"}', "invalid", "at least 2 characters"),
    ('{"prefix": "0ce", "alphabet": "abca"}', "invalid", "'a' more than once"),
    ('{"prefix": "0ce", "max_length": 0}', "invalid", "between 1 and 64"),
    ('{"prefix": "0ce", "max_length": 2.5}', "invalid", "must be an integer"),
    ('{"prefix": "0" , "message": 7}', "invalid", "message must be a string"),
    ('{"prefix": "' + "a" * 40 + '", "algorithm": "md5"}', "invalid", "md5 digest has only 32"),
]


@pytest.mark.parametrize(("item", "kind", "reason"), BAD_ITEMS)
def test_a_bad_item_is_judged_with_a_reason_naming_the_problem(
    item: str, kind: str, reason: str
) -> None:
    verdict = judge(item, max_feasible_digits=16)

    assert isinstance(verdict, Rejected)
    record = json.loads(verdict.record)
    assert record["kind"] == kind
    assert reason in record["reason"]
    assert record["item"] == item


def test_bad_items_fail_with_their_reasons_and_the_rest_goes_on(queues: QueueHarness) -> None:
    queue = queues.open()
    queues.push(queue, [item for item, _, _ in BAD_ITEMS] + ["0ce"])

    drain(queue)

    failed = queue.failed()
    assert len(failed) == len(BAD_ITEMS)
    for record, (item, kind, reason) in zip(failed, BAD_ITEMS, strict=True):
        assert (record["item"], record["kind"]) == (item, kind)
        assert reason in record["reason"]
        assert record["failed_at"] == T0
    assert [record["item"] for record in queue.results()] == ["0ce"]


def test_a_long_bad_item_is_cut_in_its_record_with_its_length_noted(queues: QueueHarness) -> None:
    queue = queues.open()
    item = "z" * 5000
    queues.push(queue, [item])

    assert queue.claim("w", 10, now_ms=T0) is None

    [record] = queue.failed()
    assert record["item"] == "z" * 200 + "..."
    assert record["item_length"] == 5000


def test_the_feasibility_cap_is_the_queues_setting(queues: QueueHarness) -> None:
    queue = queues.open(max_feasible_digits=4)
    queues.push(queue, ["00000"])

    assert queue.claim("w", 10, now_ms=T0) is None

    [record] = queue.failed()
    assert record["kind"] == "infeasible"
    assert "1.05e+06 tries" in record["reason"]


def test_plain_and_json_items_for_one_prefix_share_a_space() -> None:
    plain = judge(" 0CE\n", 16)
    spelled_out = judge('{"prefix": "0ce", "message": null, "algorithm": "SHA256"}', 16)

    assert isinstance(plain, Admitted) and isinstance(spelled_out, Admitted)
    assert (plain.space_id, plain.prefix) == (spelled_out.space_id, spelled_out.prefix)
    assert plain.space_id == space_id(Space())


def test_a_json_item_is_searched_in_its_own_space(queues: QueueHarness) -> None:
    queue = queues.open()
    space = Space(algorithm="md5", message="hello ", alphabet="0123456789")
    item = {"prefix": "abc", "algorithm": "md5", "message": "hello ", "alphabet": "0123456789"}
    queues.push(queue, [json.dumps(item)])

    drain(queue)

    [record] = queue.results()
    assert record["index"] == first_hit(space, "abc")
    assert record["input"].startswith("hello ")
    assert record["algorithm"] == "md5"
    assert record["space"] == space.to_dict()


def test_every_duplicate_of_a_prefix_gets_the_same_answer(queues: QueueHarness) -> None:
    queue = queues.open()
    queues.push(queue, ["0ce", "0CE", "0ce", '{"prefix": "0ce"}'])

    drain(queue)

    records = queue.results()
    assert sorted(record["item"] for record in records) == sorted(
        ["0ce", "0CE", "0ce", '{"prefix": "0ce"}']
    )
    assert len({(record["index"], record["digest"]) for record in records}) == 1


def test_a_prefix_already_solved_is_answered_at_once(queues: QueueHarness) -> None:
    queue = queues.open()
    queues.push(queue, ["0ce"])
    drain(queue)
    [first] = queue.results()

    queues.push(queue, ["0CE"])
    assert queue.claim("w", 10, now_ms=T0 + 5) is None

    _, again = queue.results()
    assert queue.is_complete()
    assert (again["item"], again["index"], again["tries"]) == ("0CE", first["index"], 0)
    assert again["cached"] is True
    assert again["solved_at"] == T0 + 5


def test_a_duplicate_pushed_while_the_search_runs_joins_it(queues: QueueHarness) -> None:
    queue = queues.open()
    index = first_hit(DEFAULT_SPACE, "0ce")
    queues.push(queue, ["0ce"])
    work_once(queue, T0, max_count=index // 2)
    queues.push(queue, ["0ce"])

    drain(queue)

    first, second = queue.results()
    assert first["index"] == second["index"] == index
    # The second copy was open for fewer candidates than the first.
    assert first["tries"] == index + 1
    assert second["tries"] < first["tries"]


def test_one_prefix_in_two_spaces_is_searched_in_each(queues: QueueHarness) -> None:
    queue = queues.open()
    queues.push(queue, ["0ce", '{"prefix": "0ce", "message": "salt"}'])

    drain(queue)

    records = {record["item"]: record for record in queue.results()}
    assert records["0ce"]["input"] == DEFAULT_SPACE.candidate(first_hit(DEFAULT_SPACE, "0ce"))
    assert records['{"prefix": "0ce", "message": "salt"}']["input"].startswith("salt")


def test_thousands_of_items_are_taken_in_bounded_batches(queues: QueueHarness) -> None:
    queue = queues.open()
    items = [f"{value:03x}" for value in range(0, 4096, 3)] + ["nothex"] * 100
    queues.push(queue, items)

    lease = queue.claim("w", 10, now_ms=T0)

    counts = queue.counts()
    assert lease is not None
    assert 0 < counts.pending < len(items)
    assert counts.pending + counts.processing + counts.failed == len(items)


def test_an_item_whose_check_raises_unexpectedly_is_failed_instead_of_crashing_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_check(*args: object, **kwargs: object) -> str:
        raise RuntimeError("a gap in the checks")

    monkeypatch.setattr("findhash.queue.items.parse_prefix", broken_check)

    verdict = judge("0ce", max_feasible_digits=16)

    assert isinstance(verdict, Rejected)
    assert "could not be checked (RuntimeError)" in json.loads(verdict.record)["reason"]
