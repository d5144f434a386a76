"""Helpers for the queue conformance suite: a harness per backend, and a worker in miniature.

The harness remembers every item pushed, by any route, and after each test checks
on the raw data left behind that each one is in exactly one of pending,
processing, results or failed, and that nothing in processing is stranded.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter
from collections.abc import Iterable
from typing import Any

import redis

from findhash.engine.scanner import Hit, Scanner
from findhash.queue import Lease, Queue, connect
from findhash.queue.items import ITEM_EXCERPT_CHARS
from findhash.queue.redis_scripts import queue_keys
from findhash.space import Space

T0 = 1_700_000_000_000
TTL_S = 10.0
TTL_MS = int(TTL_S * 1000)

_INTAKE_ITEMS = "return cmsgpack.unpack(redis.call('HGET', KEYS[1], ARGV[1]))"


class QueueHarness:
    """Queues of one backend on one store, and the ledger of what was pushed to it."""

    def __init__(self, kind: str, url: str, client: redis.Redis | None = None) -> None:
        self.kind = kind
        self.url = url
        self.client = client
        self.name = "job"
        self.pushed: Counter[str] = Counter()
        self._opened: list[Queue] = []

    def open(self, **options: Any) -> Queue:
        options.setdefault("lease_ttl_s", TTL_S)
        queue = connect(self.url, self.name, **options)
        self._opened.append(queue)
        return queue

    def push(self, queue: Queue, items: Iterable[str]) -> None:
        items = list(items)
        assert queue.push(items) == len(items)
        self.pushed.update(items)

    def rpush(self, *items: str | bytes) -> None:
        """Push the way `redis-cli rpush job ...` does, past the findhash client."""
        assert self.client is not None
        self.client.rpush(self.name, *items)
        self.pushed.update(_text(item) for item in items)

    def close_all(self) -> None:
        for queue in self._opened:
            queue.close()

    def assert_accounted(self) -> None:
        if not self._opened:
            return
        if self.kind == "redis":
            self._assert_redis_accounted()
        else:
            self._assert_sqlite_accounted()

    def _assert_redis_accounted(self) -> None:
        assert self.client is not None
        places = ("pending", "processing", "results", "failed")
        keys = dict(zip(places, queue_keys(self.name)[:4], strict=True))
        lists = {place: self.client.lrange(key, 0, -1) for place, key in keys.items()}
        raw = [_text(item) for item in lists["pending"] + lists["processing"]]
        held = _held(raw, lists["results"], lists["failed"], self.pushed)
        assert held == self.pushed
        waiting: Counter[str] = Counter()
        for text in self.client.hvals(f"{self.name}:target"):
            waiting.update(entry["item"] for entry in json.loads(text)["items"])
        for token in self.client.hkeys(f"{self.name}:intake"):
            items = self.client.eval(_INTAKE_ITEMS, 1, f"{self.name}:intake", token)
            waiting.update(_text(item) for item in items)
        assert Counter(_text(item) for item in lists["processing"]) == waiting, "stranded items"

    def _assert_sqlite_accounted(self) -> None:
        db = sqlite3.connect(self.url)
        try:
            rows = {
                place: db.execute(f'SELECT item FROM "{self.name}{suffix}" ORDER BY id').fetchall()
                for place, suffix in (("pending", ""), ("processing", ":processing"))
            }
            records = {
                place: [r for (r,) in db.execute(f'SELECT record FROM "{self.name}:{place}"')]
                for place in ("results", "failed")
            }
            stranded = db.execute(
                f'SELECT COUNT(*) FROM "{self.name}:processing" p WHERE NOT EXISTS'
                f' (SELECT 1 FROM "{self.name}:targets" t'
                " WHERE t.sid = p.sid AND t.prefix = p.prefix)"
            ).fetchone()[0]
        finally:
            db.close()
        raw = [item for (item,) in rows["pending"] + rows["processing"]]
        held = _held(raw, records["results"], records["failed"], self.pushed)
        assert held == self.pushed
        assert stranded == 0, "items in processing wait on no open prefix"


def _held(
    raw: list[str], results: list[Any], failed: list[Any], pushed: Counter[str]
) -> Counter[str]:
    """The items found in the four places; a failed record's cut item counts as its original."""
    originals = {(excerpt(item), len(item)): item for item in pushed}
    held = Counter(raw)
    for text in results:
        record = json.loads(text)
        check_answer(record)
        held[record["item"]] += 1
    for text in failed:
        record = json.loads(text)
        assert record["reason"], record
        length = record.get("item_length", len(record["item"]))
        held[originals.get((record["item"], length), record["item"])] += 1
    return held


def check_answer(record: dict[str, Any]) -> None:
    digest = hashlib.new(record["algorithm"], record["input"].encode()).hexdigest()
    assert digest == record["digest"] and digest.startswith(record["prefix"]), record


def excerpt(item: str) -> str:
    return item if len(item) <= ITEM_EXCERPT_CHARS else item[:ITEM_EXCERPT_CHARS] + "..."


def _text(item: str | bytes) -> str:
    return item.decode("utf-8", errors="replace") if isinstance(item, bytes) else item


def scan(lease: Lease) -> tuple[dict[str, Hit], int]:
    result = Scanner(lease.space, lease.prefixes, "python").scan(lease.start, lease.count)
    return result.hits, result.hashed


def work_once(queue: Queue, now_ms: int, max_count: int = 2000, worker: str = "w") -> Lease | None:
    """Claim, scan and report one chunk, as a worker would; return the lease it worked on."""
    lease = queue.claim(worker, max_count, now_ms=now_ms)
    if lease is not None:
        hits, hashed = scan(lease)
        assert queue.report(lease, hits, hashed, now_ms=now_ms)
    return lease


def drain(queue: Queue, now_ms: int = T0, max_count: int = 2000, limit: int = 500) -> int:
    """Work until the queue is complete; return the number of chunks it took."""
    for chunks in range(limit):
        if queue.is_complete():
            return chunks
        if work_once(queue, now_ms, max_count) is None and not queue.is_complete():
            raise AssertionError("nothing to lease, yet the queue is not complete")
    raise AssertionError(f"queue not complete after {limit} chunks")


def first_hit(space: Space, prefix: str, limit: int = 10**6) -> int:
    """The index of the first candidate of `space` whose digest starts with `prefix`."""
    for index in range(limit if space.size is None else min(limit, space.size)):
        digest = hashlib.new(space.algorithm, space.candidate(index).encode()).hexdigest()
        if digest.startswith(prefix):
            return index
    raise LookupError(prefix)


def hit_at(space: Space, prefix: str, index: int) -> Hit:
    candidate = space.candidate(index)
    digest = hashlib.new(space.algorithm, candidate.encode()).hexdigest()
    return Hit(prefix, index, space.nonce(index), candidate, digest, space.algorithm)


def absent_prefix(space: Space, digits: int = 4) -> str:
    """A prefix that no candidate of the (finite) space has."""
    assert space.size is not None
    seen = {
        hashlib.new(space.algorithm, space.candidate(i).encode()).hexdigest()[:digits]
        for i in range(space.size)
    }
    for value in range(16**digits):
        prefix = f"{value:0{digits}x}"
        if prefix not in seen:
            return prefix
    raise LookupError("every prefix occurs")
