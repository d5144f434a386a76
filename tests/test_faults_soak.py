"""The long fault run: hundreds of prefixes, every fault kind, for a minute and a half or more.

Excluded from the default run; start it with

    pytest -m soak tests/test_faults_soak.py -s

and it prints its figures (items, workers, faults by kind, records, lost,
duplicated, wrong, duration). It takes about two minutes on two cores.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from findhash.cpus import usable_cpus
from tests.harness.cluster import Cluster, RedisBackend
from tests.harness.corpus import (
    bad_items,
    ballast_for,
    needle_for,
    random_prefixes,
    solvable,
    valid_odd_items,
)
from tests.harness.faults import Fault, Schedule
from tests.harness.oracle import Solve
from tests.redis_server import RedisServer

WORKERS = 6
LEASE_TTL_S = 4.0
PREFIXES = 300
RUN_S = 90.0


@pytest.mark.soak
def test_three_hundred_prefixes_survive_a_minute_and_a_half_of_every_fault_kind(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    rng = random.Random(2024)
    prefixes = solvable(random_prefixes(rng, PREFIXES, (5, 6)))
    waves = [prefixes[100 + 40 * n : 100 + 40 * (n + 1)] for n in range(5)]
    schedule = (
        Schedule()
        .every(2.5, Fault.KILL_WORKER, start_s=2.0, until_s=RUN_S * 0.85)
        .every(12.0, Fault.CUT_CONNECTIONS, start_s=5.0, until_s=RUN_S * 0.85)
        .at(10.0, Fault.HANG_WORKER, duration_s=LEASE_TTL_S * 2)
        .at(45.0, Fault.HANG_WORKER, duration_s=LEASE_TTL_S * 3)
        .at(15.0, Fault.SCALE_UP)
        .at(25.0, Fault.SCALE_DOWN)
        .at(50.0, Fault.SCALE_UP)
        .at(60.0, Fault.SCALE_DOWN)
        .at(35.0, Fault.EVICT_WORKER)
        .at(70.0, Fault.EVICT_WORKER)
        .at(30.0, Fault.KILL_REDIS, duration_s=3.0)
        .at(65.0, Fault.KILL_REDIS, duration_s=5.0)
        .push(20.0, bad_items())
        .push(40.0, valid_odd_items())
        .push(55.0, prefixes[:20])  # again, once solved: answered alike from the record
    )
    for n, wave in enumerate(waves):
        schedule.push(8.0 + 11.0 * n, wave)
    ballast = ballast_for(RUN_S * 0.75, WORKERS, usable_cpus(), "soak")
    hidden = [needle_for(RUN_S * 0.1, WORKERS, usable_cpus(), f"soak {n}", rng) for n in range(3)]

    with Cluster(
        RedisBackend(redis_server),
        tmp_path / "logs",
        WORKERS,
        LEASE_TTL_S,
        seed=2024,
        redis_server=redis_server,
    ) as cluster:
        outcome = cluster.run([*prefixes[:100], *hidden, ballast], schedule, deadline_s=RUN_S * 6)

    print(f"\nsoak: {outcome.figures.summary()}")
    outcome.assert_clean()
    odd_solved = sum(1 for _, expectation in valid_odd_items() if isinstance(expectation, Solve))
    assert outcome.figures.results == PREFIXES + 20 + len(hidden) + odd_solved
    assert outcome.figures.faults[Fault.KILL_REDIS.value] == 2
