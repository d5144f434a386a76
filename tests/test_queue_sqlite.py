"""The SQLite queue on its own: the file, its locking, and a search resumed from it."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from findhash.queue import QueueUnavailable, connect
from findhash.queue.sqlite_queue import SqliteQueue, file_path
from tests.queue_support import T0, TTL_MS, TTL_S, scan


def test_a_path_and_a_sqlite_url_open_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    by_path = connect(str(path), lease_ttl_s=TTL_S)
    by_url = connect(f"sqlite:///{path}", lease_ttl_s=TTL_S)
    try:
        by_path.push(["0ce"])

        assert isinstance(by_url, SqliteQueue)
        assert by_url.counts().pending == 1
    finally:
        by_path.close()
        by_url.close()
    assert file_path("sqlite:///tmp/x.db") == "/tmp/x.db"
    assert file_path("relative.db") == "relative.db"


def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    connect(str(path)).close()

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_file_held_locked_too_long_raises_queue_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    queue = SqliteQueue(str(path), busy_timeout_s=0.1)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(QueueUnavailable, match="locked"):
            queue.claim("w", 10)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # Once the lock is gone the same queue object works again.
    assert queue.claim("w", 10) is None
    queue.close()


def test_a_search_stopped_and_reopened_keeps_its_leases_and_answers(tmp_path: Path) -> None:
    path = str(tmp_path / "state.sqlite3")
    queue = connect(path, lease_ttl_s=TTL_S)
    queue.push(["0ce", "babaca"])
    lease = queue.claim("w", 20_000, now_ms=T0)
    assert lease is not None
    queue.report(lease, *scan(lease), now_ms=T0)
    held = queue.claim("w", 100, now_ms=T0)
    queue.close()

    reopened = connect(path, lease_ttl_s=TTL_S)
    again = reopened.claim("w", 100, now_ms=T0 + TTL_MS)

    assert held is not None and again is not None
    assert (again.start, again.count) == (held.start, held.count)
    assert {record["prefix"] for record in reopened.results()} >= {"0ce"}
    reopened.close()


def test_threads_may_share_one_queue_object(tmp_path: Path) -> None:
    queue = connect(str(tmp_path / "state.sqlite3"), lease_ttl_s=TTL_S)
    queue.push(["babaca"])
    starts: list[int] = []

    def claim_some() -> None:
        for _ in range(20):
            lease = queue.claim("w", 10, now_ms=T0)
            assert lease is not None
            starts.append(lease.start)

    threads = [threading.Thread(target=claim_some) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.close()

    assert sorted(starts) == list(range(0, 800, 10))
