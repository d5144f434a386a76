"""The scan in plain Python over hashlib: the oracle for tests and the fallback kernel.

It works for every algorithm hashlib offers. It is written for clarity first:
the native kernel is where speed lives.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator, Sequence

from findhash.space import Space

# Past about a block, copying a hashed message beats hashing it again per candidate.
MIDSTATE_MIN_BYTES = 128

RawHit = tuple[str, int, str]
"""A prefix, the candidate index that matched it, and the candidate's hex digest."""


def scan_reference(
    space: Space,
    prefixes: Sequence[str],
    start: int,
    count: int,
    stop_when_all_found: bool = False,
) -> tuple[int, list[RawHit]]:
    """Hash candidates start .. start+count-1 and return (hashed, first hit per prefix)."""
    lengths_to_prefixes: dict[int, set[str]] = {}
    for prefix in prefixes:
        lengths_to_prefixes.setdefault(len(prefix), set()).add(prefix)
    lengths = sorted(lengths_to_prefixes)
    unfound = set(prefixes)
    hits: list[RawHit] = []
    digest_of = _hasher(space)
    hashed = 0
    nonces = iterate_nonces(space, start)
    for index, nonce in zip(range(start, start + count), nonces, strict=False):
        digest = digest_of(nonce)
        hashed += 1
        for length in lengths:
            head = digest[:length]
            if head in lengths_to_prefixes[length] and head in unfound:
                unfound.discard(head)
                hits.append((head, index, digest))
        if stop_when_all_found and not unfound:
            break
    return hashed, hits


def _hasher(space: Space) -> Callable[[bytes], str]:
    """A function from nonce to hex digest of `message + nonce`.

    A long message is hashed once and its state copied per candidate; a short one
    is cheaper to prepend, with the named constructors (hashlib.sha256), which are
    much faster to call than hashlib.new.
    """
    message = space.message_bytes
    if len(message) >= MIDSTATE_MIN_BYTES:
        midstate = hashlib.new(space.algorithm, message)

        def from_midstate(nonce: bytes) -> str:
            hasher = midstate.copy()
            hasher.update(nonce)
            return hasher.hexdigest()

        return from_midstate
    new_hasher = getattr(hashlib, space.algorithm, None) or functools.partial(
        hashlib.new, space.algorithm
    )
    return lambda nonce: new_hasher(message + nonce).hexdigest()


def iterate_nonces(space: Space, start: int) -> Iterator[bytes]:
    """The nonces from index `start` on, as bytes.

    All but the last character form a stem advanced like an odometer; the last
    character runs through the alphabet in an inner loop, which keeps the
    per-candidate work to one concatenation.
    """
    last_chars = [bytes([code]) for code in space.alphabet.encode("ascii")]
    base = len(last_chars)
    digits = [space.alphabet.index(char) for char in space.nonce(start)]
    first_last_digit = digits.pop()
    while True:
        stem = b"".join(last_chars[digit] for digit in digits)
        for char in last_chars[first_last_digit:]:
            yield stem + char
        first_last_digit = 0
        _advance(digits, base)


def _advance(digits: list[int], base: int) -> None:
    """Add one to a number written in `digits`, growing it by a digit when all roll over."""
    position = len(digits) - 1
    while position >= 0 and digits[position] == base - 1:
        digits[position] = 0
        position -= 1
    if position < 0:
        digits.insert(0, 0)
    else:
        digits[position] += 1
