"""The SQLite queue's tables, and its state changes as steps inside one write transaction.

The steps mirror the Redis scripts (lua/*.lua) one for one, so that both backends
pass the same conformance suite: open prefixes ("targets") per space, chunks cut
from a cursor, handed back and set aside, and cohorts that decide when a finite
space has been searched through for a prefix. Big numbers (indices, counters)
are stored as decimal text, since SQLite integers stop at 2**63.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from findhash.queue import items as records

_TABLES = (
    ("pending", ""),
    ("processing", ":processing"),
    ("results", ":results"),
    ("failed", ":failed"),
    ("poison", ":poison"),
    ("spaces", ":spaces"),
    ("targets", ":targets"),
    ("finished", ":finished"),
    ("chunks", ":chunks"),
    ("cohorts", ":cohorts"),
    ("workers", ":workers"),
    ("stats", ":stats"),
)

# {name} stands for each table's quoted name. Items are kept whole in every
# table, so that `items()` can tell exactly what the file holds.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS {pending} (id INTEGER PRIMARY KEY AUTOINCREMENT, item TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {processing} (
    id INTEGER PRIMARY KEY AUTOINCREMENT, item TEXT NOT NULL,
    sid TEXT NOT NULL, prefix TEXT NOT NULL, stub TEXT NOT NULL, h0 TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS {processing_by_target} ON {processing_bare} (sid, prefix);
CREATE TABLE IF NOT EXISTS {results} (
    id INTEGER PRIMARY KEY AUTOINCREMENT, item TEXT NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {failed} (
    id INTEGER PRIMARY KEY AUTOINCREMENT, item TEXT NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {poison} (id INTEGER PRIMARY KEY AUTOINCREMENT, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {spaces} (
    sid TEXT PRIMARY KEY, params TEXT NOT NULL, size TEXT NOT NULL, cursor TEXT NOT NULL,
    cut TEXT NOT NULL, seq INTEGER NOT NULL, hashed TEXT NOT NULL, version INTEGER NOT NULL,
    turn INTEGER);
CREATE TABLE IF NOT EXISTS {targets} (
    sid TEXT NOT NULL, prefix TEXT NOT NULL, cohort INTEGER, PRIMARY KEY (sid, prefix));
CREATE TABLE IF NOT EXISTS {finished} (
    sid TEXT NOT NULL, prefix TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL,
    PRIMARY KEY (sid, prefix));
CREATE TABLE IF NOT EXISTS {chunks} (
    id INTEGER PRIMARY KEY AUTOINCREMENT, sid TEXT NOT NULL, seq INTEGER NOT NULL,
    start TEXT NOT NULL, count INTEGER NOT NULL, attempts INTEGER NOT NULL, worker TEXT,
    token TEXT UNIQUE, expires_ms INTEGER);
CREATE INDEX IF NOT EXISTS {chunks_by_seq} ON {chunks_bare} (sid, seq);
CREATE INDEX IF NOT EXISTS {chunks_by_expiry} ON {chunks_bare} (expires_ms);
CREATE TABLE IF NOT EXISTS {cohorts} (
    sid TEXT NOT NULL, seq INTEGER NOT NULL, due TEXT NOT NULL, last INTEGER,
    poisoned INTEGER NOT NULL, PRIMARY KEY (sid, seq));
CREATE TABLE IF NOT EXISTS {workers} (
    id TEXT PRIMARY KEY, hashes_per_second REAL NOT NULL, threads INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS {stats} (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class Tables:
    """The quoted table names of one queue: the queue's name and the Redis key suffixes."""

    def __init__(self, name: str) -> None:
        for attribute, suffix in _TABLES:
            setattr(self, attribute, _quote(name + suffix))
        self.name = name

    pending: str
    processing: str
    results: str
    failed: str
    poison: str
    spaces: str
    targets: str
    finished: str
    chunks: str
    cohorts: str
    workers: str
    stats: str

    def schema(self) -> str:
        names = {attribute: getattr(self, attribute) for attribute, _ in _TABLES}
        return _SCHEMA.format(
            processing_by_target=_quote(self.name + ":processing:by-target"),
            processing_bare=self.processing,
            chunks_by_seq=_quote(self.name + ":chunks:by-seq"),
            chunks_by_expiry=_quote(self.name + ":chunks:by-expiry"),
            chunks_bare=self.chunks,
            **names,
        )


@dataclass
class Chunk:
    id: int
    sid: str
    seq: int
    start: int
    count: int
    attempts: int
    worker: str | None


_CHUNK_COLUMNS = "id, sid, seq, start, count, attempts, worker"


def _chunk(row: tuple[int, str, int, str, int, int, str | None]) -> Chunk:
    chunk_id, sid, seq, start, count, attempts, worker = row
    return Chunk(chunk_id, sid, seq, int(start), count, attempts, worker)


class State:
    """The queue's tables through one connection, inside a write transaction at `now_ms`."""

    def __init__(self, db: sqlite3.Connection, tables: Tables, now_ms: int) -> None:
        self.db = db
        self.t = tables
        self.now_ms = now_ms

    def one(self, sql: str, *args: object) -> tuple[object, ...] | None:
        row: tuple[object, ...] | None = self.db.execute(sql, args).fetchone()
        return row

    def add_stat(self, name: str, amount: int) -> None:
        self.db.execute(
            f"INSERT INTO {self.t.stats} (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + ? AS TEXT)",
            (name, str(amount), amount),
        )

    def add_big_stat(self, name: str, amount: int) -> None:
        """Like add_stat, for counters that may pass 2**63 (hashes)."""
        row = self.one(f"SELECT value FROM {self.t.stats} WHERE name = ?", name)
        total = int(str(row[0])) + amount if row else amount
        self.db.execute(
            f"INSERT OR REPLACE INTO {self.t.stats} (name, value) VALUES (?, ?)", (name, str(total))
        )

    # Targets and the records that end them.

    def has_targets(self, sid: str) -> bool:
        return self.one(f"SELECT 1 FROM {self.t.targets} WHERE sid = ? LIMIT 1", sid) is not None

    def is_target(self, sid: str, prefix: str) -> bool:
        sql = f"SELECT 1 FROM {self.t.targets} WHERE sid = ? AND prefix = ?"
        return self.one(sql, sid, prefix) is not None

    def space_field(self, sid: str, column: str) -> str:
        row = self.one(f"SELECT {column} FROM {self.t.spaces} WHERE sid = ?", sid)
        assert row is not None, f"space {sid} has no row"
        return str(row[0])

    def retire_space(self, sid: str) -> None:
        """Take a space with no open prefix out of the rotation; its cursor stays."""
        self.db.execute(f"UPDATE {self.t.spaces} SET turn = NULL WHERE sid = ?", (sid,))
        self.db.execute(f"DELETE FROM {self.t.cohorts} WHERE sid = ?", (sid,))

    def drop_target(self, sid: str, prefix: str) -> None:
        self.db.execute(f"DELETE FROM {self.t.targets} WHERE sid = ? AND prefix = ?", (sid, prefix))
        self.db.execute(f"UPDATE {self.t.spaces} SET version = version + 1 WHERE sid = ?", (sid,))
        if not self.has_targets(sid):
            self.retire_space(sid)

    def _waiting(self, sid: str, prefix: str) -> list[tuple[int, str, str, str]]:
        rows: list[tuple[int, str, str, str]] = self.db.execute(
            f"SELECT id, item, stub, h0 FROM {self.t.processing}"
            " WHERE sid = ? AND prefix = ? ORDER BY id",
            (sid, prefix),
        ).fetchall()
        self.db.execute(
            f"DELETE FROM {self.t.processing} WHERE sid = ? AND prefix = ?", (sid, prefix)
        )
        return rows

    def solve_target(self, sid: str, prefix: str, body: str, offset: int) -> int:
        """Write one result per waiting item; `tries` is estimated as in lua/_targets.lua."""
        if not self.is_target(sid, prefix):
            return 0
        hashed = int(self.space_field(sid, "hashed"))
        waiting = self._waiting(sid, prefix)
        for _, item, _, h0 in waiting:
            fields = {"item": item, "tries": hashed - int(h0) + offset, "solved_at": self.now_ms}
            self.add_record(self.t.results, item, records.splice(body, fields))
        self.db.execute(
            f"INSERT OR REPLACE INTO {self.t.finished} VALUES (?, ?, 'solved', ?)",
            (sid, prefix, body),
        )
        self.drop_target(sid, prefix)
        return len(waiting)

    def fail_target(self, sid: str, prefix: str, kind: str, reason: str) -> None:
        for _, item, stub, _ in self._waiting(sid, prefix):
            fields = records.failure_fields(kind, reason, self.now_ms)
            self.add_record(self.t.failed, item, records.splice(stub, fields))
        # Exhaustion is a fact about the prefix and the space; poison is only bad luck.
        if kind == records.EXHAUSTED:
            self.db.execute(
                f"INSERT OR REPLACE INTO {self.t.finished} VALUES (?, ?, ?, ?)",
                (sid, prefix, kind, reason),
            )
        self.drop_target(sid, prefix)

    def add_record(self, table: str, item: str, record: str) -> None:
        self.db.execute(f"INSERT INTO {table} (item, record) VALUES (?, ?)", (item, record))

    # Cohorts: when a finite space has been searched through (see lua/_targets.lua).

    def close_cohorts(self, sid: str) -> None:
        rows = self.db.execute(
            f"SELECT seq, last, poisoned FROM {self.t.cohorts}"
            " WHERE sid = ? AND last IS NOT NULL ORDER BY seq LIMIT 8",
            (sid,),
        ).fetchall()
        for seq, last, poisoned in rows:
            in_flight = self.one(
                f"SELECT 1 FROM {self.t.chunks} WHERE sid = ? AND seq BETWEEN ? AND ? LIMIT 1",
                sid, seq, last,
            )  # fmt: skip
            if in_flight is not None:
                return
            self._close_cohort(sid, seq, bool(poisoned))

    def _close_cohort(self, sid: str, seq: int, poisoned: bool) -> None:
        size = int(self.space_field(sid, "size"))
        kind, reason = records.EXHAUSTED, records.exhausted_reason(size)
        if poisoned:
            kind, reason = records.POISON, records.POISON_REASON
        prefixes = self.db.execute(
            f"SELECT prefix FROM {self.t.targets} WHERE sid = ? AND cohort = ?", (sid, seq)
        ).fetchall()
        for (prefix,) in prefixes:
            self.fail_target(sid, prefix, kind, reason)
        self.db.execute(f"DELETE FROM {self.t.cohorts} WHERE sid = ? AND seq = ?", (sid, seq))

    def mark_poisoned(self, sid: str, seq: int) -> None:
        self.db.execute(
            f"UPDATE {self.t.cohorts} SET poisoned = 1"
            " WHERE sid = ? AND seq <= ? AND (last IS NULL OR last >= ?)",
            (sid, seq, seq),
        )

    def end_rounds(self, sid: str, cut: int, seq: int) -> None:
        rows = self.db.execute(
            f"SELECT seq, due FROM {self.t.cohorts} WHERE sid = ? AND last IS NULL ORDER BY seq",
            (sid,),
        ).fetchall()
        for cohort_seq, due in rows:
            if cut < int(due):
                return
            self.db.execute(
                f"UPDATE {self.t.cohorts} SET last = ? WHERE sid = ? AND seq = ?",
                (seq, sid, cohort_seq),
            )

    def join_cohort(self, sid: str, size: int) -> int:
        seq = int(self.space_field(sid, "seq"))
        due = int(self.space_field(sid, "cut")) + size
        self.db.execute(
            f"INSERT OR IGNORE INTO {self.t.cohorts} VALUES (?, ?, ?, NULL, 0)",
            (sid, seq, str(due)),
        )
        return seq

    # Chunks.

    def chunk_by_token(self, token: str) -> Chunk | None:
        row = self.db.execute(
            f"SELECT {_CHUNK_COLUMNS} FROM {self.t.chunks} WHERE token = ?", (token,)
        ).fetchone()
        return _chunk(row) if row else None

    def forget_chunk(self, chunk: Chunk) -> None:
        self.db.execute(f"DELETE FROM {self.t.chunks} WHERE id = ?", (chunk.id,))

    def set_aside(self, chunk: Chunk) -> str:
        record = records.dump(
            {
                "start": chunk.start,
                "space_id": chunk.sid,
                "seq": chunk.seq,
                "count": chunk.count,
                "attempts": chunk.attempts,
                "last_worker": chunk.worker or "",
                "set_aside_at": self.now_ms,
            }
        )
        self.db.execute(f"INSERT INTO {self.t.poison} (record) VALUES (?)", (record,))
        self.add_stat("poisoned", 1)
        self.forget_chunk(chunk)
        if self.space_field(chunk.sid, "size"):
            self.mark_poisoned(chunk.sid, chunk.seq)
            self.close_cohorts(chunk.sid)
        return record

    def lose_chunk(self, chunk: Chunk, max_attempts: int) -> str | None:
        """A lease ended without a report: hand the chunk back, or set it aside."""
        if not self.has_targets(chunk.sid):
            self.forget_chunk(chunk)
            return None
        chunk.attempts += 1
        if chunk.attempts >= max_attempts:
            return self.set_aside(chunk)
        # A new row goes to the back of the line of chunks handed back.
        self.forget_chunk(chunk)
        self.db.execute(
            f"INSERT INTO {self.t.chunks} (sid, seq, start, count, attempts, worker)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (chunk.sid, chunk.seq, str(chunk.start), chunk.count, chunk.attempts, chunk.worker),
        )
        return None

    def reap_leases(self, max_attempts: int, batch: int) -> list[str]:
        rows = self.db.execute(
            f"SELECT {_CHUNK_COLUMNS} FROM {self.t.chunks}"
            " WHERE token IS NOT NULL AND expires_ms <= ?"
            " ORDER BY expires_ms, sid, seq, length(start), start LIMIT ?",
            (self.now_ms, batch),
        ).fetchall()
        poisoned = []
        for row in rows:
            record = self.lose_chunk(_chunk(row), max_attempts)
            if record is not None:
                poisoned.append(record)
        return poisoned

    def next_returned(self, max_count: int) -> Chunk | None:
        for _ in range(16):
            row = self.db.execute(
                f"SELECT {_CHUNK_COLUMNS} FROM {self.t.chunks}"
                " WHERE token IS NULL ORDER BY id LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            chunk = _chunk(row)
            if not self.has_targets(chunk.sid):
                self.forget_chunk(chunk)
                continue
            if chunk.count > max_count:
                return self._split(chunk, max_count)
            return chunk
        return None

    def _split(self, chunk: Chunk, max_count: int) -> Chunk:
        """Lease the head of a large chunk; the rest keeps its place at the front of the line."""
        self.db.execute(
            f"UPDATE {self.t.chunks} SET start = ?, count = ? WHERE id = ?",
            (str(chunk.start + max_count), chunk.count - max_count, chunk.id),
        )
        cursor = self.db.execute(
            f"INSERT INTO {self.t.chunks} (sid, seq, start, count, attempts, worker)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (chunk.sid, chunk.seq, str(chunk.start), max_count, chunk.attempts, chunk.worker),
        )
        assert cursor.lastrowid is not None
        return Chunk(cursor.lastrowid, chunk.sid, chunk.seq, chunk.start, max_count,
                     chunk.attempts, chunk.worker)  # fmt: skip

    def next_new_chunk(self, max_count: int) -> Chunk | None:
        """Take turns between spaces; a finite space whose prefixes all had a full round waits."""
        sids = self.db.execute(
            f"SELECT sid FROM {self.t.spaces} WHERE turn IS NOT NULL ORDER BY turn, sid LIMIT 8"
        ).fetchall()
        for (sid,) in sids:
            if not self.has_targets(sid):
                self.retire_space(sid)
                continue
            self.add_stat("turn", 1)
            row = self.one(f"SELECT value FROM {self.t.stats} WHERE name = 'turn'")
            assert row is not None
            self.db.execute(f"UPDATE {self.t.spaces} SET turn = ? WHERE sid = ?", (row[0], sid))
            cycling = self.one(
                f"SELECT 1 FROM {self.t.cohorts} WHERE sid = ? AND last IS NULL LIMIT 1", sid
            )
            if not self.space_field(sid, "size") or cycling is not None:
                return self._cut(sid, max_count)
        return None

    def _cut(self, sid: str, max_count: int) -> Chunk:
        row = self.one(f"SELECT cursor, cut, seq, size FROM {self.t.spaces} WHERE sid = ?", sid)
        assert row is not None
        cursor, cut, seq = int(str(row[0])), int(str(row[1])), int(str(row[2]))
        size = int(str(row[3])) if row[3] else None
        count = max_count if size is None else min(max_count, size - cursor)
        next_cursor = cursor + count
        if next_cursor == size:
            next_cursor = 0
        cut += count
        self.db.execute(
            f"UPDATE {self.t.spaces} SET cursor = ?, cut = ?, seq = ? WHERE sid = ?",
            (str(next_cursor), str(cut), seq + 1, sid),
        )
        inserted = self.db.execute(
            f"INSERT INTO {self.t.chunks} (sid, seq, start, count, attempts)"
            " VALUES (?, ?, ?, ?, 0)",
            (sid, seq, str(cursor), count),
        )
        if size is not None:
            self.end_rounds(sid, cut, seq)
        assert inserted.lastrowid is not None
        return Chunk(inserted.lastrowid, sid, seq, cursor, count, 0, None)

    def lease(self, chunk: Chunk, token: str, worker: str, expires_ms: int) -> None:
        self.db.execute(
            f"UPDATE {self.t.chunks} SET token = ?, worker = ?, expires_ms = ? WHERE id = ?",
            (token, worker, expires_ms, chunk.id),
        )

    # Intake: pending items judged and opened, within the claim's transaction.

    def admit(self, item: str, verdict: records.Admitted | records.Rejected) -> str:
        """Open or join the item's prefix, or write its record; say which ("opened", ...)."""
        if isinstance(verdict, records.Rejected):
            record = records.splice(verdict.record, {"failed_at": self.now_ms})
            self.add_record(self.t.failed, item, record)
            return "failed"
        sid, prefix = verdict.space_id, verdict.prefix
        outcome = self.one(
            f"SELECT kind, detail FROM {self.t.finished} WHERE sid = ? AND prefix = ?", sid, prefix
        )
        if outcome is not None:
            self._answer_from_outcome(item, verdict.stub, str(outcome[0]), str(outcome[1]))
            return "answered"
        if not self.is_target(sid, prefix):
            self._open_target(verdict)
        self.db.execute(
            f"INSERT INTO {self.t.processing} (item, sid, prefix, stub, h0) VALUES (?, ?, ?, ?, ?)",
            (item, sid, prefix, verdict.stub, self.space_field(sid, "hashed")),
        )
        return "opened"

    def _answer_from_outcome(self, item: str, stub: str, kind: str, detail: str) -> None:
        if kind == "solved":
            fields = {"item": item, "tries": 0, "cached": True, "solved_at": self.now_ms}
            self.add_record(self.t.results, item, records.splice(detail, fields))
        else:
            fields = records.failure_fields(kind, detail, self.now_ms)
            self.add_record(self.t.failed, item, records.splice(stub, fields))

    def _open_target(self, verdict: records.Admitted) -> None:
        sid, size = verdict.space_id, verdict.space.size
        self.db.execute(
            f"INSERT OR IGNORE INTO {self.t.spaces} VALUES (?, ?, ?, '0', '0', 0, '0', 0, NULL)",
            (sid, records.dump(verdict.space.to_dict()), "" if size is None else str(size)),
        )
        cohort = None if size is None else self.join_cohort(sid, size)
        self.db.execute(
            f"INSERT INTO {self.t.targets} (sid, prefix, cohort) VALUES (?, ?, ?)",
            (sid, verdict.prefix, cohort),
        )
        self.db.execute(
            f"UPDATE {self.t.spaces} SET version = version + 1,"
            " turn = COALESCE(turn, 0) WHERE sid = ?",
            (sid,),
        )
