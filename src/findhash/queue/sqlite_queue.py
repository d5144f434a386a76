"""The queue in one SQLite file: the embedded default, for workers on one machine.

Every state change is one `BEGIN IMMEDIATE` transaction, so several worker
processes can share the file: SQLite lets one writer in at a time and the others
wait (up to the busy timeout). WAL mode lets readers such as `findhash status`
look on without stopping the writers. The records are the same JSON text the
Redis queue writes, so the command line reads both alike.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from findhash.engine.scanner import Hit
from findhash.queue import items as records
from findhash.queue.base import (
    DEFAULT_INTAKE_BATCH,
    DEFAULT_LEASE_TTL_S,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_NAME,
    MAX_INTAKE_ROUNDS,
    REAP_BATCH,
    Lease,
    Queue,
    QueueCounts,
    QueueUnavailable,
    SpaceView,
    WorkerStatus,
    check_options,
    poison_warning,
)
from findhash.queue.sqlite_state import Chunk, State, Tables
from findhash.space import Space
from findhash.targets import DEFAULT_MAX_FEASIBLE_DIGITS

log = logging.getLogger(__name__)

# A writer waits this long for another process's transaction before giving up.
BUSY_TIMEOUT_S = 30.0
URL_SCHEME = "sqlite://"
# OperationalError messages that mean "try again later" rather than a defect.
_TRANSIENT = ("locked", "busy", "unable to open", "disk i/o", "disk is full")


def file_path(url_or_path: str) -> str:
    """The file of `sqlite:///abs/path`, `sqlite://rel/path` or a plain path."""
    if url_or_path.startswith(URL_SCHEME):
        return url_or_path[len(URL_SCHEME) :]
    return url_or_path


def _clock_ms() -> int:
    return int(time.time() * 1000)


@contextlib.contextmanager
def _unavailable_as_queue_error(path: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.OperationalError as error:
        if not any(word in str(error).lower() for word in _TRANSIENT):
            raise
        raise QueueUnavailable(f"SQLite queue {path} is unavailable: {error}") from error


class SqliteQueue(Queue):
    def __init__(
        self,
        path: str,
        name: str = DEFAULT_NAME,
        lease_ttl_s: float = DEFAULT_LEASE_TTL_S,
        max_feasible_digits: int | None = DEFAULT_MAX_FEASIBLE_DIGITS,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        intake_batch: int = DEFAULT_INTAKE_BATCH,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
    ) -> None:
        check_options(lease_ttl_s, max_attempts, intake_batch)
        self.name = name
        self.path = file_path(path)
        self.lease_ttl_s = lease_ttl_s
        self.max_feasible_digits = max_feasible_digits
        self.max_attempts = max_attempts
        self.intake_batch = intake_batch
        self.t = Tables(name)
        # One connection per queue object; the lock lets threads share it safely.
        self._lock = threading.Lock()
        self._spaces: dict[str, SpaceView] = {}
        with _unavailable_as_queue_error(self.path):
            self.db = sqlite3.connect(
                self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        with self._state(None) as state:
            for statement in self.t.schema().split(";"):
                if statement.strip():
                    state.db.execute(statement)
        log.info("Using SQLite queue %s in %s.", name, self.path)

    @contextlib.contextmanager
    def _state(self, now_ms: int | None) -> Iterator[State]:
        """One write transaction; everything in it happens or nothing does."""
        with self._lock, _unavailable_as_queue_error(self.path):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield State(self.db, self.t, _clock_ms() if now_ms is None else now_ms)
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent snapshot, writers not held up."""
        with self._lock, _unavailable_as_queue_error(self.path):
            self.db.execute("BEGIN")
            try:
                yield self.db
            finally:
                self.db.execute("COMMIT")

    def push(self, items: Iterable[str]) -> int:
        rows = [(item,) for item in items]
        with self._state(None) as state:
            state.db.executemany(f"INSERT INTO {self.t.pending} (item) VALUES (?)", rows)
        log.debug("Pushed %d items to %s.", len(rows), self.name)
        return len(rows)

    def claim(self, worker_id: str, max_count: int, now_ms: int | None = None) -> Lease | None:
        if max_count < 1:
            raise ValueError(f"max_count must be at least 1, got {max_count}")
        for _ in range(MAX_INTAKE_ROUNDS):
            with self._state(now_ms) as state:
                poisoned = state.reap_leases(self.max_attempts, REAP_BATCH)
                took = self._intake(state)
                chunk = state.next_returned(max_count) or state.next_new_chunk(max_count)
                lease = None if chunk is None else self._lease(state, chunk, worker_id)
                state.add_stat("claims", 1)
            for record in poisoned:
                poison_warning(record, self.name)
            if lease is not None or not took:
                return lease
        return None

    def _intake(self, state: State) -> int:
        """Judge and open a batch of pending items; how many were taken."""
        rows = state.db.execute(
            f"SELECT id, item FROM {self.t.pending} ORDER BY id LIMIT ?", (self.intake_batch,)
        ).fetchall()
        if not rows:
            return 0
        state.db.execute(f"DELETE FROM {self.t.pending} WHERE id <= ?", (rows[-1][0],))
        limit = self.max_feasible_digits
        outcomes = [state.admit(item, records.judge(item, limit)) for _, item in rows]
        failed = outcomes.count("failed")
        if failed:
            log.info("%d items cannot be searched; their reasons are in the failed list.", failed)
        return len(rows)

    def _lease(self, state: State, chunk: Chunk, worker_id: str) -> Lease:
        token = secrets.token_hex(12)
        expires_ms = state.now_ms + self.lease_ttl_ms
        state.lease(chunk, token, worker_id, expires_ms)
        view = self._view(state, chunk.sid)
        log.debug("Leased %d candidates from %d.", chunk.count, chunk.start)
        return Lease(
            token=token,
            space=view.space,
            start=chunk.start,
            count=chunk.count,
            prefixes=view.prefixes,
            space_id=chunk.sid,
            seq=chunk.seq,
            attempt=chunk.attempts + 1,
            worker_id=worker_id,
            expires_at_ms=expires_ms,
        )

    def _view(self, state: State, sid: str) -> SpaceView:
        """The space and its open prefixes, read again only when they changed."""
        version = int(state.space_field(sid, "version"))
        view = self._spaces.get(sid)
        if view is not None and view.version == version:
            return view
        space = view.space if view else Space(**json.loads(state.space_field(sid, "params")))
        rows = state.db.execute(
            f"SELECT prefix FROM {self.t.targets} WHERE sid = ? ORDER BY prefix", (sid,)
        ).fetchall()
        view = SpaceView(space, version, tuple(prefix for (prefix,) in rows))
        self._spaces[sid] = view
        return view

    def renew(self, lease: Lease, now_ms: int | None = None) -> bool:
        with self._state(now_ms) as state:
            chunk = state.chunk_by_token(lease.token)
            if chunk is None:
                return False
            if not state.has_targets(chunk.sid):
                state.forget_chunk(chunk)
                return False
            state.db.execute(
                f"UPDATE {self.t.chunks} SET expires_ms = ? WHERE id = ?",
                (state.now_ms + self.lease_ttl_ms, chunk.id),
            )
            return True

    def report(
        self, lease: Lease, hits: Mapping[str, Hit], hashed: int, now_ms: int | None = None
    ) -> bool:
        offered = records.offered_hits(lease.space, lease.start, hits)
        with self._state(now_ms) as state:
            chunk = state.chunk_by_token(lease.token)
            if chunk is not None and chunk.sid != lease.space_id:
                raise ValueError(f"lease {lease.token} is for space {chunk.sid}")
            sid = lease.space_id
            solved = 0
            for hit in offered:
                solved += state.solve_target(sid, hit["prefix"], hit["body"], hit["offset"])
            state.add_big_stat("hashes", hashed)
            if chunk is not None:
                state.forget_chunk(chunk)
                total = int(state.space_field(sid, "hashed")) + hashed
                state.db.execute(
                    f"UPDATE {self.t.spaces} SET hashed = ? WHERE sid = ?", (str(total), sid)
                )
                state.add_stat("reports", 1)
                if state.space_field(sid, "size"):
                    state.close_cohorts(sid)
        if solved:
            log.info("Recorded answers for %d items.", solved)
        return chunk is not None

    def release(self, lease: Lease, now_ms: int | None = None) -> None:
        with self._state(now_ms) as state:
            chunk = state.chunk_by_token(lease.token)
            record = None if chunk is None else state.lose_chunk(chunk, self.max_attempts)
        if record is not None:
            poison_warning(record, self.name)

    def is_complete(self) -> bool:
        counts = self.counts()
        return counts.pending == 0 and counts.processing == 0

    def counts(self) -> QueueCounts:
        with self._reading() as db:
            lengths = [
                int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
                for table in (self.t.pending, self.t.processing, self.t.results, self.t.failed)
            ]
        return QueueCounts(*lengths)

    def _records(self, table: str, start: int) -> list[dict[str, Any]]:
        with self._reading() as db:
            rows = db.execute(
                f"SELECT record FROM {table} ORDER BY id LIMIT -1 OFFSET ?", (start,)
            ).fetchall()
        return [records.load(text) for (text,) in rows]

    def results(self, start: int = 0) -> list[dict[str, Any]]:
        return self._records(self.t.results, start)

    def failed(self, start: int = 0) -> list[dict[str, Any]]:
        return self._records(self.t.failed, start)

    def poison(self) -> list[dict[str, Any]]:
        return self._records(self.t.poison, 0)

    def items(self) -> list[str]:
        tables = (self.t.pending, self.t.processing, self.t.results, self.t.failed)
        with self._reading() as db:
            return [
                item
                for table in tables
                for (item,) in db.execute(f"SELECT item FROM {table} ORDER BY id").fetchall()
            ]

    def heartbeat(
        self, worker_id: str, hashes_per_second: float, threads: int, now_ms: int | None = None
    ) -> None:
        with self._state(now_ms) as state:
            state.db.execute(
                f"INSERT OR REPLACE INTO {self.t.workers} VALUES (?, ?, ?, ?)",
                (worker_id, hashes_per_second, threads, state.now_ms),
            )
            state.db.execute(
                f"DELETE FROM {self.t.workers} WHERE last_seen_ms < ?",
                (state.now_ms - self.worker_stale_ms,),
            )

    def workers(self, now_ms: int | None = None) -> list[WorkerStatus]:
        cutoff = (_clock_ms() if now_ms is None else now_ms) - self.worker_stale_ms
        with self._reading() as db:
            rows = db.execute(
                f"SELECT id, hashes_per_second, threads, last_seen_ms FROM {self.t.workers}"
                " WHERE last_seen_ms >= ? ORDER BY id",
                (cutoff,),
            ).fetchall()
        return [WorkerStatus(*row) for row in rows]

    def stats(self) -> dict[str, Any]:
        with self._reading() as db:
            counters = dict(db.execute(f"SELECT name, value FROM {self.t.stats}").fetchall())
            spaces = db.execute(
                f"SELECT sid, hashed, cursor FROM {self.t.spaces} WHERE turn IS NOT NULL"
                " ORDER BY turn"
            ).fetchall()
            lengths = {
                sid: [length for (length,) in db.execute(
                    f"SELECT length(prefix) FROM {self.t.targets} WHERE sid = ?", (sid,)
                ).fetchall()]
                for sid, _, _ in spaces
            }  # fmt: skip
            leases, returned = db.execute(
                f"SELECT COUNT(token), COUNT(*) - COUNT(token) FROM {self.t.chunks}"
            ).fetchone()
        return {
            "hashes": int(counters.get("hashes", 0)),
            "claims": int(counters.get("claims", 0)),
            "reports": int(counters.get("reports", 0)),
            "poisoned": int(counters.get("poisoned", 0)),
            "leases": int(leases),
            "returned": int(returned),
            "open_prefix_lengths": [n for sid, _, _ in spaces for n in lengths[sid]],
            "spaces": [
                {
                    "space_id": sid,
                    "open": len(lengths[sid]),
                    "lengths": sorted(lengths[sid]),
                    "hashed": int(hashed),
                    "cursor": int(cursor),
                }
                for sid, hashed, cursor in spaces
            ],
        }

    def close(self) -> None:
        with self._lock:
            self.db.close()
