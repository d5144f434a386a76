"""Hex prefixes to search for: parsing, validation and the feasibility cap."""

from __future__ import annotations

import hashlib
import string

from findhash.difficulty import expected_tries
from findhash.errors import InfeasibleTarget, InvalidSpace, InvalidTarget

# Sixteen hex digits is 2**64 tries on average: months for a large fleet, so a
# longer prefix is far more likely a mistake than a plan.
DEFAULT_MAX_FEASIBLE_DIGITS = 16

_HEX_DIGITS = frozenset(string.hexdigits)


def digest_hex_length(algorithm: str) -> int:
    """Number of hex digits in a digest of `algorithm`, checked against hashlib."""
    try:
        hasher = hashlib.new(algorithm)
    except (ValueError, TypeError) as error:
        raise InvalidSpace(f"unknown hash algorithm {algorithm!r}") from error
    if hasher.digest_size == 0:
        # shake_128 and shake_256 have no fixed digest size.
        raise InvalidSpace(f"hash algorithm {algorithm!r} has no fixed digest length")
    return hasher.digest_size * 2


def parse_prefix(
    text: object,
    algorithm: str = "sha256",
    max_feasible_digits: int | None = DEFAULT_MAX_FEASIBLE_DIGITS,
) -> str:
    """Return `text` as a lower-case hex prefix, or raise an error that names the problem.

    Surrounding whitespace is ignored. A prefix longer than `max_feasible_digits`
    is refused as infeasible; pass None to lift the cap.
    """
    if not isinstance(text, str):
        raise InvalidTarget(f"prefix must be a string of hex digits, not {type(text).__name__}")
    prefix = text.strip()
    if not prefix:
        raise InvalidTarget("prefix is empty: give 1 or more hex digits (0-9, a-f)")
    for position, char in enumerate(prefix, start=1):
        if char not in _HEX_DIGITS:
            raise InvalidTarget(
                f"prefix {_shorten(prefix)!r} has {_describe(char)} at position {position}:"
                " only hex digits 0-9 and a-f are allowed"
            )
    limit = digest_hex_length(algorithm)
    if len(prefix) > limit:
        raise InvalidTarget(
            f"prefix is {len(prefix)} hex digits long, but a {algorithm} digest has only {limit}"
        )
    if max_feasible_digits is not None and len(prefix) > max_feasible_digits:
        raise InfeasibleTarget(
            f"prefix of {len(prefix)} hex digits needs {expected_tries(len(prefix)):.3g} tries"
            f" on average; the feasibility cap is {max_feasible_digits} digits"
        )
    return prefix.lower()


def _describe(char: str) -> str:
    if char.isprintable() and not char.isspace():
        return f"the character {char!r}"
    return f"the character U+{ord(char):04X}"


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
