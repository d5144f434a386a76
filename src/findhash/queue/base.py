"""What every queue backend offers the worker and the command line, and the types it speaks in.

A queue holds items in four places: pending (exactly as pushed), processing (being
searched), results (one record per solved item) and failed (one record per item
that cannot be solved). Work is leased by chunk: a range of candidate indices of
one space, checked against every prefix of that space that is open at lease time.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from findhash.engine.scanner import Hit
from findhash.errors import FindhashError
from findhash.space import Space

log = logging.getLogger(__name__)

DEFAULT_NAME = "job"
DEFAULT_LEASE_TTL_S = 30.0
# A chunk lost this many times (expired or handed back) is set aside as poison.
DEFAULT_MAX_ATTEMPTS = 5
# Pending items validated and activated per claim: enough to drain 20,000 items
# in a hundred claims, small enough that one claim never stalls the server.
DEFAULT_INTAKE_BATCH = 200
# Expired leases ended per claim: a fleet that died at once is taken back over
# a few claims rather than in one long step.
REAP_BATCH = 100
# Claims that only validate pending items before one of them finds a chunk; the
# bound keeps a queue of nothing but bad input from holding a worker forever.
MAX_INTAKE_ROUNDS = 64
# A worker whose last heartbeat is older than this many lease times is gone.
WORKER_STALE_LEASES = 3
# Redis receives an intake as one command's arguments; Lua's stack holds 8,000.
MAX_INTAKE_BATCH = 1000


class QueueUnavailable(FindhashError):
    """The queue's server or file could not be reached; the caller may retry later."""


@dataclass(frozen=True)
class Lease:
    """A chunk leased to one worker: scan `count` indices from `start` for `prefixes`."""

    token: str
    space: Space
    start: int
    count: int
    prefixes: tuple[str, ...]
    space_id: str = ""
    seq: int = 0
    attempt: int = 1
    worker_id: str = ""
    expires_at_ms: int = 0


@dataclass(frozen=True)
class SpaceView:
    """What a client last learnt of a space: its parameters and open prefixes at `version`.

    The version changes whenever a prefix of the space opens or closes, so a
    client that holds the current version need not fetch the prefixes again:
    with 10,000 open prefixes that saves most of a claim's cost.
    """

    space: Space
    version: int
    prefixes: tuple[str, ...]


@dataclass(frozen=True)
class QueueCounts:
    pending: int
    processing: int
    results: int
    failed: int

    @property
    def total(self) -> int:
        return self.pending + self.processing + self.results + self.failed


@dataclass(frozen=True)
class WorkerStatus:
    """A live worker as its last heartbeat described it."""

    worker_id: str
    hashes_per_second: float
    threads: int
    last_seen_ms: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_options(lease_ttl_s: float, max_attempts: int, intake_batch: int) -> None:
    """Refuse settings under which the queue could not keep its promises."""
    if lease_ttl_s < 0.001:
        raise ValueError(f"lease_ttl_s must be at least 0.001 s, got {lease_ttl_s}")
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
    if not 1 <= intake_batch <= MAX_INTAKE_BATCH:
        raise ValueError(f"intake_batch must be 1 to {MAX_INTAKE_BATCH}, got {intake_batch}")


def poison_warning(record: str | bytes, name: str) -> None:
    """Log a chunk set aside; shared so that both backends say it alike."""
    text = record.decode(errors="replace") if isinstance(record, bytes) else record
    log.warning(
        "Set aside a chunk that kept failing; it will not be leased again"
        " (its record is in %s:poison): %s",
        name,
        text,
    )


class Queue(abc.ABC):
    """The queue contract shared by the Redis and SQLite backends."""

    name: str
    lease_ttl_s: float

    @abc.abstractmethod
    def push(self, items: Iterable[str]) -> int:
        """Append raw items to pending exactly as given; return how many were pushed."""

    @abc.abstractmethod
    def claim(self, worker_id: str, max_count: int, now_ms: int | None = None) -> Lease | None:
        """Lease a chunk of at most `max_count` indices; None when there is nothing to lease now."""

    @abc.abstractmethod
    def renew(self, lease: Lease, now_ms: int | None = None) -> bool:
        """Extend a lease; False when it was lost or its space has nothing left to find."""

    @abc.abstractmethod
    def report(
        self, lease: Lease, hits: Mapping[str, Hit], hashed: int, now_ms: int | None = None
    ) -> bool:
        """Record hits and finish the chunk; False when the lease was stale (hits still count)."""

    @abc.abstractmethod
    def release(self, lease: Lease, now_ms: int | None = None) -> None:
        """Hand a chunk back at once, so that another worker can take it."""

    @abc.abstractmethod
    def is_complete(self) -> bool:
        """True when pending and processing are both empty."""

    @abc.abstractmethod
    def counts(self) -> QueueCounts: ...

    @abc.abstractmethod
    def results(self, start: int = 0) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def failed(self, start: int = 0) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def poison(self) -> list[dict[str, Any]]:
        """Records of the chunks set aside after too many lost attempts."""

    @abc.abstractmethod
    def items(self) -> list[str]:
        """Every raw item the queue holds, in any of its four places, duplicates included."""

    @abc.abstractmethod
    def heartbeat(
        self, worker_id: str, hashes_per_second: float, threads: int, now_ms: int | None = None
    ) -> None: ...

    @abc.abstractmethod
    def workers(self, now_ms: int | None = None) -> list[WorkerStatus]:
        """Workers whose last heartbeat is recent (within a few lease times)."""

    @abc.abstractmethod
    def stats(self) -> dict[str, Any]:
        """At least `hashes` (reported in all) and `open_prefix_lengths` (one per open prefix)."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def lease_ttl_ms(self) -> int:
        return int(self.lease_ttl_s * 1000)

    @property
    def worker_stale_ms(self) -> int:
        return int(self.lease_ttl_s * 1000 * WORKER_STALE_LEASES)
