"""Bad input amid good: each bad item gets one failed record with a reason, and nothing crashes."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from findhash.cpus import usable_cpus
from findhash.engine import available_kernels
from findhash.engine.kernels import PYTHON
from findhash.queue import connect
from findhash.queue.items import Rejected, judge, load
from tests.harness.cluster import Backend, Cluster, RedisBackend, SqliteBackend
from tests.harness.controller import findhash_command, findhash_env
from tests.harness.corpus import (
    bad_items,
    ballast_for,
    random_prefixes,
    solvable,
    valid_odd_items,
)
from tests.harness.faults import Fault, Schedule
from tests.harness.oracle import Fail
from tests.redis_server import RedisServer

WORKERS = 3
LEASE_TTL_S = 3.0


@pytest.fixture(params=["redis", "sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return SqliteBackend(tmp_path / "queue.sqlite3", LEASE_TTL_S)
    server: RedisServer = request.getfixturevalue("redis_server")
    return RedisBackend(server)


def test_the_bad_input_corpus_is_failed_with_reasons_while_the_good_items_are_solved(
    backend: Backend, tmp_path: Path
) -> None:
    rng = random.Random(5)
    bad = bad_items()
    if isinstance(backend, SqliteBackend):
        bad = [(item, expectation) for item, expectation in bad if isinstance(item, str)]
    items = [*bad, *valid_odd_items(), *solvable(random_prefixes(rng, 30, (3, 4)))]
    rng.shuffle(items)
    half = len(items) // 2
    ballast = ballast_for(6.0, WORKERS, usable_cpus(), "bad input")
    schedule = Schedule().push(2.0, items[half:])

    with Cluster(backend, tmp_path / "logs", WORKERS, LEASE_TTL_S, seed=5) as cluster:
        outcome = cluster.run([*items[:half], ballast], schedule, deadline_s=120)

    print(outcome.figures.summary())
    outcome.assert_clean()
    assert len(bad) >= 25
    assert outcome.figures.restarts == 0, "a worker crashed on bad input"
    failing = sum(isinstance(expectation, Fail) for _, expectation in [*items, ballast])
    assert outcome.figures.failed == failing
    assert outcome.figures.faults == {}
    assert not any(fault == Fault.PUSH.value for fault in outcome.figures.skipped_faults)


# Regressions: defects this harness found, each reproduced on its own.


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ('{"prefix": "0ce", "max_length": 1' + "0" * 5000 + "}", "does not parse"),
        ('{"prefix": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ],
    ids=["number too long to convert", "nesting too deep"],
)
def test_json_that_python_refuses_to_parse_is_rejected_instead_of_crashing_every_worker(
    item: str, reason: str
) -> None:
    # json.loads raises a plain ValueError or a RecursionError for these, not a
    # JSONDecodeError; both used to escape judge(), so every worker that took
    # the intake holding such an item crashed, and the whole intake stayed in
    # processing for ever.
    verdict = judge(item, max_feasible_digits=16)

    assert isinstance(verdict, Rejected)
    assert reason in load(verdict.record)["reason"]


def test_a_worker_on_a_native_kernel_solves_items_of_other_algorithms_instead_of_crashing(
    tmp_path: Path,
) -> None:
    # The command line resolves the kernel (auto: sha-ni, say) once, and the
    # worker used it for every space: a valid md5 or sha1 item made each worker
    # that leased its chunk crash with "kernel sha-ni computes sha256 only".
    kernel = available_kernels()[0]
    if kernel == PYTHON:
        pytest.skip("the native extension is not built")
    path = tmp_path / "queue.sqlite3"
    with connect(str(path)) as queue:
        queue.push(
            ['{"prefix": "1a", "algorithm": "sha1"}', '{"prefix": "fe", "algorithm": "md5"}']
        )
    command = findhash_command("worker", "--url", str(path), "--threads", "1", "--kernel", kernel)

    finished = subprocess.run(command, env=findhash_env({}), capture_output=True, timeout=60)

    assert finished.returncode == 0, finished.stderr.decode(errors="replace")
    with connect(str(path)) as queue:
        assert sorted(r["algorithm"] for r in queue.results()) == ["md5", "sha1"]


@pytest.mark.parametrize("value", ["true", "1.0"])
def test_a_max_length_of_the_wrong_type_is_rejected_even_after_a_valid_item_with_max_length_1(
    value: str,
) -> None:
    # Spaces were cached by their parameters, and True == 1.0 == 1 as cache keys:
    # once an item with max_length 1 had been judged, an item with max_length true
    # or 1.0 was admitted as max_length 1 (its verdict hung on what came before).
    judge('{"prefix": "ffffff", "max_length": 1}', max_feasible_digits=16)

    verdict = judge(f'{{"prefix": "0ce", "max_length": {value}}}', max_feasible_digits=16)

    assert isinstance(verdict, Rejected)
    assert "max_length must be an integer" in load(verdict.record)["reason"]
