"""What must hold after every run: each item pushed is accounted for exactly once, and rightly.

The oracle knows, for every item the harness pushed, what must become of it:
either one record in results whose answer checks out with hashlib, or one record
in failed whose reason names the problem. It matches records to items by the raw
item they carry, so an item that is lost, recorded twice, or recorded without
ever being pushed is counted as such, item by item.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from findhash.queue.items import ITEM_EXCERPT_CHARS
from findhash.space import DEFAULT_ALGORITHM, DEFAULT_ALPHABET, Space

RawItem = str | bytes
ItemKey = tuple[str, int | None]


@dataclass(frozen=True)
class Solve:
    """The item is valid: it must be solved for `prefix` in the space these fields describe."""

    prefix: str
    algorithm: str = DEFAULT_ALGORITHM
    message: str = ""
    alphabet: str = DEFAULT_ALPHABET
    max_length: int | None = None


@dataclass(frozen=True)
class Fail:
    """The item cannot be solved: its failed record's reason must contain each of `words`."""

    words: tuple[str, ...]


Expectation = Solve | Fail


def plain(prefix: str) -> Solve:
    """What a plain hex prefix item must be solved as: stripped and lower-cased."""
    return Solve(prefix.strip().lower())


def item_key(raw: RawItem) -> ItemKey:
    """The item as its record names it: cut to a bounded excerpt, with its length when cut."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    if len(text) <= ITEM_EXCERPT_CHARS:
        return text, None
    return text[:ITEM_EXCERPT_CHARS] + "...", len(text)


def record_key(record: dict[str, Any]) -> ItemKey:
    """The item a record names; records may carry the whole item or a cut one with its length."""
    length = record.get("item_length")
    if length is None:
        return item_key(str(record.get("item")))
    return str(record.get("item")), int(length)


@dataclass
class Ledger:
    """Every item the harness pushed, in order, with what must become of it."""

    entries: list[tuple[RawItem, Expectation]] = field(default_factory=list)

    def add(self, entries: Iterable[tuple[RawItem, Expectation]]) -> None:
        self.entries.extend(entries)

    def __len__(self) -> int:
        return len(self.entries)


@dataclass
class Snapshot:
    """The queue as the harness read it at the end of a run."""

    pending: int
    processing: int
    results: list[dict[str, Any]]
    failed: list[dict[str, Any]]


@dataclass
class Tally:
    """The oracle's counts, and a sentence for every violation it saw."""

    items: int = 0
    records: int = 0
    results: int = 0
    failed: int = 0
    lost: int = 0
    duplicated: int = 0
    invented: int = 0
    wrong: int = 0
    problems: list[str] = field(default_factory=list)


def check(ledger: Ledger, snapshot: Snapshot) -> Tally:
    """Compare what was pushed with what the queue holds; return the counts and the problems."""
    tally = Tally(
        items=len(ledger),
        records=len(snapshot.results) + len(snapshot.failed),
        results=len(snapshot.results),
        failed=len(snapshot.failed),
    )
    if snapshot.pending or snapshot.processing:
        tally.problems.append(
            f"queue not empty at the end: {snapshot.pending} pending,"
            f" {snapshot.processing} processing"
        )
    expected = {item_key(raw): expectation for raw, expectation in ledger.entries}
    _count_items(tally, ledger, snapshot)
    answers: dict[Solve, set[str]] = defaultdict(set)
    for record in snapshot.results:
        expectation = expected.get(record_key(record))
        problem = _judge_result(record, expectation)
        if problem is None and isinstance(expectation, Solve):
            answers[expectation].add(str(record.get("input")))
        _note_wrong(tally, problem)
    for record in snapshot.failed:
        _note_wrong(tally, _judge_failure(record, expected.get(record_key(record))))
    for solve, inputs in answers.items():
        if len(inputs) > 1:
            tally.problems.append(f"duplicates of {solve} answered differently: {sorted(inputs)}")
    return tally


def _count_items(tally: Tally, ledger: Ledger, snapshot: Snapshot) -> None:
    pushed = Counter(item_key(raw) for raw, _ in ledger.entries)
    recorded = Counter(record_key(r) for r in [*snapshot.results, *snapshot.failed])
    for key, count in (pushed - recorded).items():
        tally.lost += count
        tally.problems.append(
            f"lost: {_show(key)} pushed {pushed[key]}x, recorded {recorded[key]}x"
        )
    for key, count in (recorded - pushed).items():
        if key in pushed:
            tally.duplicated += count
            tally.problems.append(
                f"duplicated: {_show(key)} pushed {pushed[key]}x, recorded {recorded[key]}x"
            )
        else:
            tally.invented += count
            tally.problems.append(f"invented: a record for {_show(key)}, which was never pushed")


def _note_wrong(tally: Tally, problem: str | None) -> None:
    if problem is not None:
        tally.wrong += 1
        tally.problems.append(problem)


def _judge_result(record: dict[str, Any], expectation: Expectation | None) -> str | None:
    """None when the result record is a true answer to what its item asked; else why not."""
    if expectation is None:
        return None  # counted as invented
    if isinstance(expectation, Fail):
        return f"solved an item that should have failed ({expectation.words}): {record}"
    return verify_answer(record, expectation)


def verify_answer(record: dict[str, Any], solve: Solve) -> str | None:
    """Recompute the record's answer with hashlib; None when it is right for `solve`."""
    text, algorithm = record.get("input"), record.get("algorithm")
    if (
        not isinstance(text, str)
        or algorithm != solve.algorithm
        or record.get("prefix") != (solve.prefix)
    ):
        return f"result does not match its item {solve}: {record}"
    digest = hashlib.new(solve.algorithm, text.encode("utf-8")).hexdigest()
    if digest != record.get("digest") or not digest.startswith(solve.prefix):
        return f"wrong answer for {solve.prefix}: {algorithm}({text!r}) is {digest}: {record}"
    nonce = text[len(solve.message) :]
    if not text.startswith(solve.message) or not nonce:
        return f"answer {text!r} does not start with the message {solve.message!r}"
    if "nonce" in record and record["nonce"] != nonce:
        return f"nonce {record['nonce']!r} is not the input less the message ({nonce!r})"
    if any(char not in solve.alphabet for char in nonce):
        return f"nonce {nonce!r} has characters outside the alphabet {solve.alphabet!r}"
    if solve.max_length is not None and len(nonce) > solve.max_length:
        return f"nonce {nonce!r} is longer than the maximum length {solve.max_length}"
    if "index" in record and _candidate(solve, int(record["index"])) != text:
        return f"index {record['index']} does not give the input {text!r} back"
    return None


def _candidate(solve: Solve, index: int) -> str | None:
    space = Space(solve.algorithm, solve.message, solve.alphabet, solve.max_length)
    try:
        return space.candidate(index)
    except IndexError:
        return None


def _judge_failure(record: dict[str, Any], expectation: Expectation | None) -> str | None:
    if expectation is None:
        return None  # counted as invented
    reason = str(record.get("reason", ""))
    if isinstance(expectation, Solve):
        return f"valid item {expectation} failed: {reason!r}"
    missing = [word for word in expectation.words if word.lower() not in reason.lower()]
    if missing:
        return f"failure reason {reason!r} for {_show(record_key(record))} lacks {missing}"
    return None


def _show(key: ItemKey) -> str:
    text, length = key
    shown = repr(text if len(text) <= 60 else text[:60] + "...")
    return shown if length is None else f"{shown} ({length} characters)"
