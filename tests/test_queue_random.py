"""Random schedules of pushes, claims, reports, hand-backs and deaths, played on both backends.

The two backends must not only each keep every item; given the same schedule
they must hand out the same chunks and write the same records.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from findhash.queue import Lease, Queue
from tests.queue_support import T0, TTL_MS, QueueHarness, drain, scan
from tests.redis_server import RedisServer

ITEMS = [
    "0ce", "0CE", "a1", "fff", "b0b", "nothex", "", "0" * 20,
    '{"prefix": "ab", "alphabet": "xy", "max_length": 3}',
    '{"prefix": "7", "alphabet": "xy", "max_length": 2}',
    '{"prefix": "c4", "message": "m"}',
]  # fmt: skip


@pytest.fixture
def both(memory_redis_server: RedisServer, tmp_path: Path) -> Iterator[list[QueueHarness]]:
    server = memory_redis_server
    harnesses = [
        QueueHarness("redis", server.url, redis.Redis.from_url(server.url)),
        QueueHarness("sqlite", str(tmp_path / "queue.sqlite3")),
    ]
    yield harnesses
    for harness in harnesses:
        harness.close_all()
        harness.assert_accounted()


def play(harness: QueueHarness, seed: int) -> list[Any]:
    """Run the schedule drawn from `seed`; return what a person could observe of it."""
    chooser = random.Random(seed)
    queue = harness.open(max_attempts=3)
    held: list[Lease] = []
    seen: list[Any] = []
    now = T0
    for _ in range(60):
        action = chooser.choice(["push", "claim", "claim", "report", "release", "wait"])
        if action == "push":
            harness.push(queue, chooser.sample(ITEMS, k=chooser.randint(1, 3)))
        elif action == "claim":
            lease = queue.claim("w", chooser.choice([3, 50, 700]), now_ms=now)
            seen.append(None if lease is None else (lease.start, lease.count, lease.prefixes))
            if lease is not None:
                held.append(lease)
        elif action == "report" and held:
            lease = held.pop(chooser.randrange(len(held)))
            seen.append(queue.report(lease, *scan(lease), now_ms=now))
        elif action == "release" and held:
            queue.release(held.pop(chooser.randrange(len(held))), now_ms=now)
        elif action == "wait":
            now += chooser.choice([1, TTL_MS // 2, TTL_MS])
    drain(queue, now_ms=now + TTL_MS, max_count=500)
    return [seen, *_observed(queue)]


def _observed(queue: Queue) -> list[Any]:
    def strip(record: dict[str, Any]) -> str:
        record = {key: value for key, value in record.items() if not key.endswith("_at")}
        return json.dumps(record, sort_keys=True)

    return [
        sorted(strip(record) for record in queue.results()),
        sorted(strip(record) for record in queue.failed()),
        [strip(record) for record in queue.poison()],
    ]


@pytest.mark.parametrize("seed", range(16))
def test_both_backends_play_a_random_schedule_alike(both: list[QueueHarness], seed: int) -> None:
    on_redis, on_sqlite = (play(harness, seed) for harness in both)

    assert on_redis == on_sqlite


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(16, 1000))
def test_both_backends_play_many_more_random_schedules_alike(
    both: list[QueueHarness], seed: int
) -> None:
    on_redis, on_sqlite = (play(harness, seed) for harness in both)

    assert on_redis == on_sqlite
