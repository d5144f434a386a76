from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis

from tests.redis_server import RedisServer

if TYPE_CHECKING:
    from tests.queue_support import QueueHarness


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh redis-server with append-only persistence, stopped after the test."""
    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def memory_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh redis-server without persistence: faster, for tests that never restart it."""
    with RedisServer(tmp_path / "redis-memory", appendonly=False) as server:
        yield server


@pytest.fixture(params=["sqlite", "redis"])
def queues(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[QueueHarness]:
    """Queues of each backend on a fresh store; afterwards, every pushed item is accounted for."""
    from tests.queue_support import QueueHarness

    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("memory_redis_server")
        harness = QueueHarness("redis", server.url, redis.Redis.from_url(server.url))
    else:
        harness = QueueHarness("sqlite", str(tmp_path / "queue.sqlite3"))
    yield harness
    harness.close_all()
    harness.assert_accounted()
