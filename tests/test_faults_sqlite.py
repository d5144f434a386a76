"""The embedded queue under faults: local workers killed and hung, and a search stopped twice.

The SQLite file must keep the same promises as Redis: every item ends with one
right record, and `findhash search --state FILE` resumes after Ctrl-C with what
was found, without losing or repeating an item.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from findhash.cpus import usable_cpus
from findhash.queue import connect
from tests.harness.cluster import Cluster, SqliteBackend
from tests.harness.controller import findhash_command, findhash_env
from tests.harness.corpus import (
    bad_items,
    ballast_for,
    needle_for,
    random_prefixes,
    solvable,
)
from tests.harness.faults import Fault, Schedule
from tests.harness.oracle import Ledger, Snapshot, Solve, check

LEASE_TTL_S = 3.0
INTERRUPTED = 130


def test_local_workers_on_a_file_survive_kills_a_hang_and_scaling(tmp_path: Path) -> None:
    workers = 4
    prefixes = random_prefixes(random.Random(13), 40, (4, 5))
    ballast = ballast_for(8.0, workers, usable_cpus(), "sqlite")
    hidden = needle_for(3.0, workers, usable_cpus(), "sqlite", random.Random(13))
    schedule = (
        Schedule()
        .every(1.5, Fault.KILL_WORKER, start_s=1.0, until_s=8.0)
        .at(2.0, Fault.HANG_WORKER, duration_s=LEASE_TTL_S * 2)
        .at(3.0, Fault.SCALE_UP)
        .at(5.0, Fault.SCALE_DOWN)
        .push(2.5, solvable(prefixes[25:]))
    )
    backend = SqliteBackend(tmp_path / "queue.sqlite3", LEASE_TTL_S)
    with Cluster(backend, tmp_path / "logs", workers, LEASE_TTL_S, seed=13) as cluster:
        outcome = cluster.run([*solvable(prefixes[:25]), hidden, ballast], schedule, deadline_s=120)

    print(outcome.figures.summary())
    outcome.assert_clean()
    assert outcome.figures.faults[Fault.KILL_WORKER.value] >= 4
    assert outcome.figures.results == 40 + 1


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.1)


class Search:
    """`findhash search --state FILE` runs of one command line, as a person would type it."""

    def __init__(self, state: Path, items: list[str], log_dir: Path) -> None:
        self.state = state
        self.command = findhash_command(
            "search", "--state", str(state), "--workers", "2", "--json", *items
        )
        self.log_dir = log_dir
        self.runs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        n = len(self.runs)
        out_path, err_path = self.log_dir / f"out{n}.json", self.log_dir / f"err{n}.log"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            # Its own process group, as a shell gives a foreground job: Ctrl-C reaches all.
            process = subprocess.Popen(
                self.command, env=findhash_env({}), stdout=out, stderr=err,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        self.runs.append(process)
        return process

    def ctrl_c(self, process: subprocess.Popen[bytes]) -> int:
        os.killpg(process.pid, signal.SIGINT)
        return process.wait(timeout=30)

    def stderr(self, n: int) -> str:
        return (self.log_dir / f"err{n}.log").read_text(errors="replace")

    def output(self, n: int) -> dict[str, object]:
        document: dict[str, object] = json.loads((self.log_dir / f"out{n}.json").read_text())
        return document

    def read(self, what: Callable[..., int]) -> int:
        if not self.state.exists():
            return 0
        with connect(str(self.state), lease_ttl_s=LEASE_TTL_S) as queue:
            return what(queue)

    def kill_all(self) -> None:
        for process in self.runs:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def search_items(tmp_path: Path) -> Iterator[tuple[Ledger, list[str]]]:
    prefixes = random_prefixes(random.Random(17), 25, (3, 4))
    long_item = json.dumps({"prefix": "0a", "message": "long message " * 30})
    entries = [
        *solvable(prefixes),
        (long_item, Solve("0a", message="long message " * 30)),
        *[entry for entry in bad_items() if isinstance(entry[0], str)][:12],
        ballast_for(14.0, 2, usable_cpus(), "search"),
    ]
    ledger = Ledger()
    ledger.add(entries)
    yield ledger, [str(item) for item, _ in entries]


def test_a_search_stopped_twice_with_ctrl_c_resumes_and_accounts_for_every_item(
    tmp_path: Path, search_items: tuple[Ledger, list[str]]
) -> None:
    ledger, items = search_items
    search = Search(tmp_path / "state.sqlite3", items, tmp_path)
    try:
        first = search.start()
        wait_for(lambda: search.read(lambda q: q.counts().results) >= 5, 60, "first results")
        assert search.ctrl_c(first) == INTERRUPTED, search.stderr(0)
        assert "Interrupted" in search.stderr(0)
        assert search.read(lambda q: q.counts().total) == len(items)
        hashed = search.read(lambda q: q.stats()["hashes"])

        second = search.start()
        wait_for(lambda: search.read(lambda q: q.stats()["hashes"]) > hashed, 60, "progress")
        assert search.ctrl_c(second) == INTERRUPTED, search.stderr(1)
        assert search.read(lambda q: q.counts().total) == len(items)

        third = search.start()
        assert third.wait(timeout=120) == 0, search.stderr(2)
    finally:
        search.kill_all()

    output = search.output(2)
    printed = Snapshot(0, 0, output["results"], output["failed"])  # type: ignore[arg-type]
    with connect(str(search.state)) as queue:
        counts = queue.counts()
        stored = Snapshot(counts.pending, counts.processing, queue.results(), queue.failed())
    for tally in (check(ledger, printed), check(ledger, stored)):
        assert tally.problems == []
        assert (tally.lost, tally.duplicated, tally.wrong) == (0, 0, 0)
    assert "Traceback" not in "".join(search.stderr(n) for n in range(3))


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return True
    return status == "Z"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_search_signalled_alone_stops_its_workers_promptly_instead_of_orphaning_them(
    tmp_path: Path, sig: signal.Signals
) -> None:
    # A search sent SIGTERM (kill, timeout, a service manager) or SIGHUP (a closed
    # terminal) used to die at once and leave its workers hashing on as orphans;
    # one sent SIGINT alone (not its process group) waited ten seconds and then
    # killed its workers, leaving their chunks leased.
    ballast = ballast_for(60.0, 2, usable_cpus(), "signalled")
    search = Search(tmp_path / "state.sqlite3", ["0ce", ballast[0]], tmp_path)
    try:
        process = search.start()
        wait_for(lambda: search.read(lambda q: q.counts().results) >= 1, 60, "a first result")
        workers = children(process.pid)
        assert len(workers) == 2

        signalled = time.monotonic()
        process.send_signal(sig)
        status = process.wait(timeout=30)
        stopped_s = time.monotonic() - signalled
        wait_for(lambda: all(gone(pid) for pid in workers), 5, "the workers to stop")
    finally:
        search.kill_all()

    assert status == INTERRUPTED, search.stderr(0)
    assert stopped_s < 5.0
    assert search.read(lambda q: q.counts().total) == 2
    with connect(str(search.state), lease_ttl_s=LEASE_TTL_S) as queue:
        assert queue.stats()["leases"] == 0, "a stopped worker's chunk was left leased"
