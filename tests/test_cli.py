"""The command line as a user types it, run as real processes."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from findhash.space import Space

FINDHASH = [sys.executable, "-m", "findhash"]


def findhash(
    *args: str, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run findhash as a user would, with `env` added to this process's environment."""
    return subprocess.run(
        [*FINDHASH, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def assert_verified(record: dict[str, Any]) -> None:
    digest = hashlib.new(record["algorithm"], record["input"].encode()).hexdigest()
    assert digest == record["digest"]
    assert digest.startswith(record["prefix"])


def test_search_prints_three_verified_answers_as_json() -> None:
    finished = findhash("search", "--json", "0ce", "babaca", "00000")

    assert finished.returncode == 0, finished.stderr
    document = json.loads(finished.stdout)
    assert sorted(r["prefix"] for r in document["results"]) == ["00000", "0ce", "babaca"]
    for record in document["results"]:
        assert_verified(record)
    assert document["failed"] == []
    assert document["hashes"] > 0
    assert document["seconds"] > 0


def test_search_prints_a_table_of_answers_by_default() -> None:
    finished = findhash("search", "--workers", "1", "0ce")

    assert finished.returncode == 0, finished.stderr
    assert "0ce" in finished.stdout
    assert "Results" in finished.stdout


def test_search_records_bad_items_as_failed_and_still_solves_the_rest() -> None:
    finished = findhash("search", "--json", "0ce", "0xzz", "0" * 20)

    assert finished.returncode == 0, finished.stderr
    document = json.loads(finished.stdout)
    assert [r["prefix"] for r in document["results"]] == ["0ce"]
    reasons = sorted(f["reason"] for f in document["failed"])
    assert len(reasons) == 2
    assert any("'x' at position 2" in reason for reason in reasons)
    assert any("tries" in reason and "20 hex digits" in reason for reason in reasons)


def prefix_first_found_at(index: int, digits: int) -> str:
    """A prefix that no candidate before `index` has, bar a chance of about index / 16**digits."""
    return hashlib.sha256(Space().nonce(index).encode()).hexdigest()[:digits]


def test_an_interrupted_search_resumes_from_its_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    slow = prefix_first_found_at(200_000_000, 10)
    command = [*FINDHASH, "search", "--json", "--state", str(state), "0ce", slow]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_results(state, 1)

    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=30)
    assert first.returncode == 130, stderr
    assert "run the same command to resume" in stderr
    assert solved_prefixes(state) == ["0ce"]

    # The same command again: nothing is pushed twice, the answer found is kept.
    resumed = findhash("search", "--json", "--state", str(state), "0ce", slow)
    assert resumed.returncode == 0, resumed.stderr
    results = json.loads(resumed.stdout)["results"]
    assert sorted(r["prefix"] for r in results) == sorted(["0ce", slow])
    assert solved_prefixes(state) == ["0ce", slow]


def solved_prefixes(state: Path) -> list[str]:
    finished = findhash("results", "--json", "--url", str(state))
    return [json.loads(line)["prefix"] for line in finished.stdout.splitlines() if line.strip()]


def wait_for_results(state: Path, count: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if state.exists():
            try:
                if len(solved_prefixes(state)) >= count:
                    return
            except (json.JSONDecodeError, sqlite3.Error):
                pass
        time.sleep(0.2)
    raise AssertionError(f"{count} results did not appear in {state} within {timeout_s} s")


def test_verify_accepts_a_right_answer_and_explains_a_wrong_one() -> None:
    assert findhash("verify", "0ce", "a9s").returncode == 0
    wrong = findhash("verify", "0cf", "a9s")
    assert wrong.returncode == 1
    assert "differs from 0cf at hex digit 3" in wrong.stderr


def test_bench_json_reports_the_measured_rate() -> None:
    finished = findhash("bench", "--json", "--seconds", "0.2", "--kernel", "python")

    assert finished.returncode == 0, finished.stderr
    document = json.loads(finished.stdout)
    for key in ("kernel", "threads", "targets", "hashes", "seconds", "hashes_per_second"):
        assert key in document
    assert document["kernel"] == "python"
    assert document["hashes"] > 0


def test_options_come_from_environment_variables() -> None:
    finished = findhash("bench", "--json", "--seconds", "0.2", env={"FINDHASH_KERNEL": "python"})
    assert json.loads(finished.stdout)["kernel"] == "python"


def test_a_bad_kernel_name_is_a_usage_error_without_a_traceback() -> None:
    finished = findhash("bench", "--kernel", "quantum")
    assert finished.returncode == 2
    assert "Traceback" not in finished.stderr


def test_local_workers_stop_when_the_search_is_killed_outright(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    command = [*FINDHASH, "search", "--workers", "2", "--state", str(state), "f" * 12]
    search = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_workers(state, 2)

    search.kill()
    search.wait()

    deadline = time.monotonic() + 30
    while worker_processes_of(state) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert worker_processes_of(state) == []


def worker_processes_of(state: Path) -> list[int]:
    """Process ids whose command line is a worker on this state file."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"worker" in command and str(state).encode() in command:
            pids.append(int(proc.name))
    return pids


def wait_for_workers(state: Path, count: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(worker_processes_of(state)) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"{count} workers did not start on {state} within {timeout_s} s")


def test_options_without_a_variable_of_their_own_read_one_named_after_command_and_option() -> None:
    env = {"FINDHASH_BENCH_THREADS": "2", "FINDHASH_BENCH_SECONDS": "0.2"}
    finished = findhash("bench", "--json", "--kernel", "python", env=env)
    assert json.loads(finished.stdout)["threads"] == 2
