"""Candidate spaces: the numbered strings a search tries, in shortest-first order.

Candidate i of a space is `message + nonce(i)`, where nonce(i) is the i-th string
over the alphabet counting in bijective base N: index 0 is the first
one-character string, index N the first two-character string, and so on. Every
string over the alphabet appears exactly once, shorter before longer, so ranges
of indices split cleanly between workers and any answer can be recomputed from
its index alone.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from typing import Any

from findhash.errors import InvalidSpace
from findhash.targets import digest_hex_length

DEFAULT_ALGORITHM = "sha256"
DEFAULT_ALPHABET = string.ascii_letters + string.digits

# Past this length a nonce index no longer fits any counter we would ever reach,
# so a larger maximum is a mistake, not a plan.
MAX_NONCE_LENGTH = 64
MAX_MESSAGE_BYTES = 1 << 20


@dataclass(frozen=True)
class Space:
    """The candidates for one set of search parameters."""

    algorithm: str = DEFAULT_ALGORITHM
    message: str = ""
    alphabet: str = DEFAULT_ALPHABET
    max_length: int | None = None
    _alphabet_index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.algorithm, str):
            raise InvalidSpace(f"algorithm must be a string, not {type(self.algorithm).__name__}")
        object.__setattr__(self, "algorithm", self.algorithm.strip().lower())
        digest_hex_length(self.algorithm)
        _check_message(self.message)
        _check_alphabet(self.alphabet)
        _check_max_length(self.max_length)
        index = {char: position for position, char in enumerate(self.alphabet)}
        object.__setattr__(self, "_alphabet_index", index)

    @property
    def message_bytes(self) -> bytes:
        return self.message.encode("utf-8")

    @property
    def base(self) -> int:
        return len(self.alphabet)

    @property
    def size(self) -> int | None:
        """Number of candidates, or None when the nonce length is unbounded."""
        if self.max_length is None:
            return None
        return first_index_of_length(self.base, self.max_length + 1)

    def nonce(self, index: int) -> str:
        """The nonce of candidate `index`."""
        if index < 0:
            raise IndexError(f"candidate index must be >= 0, got {index}")
        if self.size is not None and index >= self.size:
            raise IndexError(f"candidate index {index} is past the end of the space ({self.size})")
        length = 1
        offset, count = 0, self.base
        while index >= offset + count:
            offset += count
            count *= self.base
            length += 1
        value = index - offset
        chars = []
        for _ in range(length):
            value, digit = divmod(value, self.base)
            chars.append(self.alphabet[digit])
        return "".join(reversed(chars))

    def index_of(self, nonce: str) -> int:
        """The index of `nonce` in this space: the inverse of `nonce()`."""
        if not nonce:
            raise ValueError("the empty nonce is not a candidate: nonces have 1 or more characters")
        value = 0
        for char in nonce:
            digit = self._alphabet_index.get(char)
            if digit is None:
                raise ValueError(f"nonce {nonce!r} has {char!r}, which is not in the alphabet")
            value = value * self.base + digit
        index = first_index_of_length(self.base, len(nonce)) + value
        if self.size is not None and index >= self.size:
            raise ValueError(f"nonce {nonce!r} is longer than the maximum length {self.max_length}")
        return index

    def candidate(self, index: int) -> str:
        """The full input of candidate `index`: message followed by nonce."""
        return self.message + self.nonce(index)

    def to_dict(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "message": self.message,
            "alphabet": self.alphabet,
            "max_length": self.max_length,
        }

    @property
    def key(self) -> str:
        """A stable text identifying this space, for grouping items that share it."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))


def first_index_of_length(base: int, length: int) -> int:
    """Index of the first nonce with `length` characters: base + base**2 + ... up to length-1."""
    first: int = (base**length - base) // (base - 1)
    return first


def _check_message(message: object) -> None:
    if not isinstance(message, str):
        raise InvalidSpace(f"message must be a string, not {type(message).__name__}")
    try:
        encoded = message.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidSpace(f"message cannot be encoded as UTF-8: {error.reason}") from error
    if len(encoded) > MAX_MESSAGE_BYTES:
        raise InvalidSpace(f"message is longer than {MAX_MESSAGE_BYTES} bytes")


def _check_alphabet(alphabet: object) -> None:
    if not isinstance(alphabet, str):
        raise InvalidSpace(f"alphabet must be a string, not {type(alphabet).__name__}")
    if len(alphabet) < 2:
        raise InvalidSpace(f"alphabet needs at least 2 characters, got {len(alphabet)}")
    seen: set[str] = set()
    for char in alphabet:
        if not (" " <= char <= "~"):
            raise InvalidSpace(
                f"alphabet has U+{ord(char):04X}: only printable ASCII (space to ~) is allowed"
            )
        if char in seen:
            raise InvalidSpace(f"alphabet has {char!r} more than once")
        seen.add(char)


def _check_max_length(max_length: object) -> None:
    if max_length is None:
        return
    if isinstance(max_length, bool) or not isinstance(max_length, int):
        raise InvalidSpace(f"max_length must be an integer, not {type(max_length).__name__}")
    if not 1 <= max_length <= MAX_NONCE_LENGTH:
        raise InvalidSpace(f"max_length must be between 1 and {MAX_NONCE_LENGTH}, got {max_length}")
