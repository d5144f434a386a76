"""Scan ranges of a candidate space against a set of prefixes with the chosen kernel.

A Scanner is built once for a space and a set of prefixes (the native prefilter
is built then) and scans many ranges. Every hit is recomputed with hashlib before
it is returned; a hit that hashlib does not confirm sends the range to the Python
implementation, so a kernel defect can cost time but never a wrong answer.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from findhash.engine import kernels
from findhash.engine.reference import RawHit, scan_reference
from findhash.errors import FindhashError
from findhash.space import Space

log = logging.getLogger(__name__)

# The native kernel counts indices in 64 bits; ranges beyond that, which no
# search will reach in practice, are scanned by the Python implementation.
NATIVE_INDEX_LIMIT = 1 << 64


class KernelError(FindhashError):
    """A kernel reported a hit that hashlib does not confirm: a defect, never an answer."""


@dataclass(frozen=True)
class Hit:
    """A candidate whose digest starts with `prefix`."""

    prefix: str
    index: int
    nonce: str
    input: str
    digest: str
    algorithm: str


@dataclass(frozen=True)
class ScanResult:
    """What one scan of a range found: the first hit per prefix, and how many were hashed."""

    hits: dict[str, Hit]
    hashed: int


class Scanner:
    """Scans ranges of one space for one set of prefixes."""

    def __init__(self, space: Space, prefixes: Iterable[str], kernel: str | None = None) -> None:
        self.space = space
        self.prefixes = sorted(set(prefixes))
        self.kernel = kernels.choose_kernel(kernel, space.algorithm)
        self._alphabet = space.alphabet.encode("ascii")
        self._message = space.message_bytes
        self._native_targets = None
        if self.kernel != kernels.PYTHON and self.prefixes:
            assert kernels.native is not None
            self._native_targets = kernels.native.Targets(self.prefixes)

    def scan(self, start: int, count: int, stop_when_all_found: bool = False) -> ScanResult:
        """Hash candidates start .. start+count-1 (cut at the end of a finite space)."""
        count = self._within_space(start, count)
        if count == 0 or not self.prefixes:
            return ScanResult(hits={}, hashed=0)
        if self._native_targets is not None and start + count < NATIVE_INDEX_LIMIT:
            hashed, raw_hits = self._scan_native(start, count, stop_when_all_found)
        else:
            hashed, raw_hits = scan_reference(
                self.space, self.prefixes, start, count, stop_when_all_found
            )
        try:
            hits = self._verified_hits(raw_hits)
        except KernelError as error:
            log.error("%s; scanning the range again with the Python implementation.", error)
            hashed, raw_hits = scan_reference(
                self.space, self.prefixes, start, count, stop_when_all_found
            )
            hits = self._verified_hits(raw_hits)
        return ScanResult(hits=hits, hashed=hashed)

    def _verified_hits(self, raw_hits: list[RawHit]) -> dict[str, Hit]:
        return {
            prefix: self._verified_hit(prefix, index, digest) for prefix, index, digest in raw_hits
        }

    def _within_space(self, start: int, count: int) -> int:
        if start < 0 or count < 0:
            raise ValueError(f"range must not be negative: start={start}, count={count}")
        size = self.space.size
        if size is None:
            return count
        return max(0, min(count, size - start))

    def _scan_native(self, start: int, count: int, stop: bool) -> tuple[int, list[RawHit]]:
        assert kernels.native is not None
        hashed, found = kernels.native.scan(
            self.kernel, self._message, self._alphabet, start, count, self._native_targets, stop
        )
        raw_hits = [
            (self.prefixes[position], index, digest.hex()) for position, index, digest in found
        ]
        return hashed, raw_hits

    def _verified_hit(self, prefix: str, index: int, digest: str) -> Hit:
        nonce = self.space.nonce(index)
        candidate = self.space.message + nonce
        expected = hashlib.new(self.space.algorithm, candidate.encode("utf-8")).hexdigest()
        if expected != digest or not expected.startswith(prefix):
            raise KernelError(
                f"kernel {self.kernel} reported index {index} for prefix {prefix} with digest"
                f" {digest}, but hashlib gives {expected}"
            )
        return Hit(
            prefix=prefix,
            index=index,
            nonce=nonce,
            input=candidate,
            digest=expected,
            algorithm=self.space.algorithm,
        )
