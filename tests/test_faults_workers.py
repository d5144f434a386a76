"""Workers crash, hang, get evicted and scaled while they work: no item is lost or doubled."""

from __future__ import annotations

import random
from pathlib import Path

from findhash.cpus import usable_cpus
from tests.harness.cluster import Cluster, RedisBackend
from tests.harness.corpus import ballast_for, needle_for, random_prefixes, solvable
from tests.harness.faults import Fault, Schedule
from tests.redis_server import RedisServer

WORKERS = 6
LEASE_TTL_S = 3.0


def test_many_prefixes_survive_crashes_a_hang_evictions_and_scaling(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    rng = random.Random(7)
    prefixes = random_prefixes(rng, 60, (4, 5))
    first, later = prefixes[:30], prefixes[30:]
    ballast = ballast_for(10.0, WORKERS, usable_cpus(), "workers")
    hidden = needle_for(4.0, WORKERS, usable_cpus(), "workers", rng)
    schedule = (
        Schedule()
        .every(2.0, Fault.KILL_WORKER, start_s=1.0, until_s=11.0)
        .at(3.0, Fault.HANG_WORKER, duration_s=LEASE_TTL_S * 2)
        .at(4.0, Fault.SCALE_UP)
        .at(5.0, Fault.SCALE_DOWN)
        .at(6.5, Fault.EVICT_WORKER)
        .at(7.0, Fault.SCALE_UP)
        .at(8.5, Fault.SCALE_DOWN)
        .push(2.0, solvable(later[:15]))
        .push(6.0, solvable(later[15:]))
        .push(8.0, solvable(first[:5]))  # again, once solved: answered alike from the record
    )
    with Cluster(
        RedisBackend(redis_server), tmp_path / "logs", WORKERS, LEASE_TTL_S, seed=7
    ) as cluster:
        outcome = cluster.run([*solvable(first), hidden, ballast], schedule, deadline_s=120)

    print(outcome.figures.summary())
    outcome.assert_clean()
    assert outcome.figures.faults[Fault.KILL_WORKER.value] >= 4
    assert outcome.figures.faults[Fault.HANG_WORKER.value] == 1
    assert outcome.figures.results == 60 + 5 + 1
