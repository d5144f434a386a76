"""The library API: find answers for prefixes in this process, on every core.

    >>> import findhash
    >>> findhash.find("0ce").input
    'a9s'

Answers are deterministic: each is the first candidate of the space, in index
order, whose digest starts with the prefix, whatever the number of threads.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from findhash.cpus import usable_cpus
from findhash.engine import Hit, Scanner
from findhash.errors import SpaceExhausted
from findhash.space import DEFAULT_ALGORITHM, DEFAULT_ALPHABET, Space
from findhash.targets import DEFAULT_MAX_FEASIBLE_DIGITS, parse_prefix

# Chunks start small so that easy prefixes come back at once, then grow until
# one takes about this long, so that thread start-up and merging stay negligible.
FIRST_CHUNK = 1 << 12
CHUNK_TARGET_S = 0.25


@dataclass(frozen=True)
class Answer:
    """A string whose digest starts with `prefix`, and how it was found."""

    prefix: str
    input: str
    nonce: str
    digest: str
    algorithm: str
    index: int
    tries: int


def find(
    prefix: str,
    *,
    algorithm: str = DEFAULT_ALGORITHM,
    message: str = "",
    alphabet: str = DEFAULT_ALPHABET,
    max_length: int | None = None,
    kernel: str | None = None,
    threads: int | None = None,
    max_feasible_digits: int | None = DEFAULT_MAX_FEASIBLE_DIGITS,
) -> Answer:
    """Find the first string `message + nonce` whose digest starts with `prefix`."""
    space = Space(algorithm, message, alphabet, max_length)
    return find_many([prefix], space, kernel, threads, max_feasible_digits)[0]


def find_many(
    prefixes: Iterable[str],
    space: Space | None = None,
    kernel: str | None = None,
    threads: int | None = None,
    max_feasible_digits: int | None = DEFAULT_MAX_FEASIBLE_DIGITS,
) -> list[Answer]:
    """Answers for many prefixes at once, in the order given; one scan serves them all.

    Raises InvalidTarget or InfeasibleTarget before any work for a bad prefix, and
    SpaceExhausted when a finite space holds no answer for some prefix.
    """
    space = space or Space()
    wanted = [parse_prefix(p, space.algorithm, max_feasible_digits) for p in prefixes]
    search = _Search(space, kernel, threads or usable_cpus())
    found = search.run(set(wanted))
    return [found[prefix] for prefix in wanted]


class _Search:
    """Scans consecutive ranges on a pool of threads until every prefix has an answer."""

    def __init__(self, space: Space, kernel: str | None, threads: int) -> None:
        self.space = space
        self.kernel = kernel
        self.threads = max(1, threads)
        self.chunk = FIRST_CHUNK

    def run(self, unfound: set[str]) -> dict[str, Answer]:
        found: dict[str, Answer] = {}
        cursor = 0
        with ThreadPoolExecutor(max_workers=self.threads) as pool:
            while unfound:
                if self.space.size is not None and cursor >= self.space.size:
                    raise SpaceExhausted(_exhausted_message(self.space, sorted(unfound)))
                scanner = Scanner(self.space, unfound, self.kernel)
                started = time.perf_counter()
                hits = self._scan_round(pool, scanner, cursor)
                cursor += self.threads * self.chunk
                self._adapt_chunk(time.perf_counter() - started)
                for prefix, hit in hits.items():
                    found[prefix] = _answer(hit)
                    unfound.discard(prefix)
        return found

    def _scan_round(
        self, pool: ThreadPoolExecutor, scanner: Scanner, cursor: int
    ) -> dict[str, Hit]:
        """One chunk per thread, side by side; earlier chunks win so answers are deterministic."""
        starts = [cursor + n * self.chunk for n in range(self.threads)]
        results = pool.map(lambda start: scanner.scan(start, self.chunk), starts)
        merged: dict[str, Hit] = {}
        for result in results:
            for prefix, hit in result.hits.items():
                merged.setdefault(prefix, hit)
        return merged

    def _adapt_chunk(self, elapsed_s: float) -> None:
        if elapsed_s < CHUNK_TARGET_S / 2:
            self.chunk *= 2


def _answer(hit: Hit) -> Answer:
    return Answer(
        prefix=hit.prefix,
        input=hit.input,
        nonce=hit.nonce,
        digest=hit.digest,
        algorithm=hit.algorithm,
        index=hit.index,
        tries=hit.index + 1,
    )


def _exhausted_message(space: Space, prefixes: Sequence[str]) -> str:
    shown = ", ".join(prefixes[:5]) + (" ..." if len(prefixes) > 5 else "")
    return (
        f"no candidate of up to {space.max_length} characters has a {space.algorithm} digest"
        f" starting with {shown} ({space.size} candidates tried)"
    )
