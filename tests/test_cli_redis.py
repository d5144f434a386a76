"""enqueue, status and results against a real redis-server, as an operator uses them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from tests.redis_server import RedisServer

FINDHASH = [sys.executable, "-m", "findhash"]


def findhash(
    server: RedisServer, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_URL": server.url, "FINDHASH_QUEUE": "batch"}
    return subprocess.run(
        [*FINDHASH, *args], input=stdin, env=env, capture_output=True, text=True, timeout=120
    )


def test_enqueue_takes_arguments_and_standard_input_in_batches(redis_server: RedisServer) -> None:
    pushed = findhash(redis_server, "enqueue", "0ce", "BABA")
    piped = findhash(
        redis_server, "enqueue", "--file", "-", "--batch-size", "2", stdin="00\n\n1\n22\n"
    )

    assert pushed.returncode == 0, pushed.stderr
    assert piped.returncode == 0, piped.stderr
    assert "pushed 3 items" in piped.stdout
    # Exactly as given: validation is the workers' job, and blank lines are no items.
    assert redis_server.client().lrange("batch", 0, -1) == ["0ce", "BABA", "00", "1", "22"]


def test_status_counts_items_in_each_place_and_results_prints_the_records(
    redis_server: RedisServer,
) -> None:
    redis_server.client().rpush("batch", "0ce", "zz", "1")
    before = json.loads(findhash(redis_server, "status", "--json").stdout)
    assert (before["pending"], before["solved"], before["failed"]) == (3, 0, 0)

    worked = findhash(redis_server, "worker", "--threads", "1")
    assert worked.returncode == 0, worked.stderr

    after = json.loads(findhash(redis_server, "status", "--json").stdout)
    assert (after["pending"], after["processing"], after["solved"], after["failed"]) == (0, 0, 2, 1)
    lines = findhash(redis_server, "results", "--json").stdout.splitlines()
    assert sorted(json.loads(line)["prefix"] for line in lines) == ["0ce", "1"]
    failed = findhash(redis_server, "results", "--failed", "--json").stdout.splitlines()
    assert "'z' at position 1" in json.loads(failed[0])["reason"]
    table = findhash(redis_server, "status").stdout
    assert "pending 0, processing 0, solved 2, failed 1" in table


def test_status_lists_a_live_worker_with_its_rate(redis_server: RedisServer) -> None:
    redis_server.client().rpush("batch", "f" * 12)
    env = {**os.environ, "REDIS_URL": redis_server.url, "FINDHASH_QUEUE": "batch"}
    worker = subprocess.Popen(
        [*FINDHASH, "worker", "--threads", "1", "--worker-id", "pod-a"],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        workers: list[dict[str, object]] = []
        while time.monotonic() < deadline and not workers:
            time.sleep(0.5)
            workers = json.loads(findhash(redis_server, "status", "--json").stdout)["workers"]
        assert [w["worker_id"] for w in workers] == ["pod-a"]
        assert "pod-a" in findhash(redis_server, "status").stdout
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_commands_say_plainly_when_redis_cannot_be_reached() -> None:
    env = {**os.environ, "REDIS_URL": "redis://:secret@127.0.0.1:1/0"}
    finished = subprocess.run(
        [*FINDHASH, "status"], env=env, capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 3
    assert "Traceback" not in finished.stderr
    assert "secret" not in finished.stderr
