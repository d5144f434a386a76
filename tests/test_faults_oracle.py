"""The oracle itself: it must see every kind of loss, or a clean fault run proves nothing."""

from __future__ import annotations

import hashlib
import json
import random

from findhash.space import Space
from tests.harness.corpus import bad_items, ballast, needle
from tests.harness.oracle import Fail, Ledger, Snapshot, Solve, check, item_key, plain


def answer(prefix: str, item: str | None = None) -> dict[str, object]:
    """A true result record for `prefix`, found by brute force over the default space."""
    space = Space()
    index = 0
    while True:
        text = space.candidate(index)
        digest = hashlib.sha256(text.encode()).hexdigest()
        if digest.startswith(prefix):
            return {
                "item": item if item is not None else prefix,
                "prefix": prefix,
                "input": text,
                "nonce": text,
                "digest": digest,
                "algorithm": "sha256",
            }
        index += 1


def failure(item: str, reason: str) -> dict[str, object]:
    return {"item": item, "kind": "invalid", "reason": reason}


def ledger_of(*entries: tuple[str, Solve | Fail]) -> Ledger:
    ledger = Ledger()
    ledger.add(entries)
    return ledger


GOOD = ledger_of(("0ce", plain("0ce")), ("ab", plain("ab")), ("zz", Fail(("hex",))))


def test_a_queue_holding_one_right_record_per_item_is_clean() -> None:
    snapshot = Snapshot(0, 0, [answer("0ce"), answer("ab")], [failure("zz", "not hex")])

    tally = check(GOOD, snapshot)

    assert tally.problems == []
    assert (tally.items, tally.records, tally.lost, tally.duplicated, tally.wrong) == (
        3,
        3,
        0,
        0,
        0,
    )


def test_an_item_with_no_record_is_lost_and_an_open_queue_is_reported() -> None:
    snapshot = Snapshot(0, 1, [answer("0ce")], [failure("zz", "not hex")])

    tally = check(GOOD, snapshot)

    assert tally.lost == 1
    assert any("lost: 'ab'" in problem for problem in tally.problems)
    assert any("1 processing" in problem for problem in tally.problems)


def test_a_second_record_is_duplicated_and_a_record_of_nothing_pushed_is_invented() -> None:
    results = [answer("0ce"), answer("ab"), answer("ab"), answer("ff")]
    snapshot = Snapshot(0, 0, results, [failure("zz", "not hex")])

    tally = check(GOOD, snapshot)

    assert (tally.duplicated, tally.invented, tally.lost) == (1, 1, 0)


def test_an_answer_that_does_not_hash_to_its_prefix_is_wrong() -> None:
    forged = {**answer("0ce"), "input": "forged", "nonce": "forged"}
    snapshot = Snapshot(0, 0, [forged, answer("ab")], [failure("zz", "not hex")])

    tally = check(GOOD, snapshot)

    assert tally.wrong == 1
    assert "wrong answer for 0ce" in tally.problems[0]


def test_a_valid_item_failed_or_a_reason_that_misses_the_point_is_wrong() -> None:
    snapshot = Snapshot(0, 0, [answer("0ce")], [failure("ab", "oops"), failure("zz", "too long")])

    tally = check(GOOD, snapshot)

    assert tally.wrong == 2


def test_duplicates_of_one_prefix_answered_differently_are_reported() -> None:
    ledger = ledger_of(("0ce", plain("0ce")), ("0CE", plain("0ce")))
    other = {**answer("0ce"), "item": "0CE", "input": "x", "nonce": "x"}
    other["digest"] = hashlib.sha256(b"x").hexdigest()

    tally = check(ledger, Snapshot(0, 0, [answer("0ce"), other], []))

    assert tally.wrong == 1  # "x" does not hash to 0ce at all
    assert any("0ce" in problem for problem in tally.problems)


def test_records_of_long_items_match_whether_they_hold_the_item_whole_or_cut() -> None:
    long_item = "f" * 500
    ledger = ledger_of((long_item, Fail(("64",))), (long_item, Fail(("64",))))
    whole = failure(long_item, "prefix is 500 hex digits long, but a digest has only 64")
    cut = {**whole, "item": item_key(long_item)[0], "item_length": 500}

    tally = check(ledger, Snapshot(0, 0, [], [whole, cut]))

    assert tally.problems == []


def test_a_ballast_item_is_a_finite_space_of_about_the_size_asked() -> None:
    item, expectation = ballast(1_000_000, "test")

    space = Space(**{k: v for k, v in json.loads(item).items() if k != "prefix"})
    assert space.size is not None and 500_000 <= space.size <= 2_000_000
    assert expectation == Fail(("exhausted",))


def test_the_bad_input_corpus_holds_at_least_twenty_five_items() -> None:
    assert len(bad_items()) >= 25


def test_an_answer_whose_index_does_not_give_its_input_back_is_wrong() -> None:
    misplaced = {**answer("0ce"), "index": 0}

    tally = check(GOOD, Snapshot(0, 0, [misplaced, answer("ab")], [failure("zz", "not hex")]))

    assert tally.wrong == 1
    assert "index 0" in tally.problems[0]


def test_a_needle_is_a_valid_item_with_an_answer_planted_in_its_finite_space() -> None:
    item, expectation = needle(2_000, "test", random.Random(1))

    assert isinstance(expectation, Solve)
    assert json.loads(item)["prefix"] == expectation.prefix
    space = Space(**{k: v for k, v in json.loads(item).items() if k != "prefix"})
    assert space.size is not None and space.size <= 10_000
    digests = (hashlib.sha256(space.candidate(i).encode()).hexdigest() for i in range(space.size))
    assert any(digest.startswith(expectation.prefix) for digest in digests)
