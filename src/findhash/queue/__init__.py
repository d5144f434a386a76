"""The work queue: pending items, leased chunks, results; on Redis or on an SQLite file."""

from __future__ import annotations

from findhash.queue.base import (
    DEFAULT_INTAKE_BATCH,
    DEFAULT_LEASE_TTL_S,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_NAME,
    Lease,
    Queue,
    QueueCounts,
    QueueUnavailable,
    WorkerStatus,
)
from findhash.targets import DEFAULT_MAX_FEASIBLE_DIGITS

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")

__all__ = [
    "Lease",
    "Queue",
    "QueueCounts",
    "QueueUnavailable",
    "WorkerStatus",
    "connect",
]


def connect(
    url_or_path: str,
    name: str = DEFAULT_NAME,
    lease_ttl_s: float = DEFAULT_LEASE_TTL_S,
    max_feasible_digits: int | None = DEFAULT_MAX_FEASIBLE_DIGITS,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    intake_batch: int = DEFAULT_INTAKE_BATCH,
) -> Queue:
    """Open the queue at a Redis URL, or else in an SQLite file (a path or sqlite:///path).

    `lease_ttl_s` is how long a chunk stays a worker's without a renewal; a chunk
    lost `max_attempts` times is set aside as poison; each claim validates at most
    `intake_batch` pending items; prefixes longer than `max_feasible_digits` fail.
    """
    options = {"max_attempts": max_attempts, "intake_batch": intake_batch}
    if url_or_path.startswith(REDIS_SCHEMES):
        from findhash.queue.redis_queue import RedisQueue

        return RedisQueue(url_or_path, name, lease_ttl_s, max_feasible_digits, **options)
    from findhash.queue.sqlite_queue import SqliteQueue

    return SqliteQueue(url_or_path, name, lease_ttl_s, max_feasible_digits, **options)
