"""The worker as users run it: real `findhash worker` processes against a real redis-server."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from findhash.engine import available_kernels
from findhash.queue.sqlite_queue import SqliteQueue
from findhash.space import Space
from findhash.worker import Worker, WorkerConfig
from tests.redis_server import RedisServer

WORKER = [sys.executable, "-m", "findhash", "--log-level", "debug", "worker", "--threads", "1"]


def start_worker(server: RedisServer, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "REDIS_URL": server.url, "FINDHASH_LEASE_TTL_S": "5"}
    with log.open("wb") as out:
        return subprocess.Popen([*WORKER, *extra], env=env, stdout=out, stderr=subprocess.STDOUT)


def redis_cli(server: RedisServer, *args: str) -> str:
    command = ["redis-cli", "-p", str(server.port), *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def records(server: RedisServer, key: str) -> list[dict[str, object]]:
    return [json.loads(raw) for raw in server.client().lrange(key, 0, -1)]


def assert_verified(record: dict[str, object]) -> None:
    digest = hashlib.new(str(record["algorithm"]), str(record["input"]).encode()).hexdigest()
    assert digest == record["digest"]
    assert digest.startswith(str(record["prefix"]))


def test_the_redis_cli_walkthrough_completes_with_two_workers(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    redis_cli(redis_server, "rpush", "job", "0ce", "babaca", "00000")
    assert redis_cli(redis_server, "lrange", "job", "0", "-1").split() == ["0ce", "babaca", "00000"]

    workers = [start_worker(redis_server, tmp_path / f"worker{n}.log") for n in range(2)]

    assert [worker.wait(timeout=300) for worker in workers] == [0, 0]
    assert redis_cli(redis_server, "llen", "job").strip() == "0"
    assert redis_cli(redis_server, "llen", "job:processing").strip() == "0"
    results = records(redis_server, "job:results")
    assert sorted(str(r["prefix"]) for r in results) == ["00000", "0ce", "babaca"]
    for record in results:
        assert_verified(record)


def prefix_found_seconds_in() -> str:
    """A 9-digit prefix whose answer lies a few seconds of hashing in, and almost surely no sooner.

    Nine digits make an earlier answer unlikely (about 1 in 230 over 3e8 tries), so
    the first worker does not finish before a second one has joined.
    """
    last_index = 300_000_000 if available_kernels()[0] != "python" else 20_000_000
    nonce = Space().nonce(last_index)
    return hashlib.sha256(nonce.encode()).hexdigest()[:9]


def test_two_workers_share_one_hard_prefix_and_a_late_worker_joins_at_once(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    redis_server.client().rpush("job", prefix_found_seconds_in())
    first = start_worker(redis_server, tmp_path / "first.log")
    wait_for_line(tmp_path / "first.log", "Leased")

    late = start_worker(redis_server, tmp_path / "late.log")
    # It joins the search under way at its first claim, not after the chunks leased so far.
    wait_for_line(tmp_path / "late.log", "Leased", timeout_s=15)

    assert first.wait(timeout=300) == 0
    assert late.wait(timeout=300) == 0
    [record] = records(redis_server, "job:results")
    assert_verified(record)


def wait_for_line(log: Path, text: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        time.sleep(0.05)
    pytest.fail(f"{log.name} has no line with {text!r} after {timeout_s} s:\n{log.read_text()}")


def test_a_worker_sent_sigterm_hands_its_chunk_back_and_exits_143(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    client = redis_server.client()
    client.rpush("job", "ffffffffffff")
    worker = start_worker(redis_server, tmp_path / "worker.log")
    wait_for_line(tmp_path / "worker.log", "Leased")

    worker.send_signal(signal.SIGTERM)

    # Not 0: a Job would take that as "all done" and replace no evicted pod.
    assert worker.wait(timeout=10) == 143
    assert "SIGTERM received" in (tmp_path / "worker.log").read_text()
    # Nothing is left leased: another worker can take the chunk without waiting.
    assert client.hlen("job:leases") == 0
    assert client.lrange("job:processing", 0, -1) == ["ffffffffffff"]


def test_a_worker_exits_with_status_three_when_redis_never_answers(tmp_path: Path) -> None:
    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:1/0"}
    command = [*WORKER, "--connect-give-up-s", "2"]
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    assert finished.returncode == 3
    assert "retrying in" in finished.stderr
    assert "gave up after 2 s" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_twenty_thousand_prefixes_pushed_at_once_are_all_solved_by_two_workers(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    prefixes = [f"{value:04x}" for value in random.Random(7).sample(range(16**4), 20_000)]
    client = redis_server.client()
    for start in range(0, len(prefixes), 5000):
        client.rpush("job", *prefixes[start : start + 5000])

    started = time.monotonic()
    workers = [start_worker(redis_server, tmp_path / f"worker{n}.log") for n in range(2)]
    assert [worker.wait(timeout=600) for worker in workers] == [0, 0]
    elapsed_s = time.monotonic() - started

    results = records(redis_server, "job:results")
    assert sorted(str(r["prefix"]) for r in results) == sorted(prefixes)
    for record in results:
        assert_verified(record)
    assert client.llen("job") == client.llen("job:processing") == client.llen("job:failed") == 0
    print(f"20,000 items solved in {elapsed_s:.1f} s: {20_000 / elapsed_s:.0f} items/s")


def test_a_worker_keeps_long_chunks_leased_by_renewing_on_time_not_per_slice(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    # Chunks of about 20 s on the Python kernel, against a one-second lease, while
    # a second worker claims tiny chunks and so reaps every lease that expires:
    # only renewals driven by the clock, not by the chunk's progress, keep them.
    redis_server.client().rpush("job", "f" * 14)
    options = ["--kernel", "python", "--lease-ttl-s", "1"]
    workers = [
        start_worker(redis_server, tmp_path / "w0.log", *options, "--chunk-target-s", "20"),
        start_worker(redis_server, tmp_path / "w1.log", *options, "--chunk-target-s", "0.05"),
    ]
    time.sleep(8)

    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    assert [worker.wait(timeout=10) for worker in workers] == [143, 143]
    for n in range(2):
        log = (tmp_path / f"w{n}.log").read_text()
        assert "Leased" in log
        assert "was lost" not in log
    assert redis_server.client().hlen("job:leases") == 0


def test_a_worker_whose_parent_is_already_gone_stops_without_claiming(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    redis_server.client().rpush("job", "f" * 12)
    worker = start_worker(redis_server, tmp_path / "w.log", "--parent-pid", "999999999")

    assert worker.wait(timeout=30) == 1
    log = (tmp_path / "w.log").read_text()
    assert "Parent gone received" in log
    assert "Leased" not in log


class CountingQueue(SqliteQueue):
    """A real SQLite queue that counts the heartbeats written to it."""

    heartbeats = 0

    def heartbeat(self, *args: Any, **kwargs: Any) -> None:
        self.heartbeats += 1
        super().heartbeat(*args, **kwargs)


def test_heartbeats_keep_their_pace_after_the_first_scanning_thread_ends(tmp_path: Path) -> None:
    queue = CountingQueue(str(tmp_path / "queue.sqlite3"))
    config = WorkerConfig(worker_id="w", threads=2, heartbeat_s=0.5)
    scanners = [
        threading.Thread(target=lambda: None),
        threading.Thread(target=time.sleep, args=(2,)),
    ]
    for thread in scanners:
        thread.start()

    Worker(lambda: queue, config)._heartbeat_until_done(queue, scanners)

    # One every half second while the second thread runs: about four, not thousands.
    assert 2 <= queue.heartbeats <= 8
    queue.close()
