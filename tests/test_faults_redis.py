"""Redis crashes, restarts from its files, drops connections or never comes: nothing is lost.

Workers must ride out a Redis that goes away for a while, logging each retry with
what remains before they give up, and must give up with status 3, saying so,
once it stays away past the give-up time.
"""

from __future__ import annotations

import itertools
import random
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from findhash.cpus import usable_cpus
from tests.harness.cluster import Cluster, RedisBackend
from tests.harness.controller import findhash_command, findhash_env
from tests.harness.corpus import ballast_for, needle_for, random_prefixes, solvable
from tests.harness.faults import Fault, Schedule
from tests.redis_server import RedisServer

LEASE_TTL_S = 3.0
PASSWORD = "not-in-any-log-7f3a"
MAX_RETRY_DELAY_S = 10.0
RETRY = re.compile(
    r"worker (?P<worker>\S+): (?P<what>[\w ]+) failed: .*; retrying in (?P<delay>[\d.]+) s"
    r" \(giving up in (?P<left>\d+) s\)\."
)


def retries(log: Path) -> list[tuple[float, int]]:
    """(delay, seconds left) of every retry line in a worker's log, in order."""
    text = log.read_text(errors="replace")
    return [(float(m["delay"]), int(m["left"])) for m in RETRY.finditer(text)]


def assert_back_off_is_bounded(log: Path) -> None:
    """Delays stay within the cap, and within one streak of retries the time left only shrinks."""
    lines = retries(log)
    assert all(0 < delay <= MAX_RETRY_DELAY_S for delay, _ in lines), lines
    for (delay, left), (next_delay, next_left) in itertools.pairwise(lines):
        same_streak = next_delay > delay or next_delay == MAX_RETRY_DELAY_S
        assert not same_streak or next_left <= left, f"giving-up time went back up: {lines}"


def wait_for(condition, timeout_s: float, what: str, poll_s: float = 0.1) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(poll_s)


@pytest.fixture
def redis_with_password(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis", password=PASSWORD) as server:
        yield server


def test_no_acknowledged_result_is_lost_when_redis_crashes_twice_and_drops_connections(
    redis_with_password: RedisServer, tmp_path: Path
) -> None:
    redis_server = redis_with_password
    workers = 4
    prefixes = random_prefixes(random.Random(11), 45, (4, 5))
    schedule = (
        Schedule()
        .at(1.5, Fault.CUT_CONNECTIONS)
        .at(3.0, Fault.KILL_REDIS, duration_s=2.0)
        .push(4.0, solvable(prefixes[30:38]))
        .at(6.5, Fault.CUT_CONNECTIONS)
        .at(7.5, Fault.KILL_WORKER)
        .at(9.0, Fault.KILL_REDIS, duration_s=3.0)
        .push(10.5, solvable(prefixes[38:]))
        .at(13.0, Fault.CUT_CONNECTIONS)
    )
    ballast = ballast_for(13.0, workers, usable_cpus(), "redis")
    hidden = needle_for(5.0, workers, usable_cpus(), "redis", random.Random(11))
    with Cluster(
        RedisBackend(redis_server),
        tmp_path / "logs",
        workers,
        LEASE_TTL_S,
        seed=11,
        redis_server=redis_server,
    ) as cluster:
        outcome = cluster.run([*solvable(prefixes[:30]), hidden, ballast], schedule, deadline_s=120)

    print(outcome.figures.summary())
    outcome.assert_clean()
    assert outcome.figures.faults[Fault.KILL_REDIS.value] == 2
    assert outcome.figures.faults[Fault.CUT_CONNECTIONS.value] == 3
    assert outcome.figures.results == 45 + 1
    assert any(retries(run.log) for run in outcome.runs), "no worker logged a retry"
    for run in outcome.runs:
        assert_back_off_is_bounded(run.log)
    assert PASSWORD not in outcome.log_text(), "a worker logged the Redis password"


def test_workers_started_while_redis_is_down_wait_log_each_retry_and_then_work(
    tmp_path: Path,
) -> None:
    with RedisServer(tmp_path / "redis") as server:
        backend = RedisBackend(server)
        cluster = Cluster(
            backend,
            tmp_path / "logs",
            workers=2,
            lease_ttl_s=LEASE_TTL_S,
            worker_args=["--connect-give-up-s", "60"],
            redis_server=server,
        )
        # Items pushed before Redis went down are on disk and come back with it.
        cluster.push(solvable(random_prefixes(random.Random(3), 20, (3, 4))))
        server.kill()
        with cluster:
            schedule = Schedule().at(10.0, Fault.START_REDIS)
            outcome = cluster.run([], schedule, deadline_s=90)

    print(outcome.figures.summary())
    outcome.assert_clean()
    for run in outcome.runs:
        lines = retries(run.log)
        # Retries start at half a second and double: 0.5 + 1 + 2 + 4 s fit in ten.
        assert len(lines) >= 4, f"{run.name} logged {len(lines)} retries in ten seconds"
        assert lines[0][1] <= 60
        assert_back_off_is_bounded(run.log)


def start_worker(url: str, log: Path, give_up_s: float) -> subprocess.Popen[bytes]:
    command = findhash_command(
        "worker", "--threads", "1", "--worker-id", log.stem, "--lease-ttl-s", str(LEASE_TTL_S),
        "--connect-give-up-s", str(give_up_s),
    )  # fmt: skip
    env = findhash_env({"REDIS_URL": url})
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture
def processes():
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for process in started:
            process.kill()
            process.wait()


def assert_gave_up_saying_so(process: subprocess.Popen[bytes], log: Path) -> None:
    assert process.wait(timeout=60) == 3
    text = log.read_text(errors="replace")
    assert "gave up after" in text
    assert "the queue stayed unreachable" in text
    assert "Traceback" not in text
    assert_back_off_is_bounded(log)


def test_workers_exit_with_status_3_saying_so_when_redis_never_comes(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    nowhere = RedisServer(tmp_path)  # never started: its port refuses connections
    logs = [tmp_path / f"w{n}.log" for n in range(2)]
    started = time.monotonic()
    processes.extend(start_worker(nowhere.url, log, give_up_s=4) for log in logs)

    for process, log in zip(processes, logs, strict=True):
        assert_gave_up_saying_so(process, log)
    assert time.monotonic() - started < 30


def test_workers_exit_with_status_3_when_redis_dies_mid_run_and_stays_down(
    redis_server: RedisServer, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    item, _ = ballast_for(60.0, 2, usable_cpus(), "gone")
    redis_server.client().rpush("job", item)
    logs = [tmp_path / f"w{n}.log" for n in range(2)]
    processes.extend(start_worker(redis_server.url, log, give_up_s=4) for log in logs)
    client = redis_server.client()
    wait_for(lambda: client.hlen("job:leases") >= 2, 30, "both workers to lease a chunk")

    redis_server.kill()

    for process, log in zip(processes, logs, strict=True):
        assert_gave_up_saying_so(process, log)
