"""The Redis queue on its own: raw keys, the scripts themselves, and a server that goes away."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from findhash.queue import QueueUnavailable, connect
from findhash.queue.items import space_id
from findhash.queue.redis_queue import RedisQueue, redact
from findhash.queue.redis_scripts import KEY_SUFFIXES, SCRIPT_NAMES, script_source
from findhash.space import Space
from tests.queue_support import (
    T0,
    TTL_MS,
    TTL_S,
    QueueHarness,
    drain,
    first_hit,
    scan,
    work_once,
)
from tests.redis_server import RedisServer

LUA = resources.files("findhash.queue") / "lua"
# Every command the scripts may call: all of them exist in Redis 6.2 and Valkey.
COMMANDS_IN_6_2 = {
    "DEL", "HDEL", "HEXISTS", "HGET", "HINCRBY", "HMGET", "HSET", "HSETNX", "LPOP", "LPUSH",
    "LRANGE", "LREM", "RPUSH", "TIME", "ZADD", "ZCARD", "ZRANGE", "ZRANGEBYLEX",
    "ZRANGEBYSCORE", "ZREM", "ZREMRANGEBYLEX",
}  # fmt: skip


@pytest.fixture
def harness(memory_redis_server: RedisServer) -> Iterator[QueueHarness]:
    server = memory_redis_server
    harness = QueueHarness("redis", server.url, redis.Redis.from_url(server.url))
    yield harness
    harness.close_all()
    harness.assert_accounted()


def test_items_pushed_with_plain_rpush_are_searched(harness: QueueHarness) -> None:
    queue = harness.open()
    harness.rpush("0ce", "babaca")
    assert harness.client is not None
    assert harness.client.lrange("job", 0, -1) == [b"0ce", b"babaca"]

    lease = queue.claim("w", 100, now_ms=T0)

    assert lease is not None and sorted(lease.prefixes) == ["0ce", "babaca"]
    assert harness.client.lrange("job", 0, -1) == []
    assert harness.client.lrange("job:processing", 0, -1) == [b"0ce", b"babaca"]


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli is not installed")
def test_the_walkthrough_with_redis_cli_works(
    harness: QueueHarness, memory_redis_server: RedisServer
) -> None:
    cli = ["redis-cli", "-p", str(memory_redis_server.port)]
    subprocess.run([*cli, "rpush", "job", "0ce"], check=True, capture_output=True)
    harness.pushed.update(["0ce"])
    queue = harness.open()

    drain(queue)

    shown = subprocess.run(
        [*cli, "lrange", "job:results", "0", "-1"], check=True, capture_output=True, text=True
    ).stdout
    [record] = [json.loads(line) for line in shown.splitlines()]
    assert record["item"] == "0ce" and record["digest"].startswith("0ce")
    assert subprocess.run([*cli, "llen", "job"], capture_output=True, text=True).stdout == "0\n"


def test_the_lists_a_person_reads_hold_what_the_walkthrough_says(harness: QueueHarness) -> None:
    queue = harness.open()
    harness.rpush("0ce", "nothex", "babaca")
    client = harness.client
    assert client is not None

    work_once(queue, T0, max_count=8000)

    assert client.lrange("job", 0, -1) == []
    assert client.lrange("job:processing", 0, -1) == [b"babaca"]
    [result] = [json.loads(text) for text in client.lrange("job:results", 0, -1)]
    assert {"prefix", "input", "nonce", "digest", "algorithm", "tries", "item", "index"} <= set(
        result
    )
    [failure] = [json.loads(text) for text in client.lrange("job:failed", 0, -1)]
    assert failure["item"] == "nothex" and "'n' at position 1" in failure["reason"]


def test_every_key_the_queue_writes_is_one_of_its_declared_keys(harness: QueueHarness) -> None:
    queue = harness.open()
    harness.rpush("0ce", "bab", '{"prefix": "ab", "alphabet": "xy", "max_length": 2}')
    queue.heartbeat("w", 1.0, 1, now_ms=T0)
    lease = queue.claim("w", 100, now_ms=T0)
    assert lease is not None
    queue.release(lease, now_ms=T0)
    drain(queue, max_count=5000)
    assert harness.client is not None

    written = {key.decode() for key in harness.client.scan_iter("*")}

    assert written <= {"job" + suffix for suffix in KEY_SUFFIXES}


def test_an_intake_whose_claimer_died_is_taken_up_after_its_deadline(
    harness: QueueHarness,
) -> None:
    queue = harness.open()
    assert isinstance(queue, RedisQueue)
    harness.rpush("0ce", "zz")
    # The first half of a claim, from a worker that dies before admitting.
    token, items, lease, _ = _bare_claim(queue, T0)
    assert (token, items, lease) == (b"intake-dead", [b"0ce", b"zz"], None)

    assert queue.claim("w", 100, now_ms=T0 + 1) is None
    retaken = queue.claim("w", 100, now_ms=T0 + TTL_MS)

    assert retaken is not None and retaken.prefixes == ("0ce",)
    assert [record["item"] for record in queue.failed()] == ["zz"]


def test_an_admit_after_its_intake_was_taken_over_changes_nothing(harness: QueueHarness) -> None:
    queue = harness.open()
    assert isinstance(queue, RedisQueue)
    harness.rpush("zz")
    _bare_claim(queue, T0)
    assert queue.claim("w", 100, now_ms=T0 + TTL_MS) is None
    verdicts = json.dumps({"spaces": {}, "items": [{"record": '{"item":"zz","reason":"x"}'}]})

    reply = queue.scripts["admit"](
        keys=queue.keys, args=["intake-dead", T0, verdicts, "w", 10, TTL_MS, "t", "{}"]
    )

    assert reply[:3] == [-1, 0, 0]
    assert len(queue.failed()) == 1


def _bare_claim(queue: RedisQueue, now_ms: int) -> list[object]:
    args: list[Any] = ["dead", 100, now_ms, TTL_MS, "lease-dead", "intake-dead", 200, 5, "{}", 100]
    reply: list[object] = queue.scripts["claim"](keys=queue.keys, args=args)
    return reply


def test_an_item_that_is_not_utf8_fails_as_invalid(harness: QueueHarness) -> None:
    queue = harness.open()
    harness.rpush(b"0c\xff", "0ce")

    drain(queue)

    [record] = queue.failed()
    assert "not valid UTF-8" in record["reason"]


def test_indices_past_two_to_the_64_stay_exact(harness: QueueHarness) -> None:
    queue = harness.open()
    harness.rpush("babaca")
    first = queue.claim("w", 10, now_ms=T0)
    assert first is not None and harness.client is not None
    huge = 2**64 + 12345
    sid = space_id(Space())
    harness.client.hset("job:space:state", f"{sid}:cursor", str(huge))
    harness.client.hset("job:stats", "hashes", str(2**70))

    second = queue.claim("w", 1000, now_ms=T0)
    third = queue.claim("w", 1000, now_ms=T0)
    assert second is not None and third is not None
    queue.report(second, {}, 1000, now_ms=T0)

    assert (second.start, third.start) == (huge, huge + 1000)
    assert queue.stats()["hashes"] == 2**70 + 1000


@pytest.fixture(scope="module")
def decimal_lua(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.commands.core.Script]:
    """_decimal.lua behind a tiny dispatcher, on one server for all of hypothesis's examples."""
    server = RedisServer(tmp_path_factory.mktemp("decimal"), appendonly=False)
    server.start()
    source = (LUA / "_decimal.lua").read_text() + (
        "\nreturn {dec_add(ARGV[1], ARGV[2]), dec_sub(ARGV[3], ARGV[4]), dec_cmp(ARGV[1], ARGV[2])}"
    )
    try:
        yield redis.Redis.from_url(server.url).register_script(source)
    finally:
        server.kill()


@settings(max_examples=150, deadline=None)
@given(a=st.integers(0, 10**40), b=st.integers(0, 10**40))
def test_decimal_arithmetic_in_lua_matches_python(
    decimal_lua: redis.commands.core.Script, a: int, b: int
) -> None:
    big, small = max(a, b), min(a, b)
    added, subtracted, compared = decimal_lua(keys=[], args=[a, b, big, small])
    assert added.decode() == str(a + b)
    assert subtracted.decode() == str(big - small)
    assert compared == (a > b) - (a < b)


@pytest.mark.parametrize("script", SCRIPT_NAMES)
def test_every_script_header_names_its_arguments_and_returns(script: str) -> None:
    text = (LUA / f"{script}.lua").read_text()
    header = text.split("--@include")[0]
    used = set(re.findall(r"ARGV\[(\d+)\]", text.split("--@include")[-1]))

    assert "KEYS:" in header and "Returns" in header
    for number in used:
        assert re.search(rf"^-- ARGV\[{number}\] +\S", header, re.MULTILINE), number


@pytest.mark.parametrize("script", SCRIPT_NAMES)
def test_scripts_use_only_redis_6_2_commands_and_never_scan(script: str) -> None:
    source = script_source(script)
    commands = {name.upper() for name in re.findall(r"redis\.call\('(\w+)'", source)}

    assert commands <= COMMANDS_IN_6_2
    assert "KEYS" not in commands and "SCAN" not in commands
    assert "--@include" not in source


def test_the_key_list_in_lua_matches_the_one_in_python() -> None:
    keys = (LUA / "_keys.lua").read_text()

    numbers = [int(n) for n in re.findall(r"KEYS\[(\d+)\]", keys)]

    assert numbers == list(range(1, len(KEY_SUFFIXES) + 1))


def test_the_queue_survives_a_server_restart(tmp_path: Path) -> None:
    with RedisServer(tmp_path / "durable") as server:
        queue = connect(server.url, lease_ttl_s=TTL_S)
        queue.push(["0ce", "babaca"])
        lease = queue.claim("w", 100, now_ms=T0)
        assert lease is not None

        server.restart()

        # The scripts are loaded again on first use; the state came back from the log.
        assert queue.counts().processing == 2
        again = queue.claim("w", 100, now_ms=T0)
        assert again is not None and again.start == 100
        assert queue.report(lease, *scan(lease), now_ms=T0)
        queue.close()


def test_an_unreachable_server_raises_queue_unavailable(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "gone", appendonly=False)
    server.directory.mkdir()
    server.start()
    queue = connect(server.url)
    server.kill()

    with pytest.raises(QueueUnavailable, match="unavailable"):
        queue.claim("w", 100)
    with pytest.raises(QueueUnavailable):
        queue.counts()
    queue.close()


def test_the_password_never_reaches_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with RedisServer(tmp_path / "secret", password="hunter2-secret", appendonly=False) as server:
        with caplog.at_level(logging.DEBUG, logger="findhash"):
            queue = connect(server.url)
            queue.push(["0ce"])
            queue.claim("w", 10)
            queue.close()
        server.kill()
        with pytest.raises(QueueUnavailable) as failure:
            connect(server.url).counts()

    assert "hunter2-secret" not in caplog.text
    assert "hunter2-secret" not in str(failure.value)
    assert "***" in caplog.text


def test_redact_hides_only_the_password() -> None:
    assert redact("redis://:pw@redis:6379/0") == "redis://:***@redis:6379/0"
    assert redact("rediss://user:pw@host/1") == "rediss://user:***@host/1"
    assert redact("redis://redis:6379") == "redis://redis:6379"


def test_twenty_thousand_pending_items_never_make_one_script_call_long(
    harness: QueueHarness,
) -> None:
    queue = harness.open()
    client = harness.client
    assert client is not None
    harness.rpush(*[f"{value:05x}" for value in range(20_000)])
    client.config_set("slowlog-log-slower-than", 0)
    client.slowlog_reset()

    while client.llen("job"):
        lease = queue.claim("w", 100, now_ms=T0)
        assert lease is not None

    slowest = max(client.slowlog_get(10_000), key=lambda entry: entry["duration"])
    assert slowest["duration"] < 50_000, slowest["command"][:80]
    assert queue.counts().processing == 20_000


def test_lease_times_come_from_the_server_clock(
    harness: QueueHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = harness.open()
    harness.rpush("babaca")
    assert harness.client is not None
    seconds, microseconds = harness.client.time()
    server_now_ms = seconds * 1000 + microseconds // 1000
    # A worker whose clock is an hour fast must not change when its lease ends.
    fast = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: fast)
    monkeypatch.setattr(time, "time_ns", lambda: int(fast * 1e9))

    lease = queue.claim("w", 10)

    assert lease is not None
    assert 0 <= lease.expires_at_ms - (server_now_ms + TTL_MS) < 5_000


def test_a_client_that_knows_a_space_is_sent_only_the_changes(harness: QueueHarness) -> None:
    old = harness.open()
    harness.rpush("babaca")
    assert old.claim("w", 10, now_ms=T0) is not None
    solver = harness.open()
    harness.rpush("c0ffee", "0ce")
    index = first_hit(Space(), "0ce")
    solved = solver.claim("w", index + 1, now_ms=T0)
    assert solved is not None and solver.report(solved, *scan(solved), now_ms=T0)
    assert harness.client is not None
    logged = harness.client.hvals("job:space:changes")

    lease = old.claim("w", 10, now_ms=T0)

    assert lease is not None and lease.prefixes == ("babaca", "c0ffee")
    assert sorted(logged) == [b"+0ce", b"+babaca", b"+c0ffee", b"-0ce"]


def test_a_client_whose_version_left_the_change_log_is_sent_every_prefix(
    harness: QueueHarness,
) -> None:
    old = harness.open()
    harness.rpush("babaca")
    assert old.claim("w", 10, now_ms=T0) is not None
    harness.rpush("c0ffee")
    assert harness.open().claim("w", 10, now_ms=T0) is not None
    assert harness.client is not None
    harness.client.delete("job:space:changes")

    lease = old.claim("w", 10, now_ms=T0)

    assert lease is not None and lease.prefixes == ("babaca", "c0ffee")


@pytest.mark.parametrize("script", SCRIPT_NAMES)
def test_every_script_header_names_the_keys_its_code_uses(script: str) -> None:
    source = script_source(script)
    header = (LUA / f"{script}.lua").read_text().split("--@include")[0]
    named = re.search(r"names these of them:\n((?:--   .*\n)+)", header)

    assert named is not None
    listed = set(re.findall(r"\w+", named.group(1)))
    assert listed == set(re.findall(r"\bK\.(\w+)", source))
