"""The queue on Redis: state in keys under the queue's name, every change one Lua script.

The key layout keeps the walkthrough working: `job` is a plain list that
`redis-cli rpush` fills, `job:processing`, `job:results` and `job:failed` are
lists a person can read with `lrange`. Everything else under `job:` is the
queue's own bookkeeping (see lua/_keys.lua).
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import redis

from findhash.engine.scanner import Hit
from findhash.queue import items as records
from findhash.queue.base import (
    DEFAULT_INTAKE_BATCH,
    DEFAULT_LEASE_TTL_S,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_NAME,
    MAX_INTAKE_ROUNDS,
    REAP_BATCH,
    Lease,
    Queue,
    QueueCounts,
    QueueUnavailable,
    SpaceView,
    WorkerStatus,
    check_options,
    poison_warning,
)
from findhash.queue.redis_scripts import key_of, queue_keys, register_scripts
from findhash.space import Space
from findhash.targets import DEFAULT_MAX_FEASIBLE_DIGITS

log = logging.getLogger(__name__)

PUSH_BATCH = 1000
FORGET_BATCH = 50
CONNECT_TIMEOUT_S = 10.0
SOCKET_TIMEOUT_S = 30.0


def redact(url: str) -> str:
    """The URL with its password replaced, fit for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = f"{parts.username}:" if parts.username else ":"
    return urlunsplit(parts._replace(netloc=f"{user}***@{host}"))


@contextlib.contextmanager
def _unavailable_as_queue_error(url: str) -> Iterator[None]:
    """Driver errors that a retry may cure become QueueUnavailable, at this edge only."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError) as error:
        raise QueueUnavailable(f"Redis at {url} is unavailable: {error}") from error


class RedisQueue(Queue):
    def __init__(
        self,
        url: str,
        name: str = DEFAULT_NAME,
        lease_ttl_s: float = DEFAULT_LEASE_TTL_S,
        max_feasible_digits: int | None = DEFAULT_MAX_FEASIBLE_DIGITS,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        intake_batch: int = DEFAULT_INTAKE_BATCH,
    ) -> None:
        check_options(lease_ttl_s, max_attempts, intake_batch)
        self.name = name
        self.lease_ttl_s = lease_ttl_s
        self.max_feasible_digits = max_feasible_digits
        self.max_attempts = max_attempts
        self.intake_batch = intake_batch
        self.url = redact(url)
        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=SOCKET_TIMEOUT_S
        )
        self.keys = queue_keys(name)
        self.scripts = register_scripts(self.client)
        self._spaces: dict[str, SpaceView] = {}
        log.info("Using Redis queue %s at %s.", name, self.url)

    def _key(self, suffix: str) -> str:
        return key_of(self.name, suffix)

    def _run(self, script: str, args: Sequence[object]) -> Any:
        with _unavailable_as_queue_error(self.url):
            encodable: list[Any] = list(args)
            return self.scripts[script](keys=self.keys, args=encodable)

    def push(self, items: Iterable[str]) -> int:
        pushed = 0
        batch: list[str] = []
        with _unavailable_as_queue_error(self.url):
            for item in items:
                batch.append(item)
                if len(batch) >= PUSH_BATCH:
                    pushed += self._push_batch(batch)
            pushed += self._push_batch(batch)
        log.debug("Pushed %d items to %s.", pushed, self.name)
        return pushed

    def _push_batch(self, batch: list[str]) -> int:
        if batch:
            self.client.rpush(self.name, *batch)
        count = len(batch)
        batch.clear()
        return count

    def claim(self, worker_id: str, max_count: int, now_ms: int | None = None) -> Lease | None:
        if max_count < 1:
            raise ValueError(f"max_count must be at least 1, got {max_count}")
        for _ in range(MAX_INTAKE_ROUNDS):
            intake, raw_items, lease, poisoned = self._run(
                "claim",
                [
                    worker_id, max_count, _now_arg(now_ms), self.lease_ttl_ms,
                    secrets.token_hex(12), secrets.token_hex(12), self.intake_batch,
                    self.max_attempts, self._known_versions(), REAP_BATCH,
                ],
            )  # fmt: skip
            self._log_poison(poisoned)
            if intake is not None:
                lease = self._admit(intake, raw_items, now_ms, worker_id, max_count)
            if lease is not None:
                return self._lease_from(lease, worker_id)
            if intake is None:
                return None
        return None

    def _known_versions(self) -> str:
        return json.dumps({sid: view.version for sid, view in self._spaces.items()})

    def _admit(
        self,
        intake: bytes,
        raw_items: list[bytes],
        now_ms: int | None,
        worker_id: str,
        max_count: int,
    ) -> list[Any] | None:
        """Judge an intake's items here, in Python; the admit script opens them and leases."""
        spaces: dict[str, dict[str, str]] = {}
        verdicts: list[dict[str, str]] = []
        for raw in raw_items:
            verdict = records.judge(raw, self.max_feasible_digits)
            if isinstance(verdict, records.Rejected):
                verdicts.append({"record": verdict.record})
                continue
            size = verdict.space.size
            spaces.setdefault(
                verdict.space_id,
                {"params": records.dump(verdict.space.to_dict()), "size": str(size or "")},
            )
            verdicts.append(
                {"sid": verdict.space_id, "prefix": verdict.prefix, "stub": verdict.stub}
            )
        payload = records.dump({"spaces": spaces, "items": verdicts})
        args = [intake, _now_arg(now_ms), payload, worker_id, max_count, self.lease_ttl_ms]
        args += [secrets.token_hex(12), self._known_versions()]
        opened, failed, answered, lease = self._run("admit", args)
        if opened < 0:
            log.debug("Intake of %d items was taken over by another claim.", len(raw_items))
        else:
            log.debug("Admitted %d items, answered %d at once.", opened, answered)
        if failed:
            log.info("%d items cannot be searched; see %s:failed for why.", failed, self.name)
        result: list[Any] | None = lease
        return result

    def _lease_from(self, reply: list[Any], worker_id: str) -> Lease:
        token, sid_bytes, seq, start, count, attempt, expires, version, *news = reply
        sid = sid_bytes.decode()
        view = self._update_view(sid, int(version), *news)
        lease = Lease(
            token=token.decode(),
            space=view.space,
            start=int(start),
            count=int(count),
            prefixes=view.prefixes,
            space_id=sid,
            seq=int(seq),
            attempt=int(attempt),
            worker_id=worker_id,
            expires_at_ms=int(expires),
        )
        log.debug("Leased %d candidates from %d (attempt %d).", lease.count, lease.start, attempt)
        return lease

    def _update_view(
        self,
        sid: str,
        version: int,
        params: bytes | None,
        members: list[bytes] | None,
        changes: list[bytes] | None,
    ) -> SpaceView:
        """What the claim taught about the space: its prefixes in full, or the changes since."""
        view = self._spaces.get(sid)
        space = Space(**json.loads(params)) if params is not None else _known(view).space
        if members is not None:
            prefixes = tuple(member[len(sid) + 1 :].decode() for member in members)
        elif changes is not None:
            prefixes = _apply(_known(view).prefixes, changes)
        else:
            prefixes = _known(view).prefixes
        view = SpaceView(space, version, prefixes)
        self._spaces[sid] = view
        return view

    def _log_poison(self, poisoned: list[bytes]) -> None:
        for record in poisoned:
            poison_warning(record, self.name)

    def renew(self, lease: Lease, now_ms: int | None = None) -> bool:
        code = self._run("renew", [lease.token, _now_arg(now_ms), self.lease_ttl_ms])
        return bool(code == 1)

    def report(
        self, lease: Lease, hits: Mapping[str, Hit], hashed: int, now_ms: int | None = None
    ) -> bool:
        payload = records.offered_hits(lease.space, lease.start, hits)
        for hit in payload:
            hit["offset"] = str(hit["offset"])
        args = [lease.token, lease.space_id, str(hashed), _now_arg(now_ms), records.dump(payload)]
        finished, solved = self._run("report", args)
        if solved:
            log.info("Recorded answers for %d items.", solved)
        return bool(finished)

    def release(self, lease: Lease, now_ms: int | None = None) -> None:
        code, record = self._run("release", [lease.token, _now_arg(now_ms), self.max_attempts])
        if code == 2:
            self._log_poison([record])

    def is_complete(self) -> bool:
        pending, processing, *_ = self._lengths()
        return pending == 0 and processing == 0

    def counts(self) -> QueueCounts:
        return QueueCounts(*self._lengths())

    def _lengths(self) -> list[int]:
        """The four list lengths, read in one transaction so that they agree."""
        with _unavailable_as_queue_error(self.url):
            pipe = self.client.pipeline(transaction=True)
            for suffix in ("", ":processing", ":results", ":failed"):
                pipe.llen(self._key(suffix))
            return [int(length) for length in pipe.execute()]

    def _records(self, suffix: str, start: int) -> list[dict[str, Any]]:
        with _unavailable_as_queue_error(self.url):
            texts = self.client.lrange(self._key(suffix), start, -1)
        return [records.load(text) for text in texts]

    def results(self, start: int = 0) -> list[dict[str, Any]]:
        return self._records(":results", start)

    def failed(self, start: int = 0) -> list[dict[str, Any]]:
        return self._records(":failed", start)

    def poison(self) -> list[dict[str, Any]]:
        return self._records(":poison", 0)

    def items(self) -> list[str]:
        with _unavailable_as_queue_error(self.url):
            pipe = self.client.pipeline(transaction=True)
            for suffix in ("", ":processing", ":results", ":failed"):
                pipe.lrange(self._key(suffix), 0, -1)
            pending, processing, solved, failed = pipe.execute()
        raw = [item.decode(errors="replace") for item in (*pending, *processing)]
        return raw + [records.load(text)["item"] for text in (*solved, *failed)]

    def heartbeat(
        self, worker_id: str, hashes_per_second: float, threads: int, now_ms: int | None = None
    ) -> None:
        info = records.dump({"hashes_per_second": hashes_per_second, "threads": threads})
        self._run(
            "heartbeat",
            [worker_id, info, _now_arg(now_ms), self.worker_stale_ms, FORGET_BATCH],
        )

    def workers(self, now_ms: int | None = None) -> list[WorkerStatus]:
        with _unavailable_as_queue_error(self.url):
            if now_ms is None:
                seconds, microseconds = self.client.time()
                now_ms = seconds * 1000 + microseconds // 1000
            live = cast(
                "list[bytes]",
                self.client.zrangebyscore(
                    self._key(":workers:seen"), now_ms - self.worker_stale_ms, "+inf"
                ),
            )
            texts = self.client.hmget(self._key(":workers"), live) if live else []
        statuses = []
        for worker_id, text in zip(live, texts, strict=True):
            if text is None:
                continue
            info = records.load(text)
            statuses.append(
                WorkerStatus(
                    worker_id=worker_id.decode(errors="replace"),
                    hashes_per_second=float(info["hashes_per_second"]),
                    threads=int(info["threads"]),
                    last_seen_ms=int(info["last_seen_ms"]),
                )
            )
        return statuses

    def stats(self) -> dict[str, Any]:
        with _unavailable_as_queue_error(self.url):
            counters = self.client.hgetall(self._key(":stats"))
            active = cast("list[bytes]", self.client.zrange(self._key(":active"), 0, -1))
            sids = [sid.decode() for sid in active]
            pipe = self.client.pipeline(transaction=False)
            for sid in sids:
                pipe.zrangebylex(self._key(":targets"), f"[{sid}:", f"({sid};")
                pipe.hmget(self._key(":space:state"), f"{sid}:hashed", f"{sid}:cursor")
            pipe.hlen(self._key(":leases"))
            pipe.llen(self._key(":returned"))
            replies = pipe.execute()
        spaces = []
        for position, sid in enumerate(sids):
            members, (hashed, cursor) = replies[2 * position], replies[2 * position + 1]
            lengths = [len(member) - len(sid) - 1 for member in members]
            spaces.append(_space_stats(sid, lengths, hashed, cursor))
        return {
            "hashes": int(counters.get(b"hashes", 0)),
            "claims": int(counters.get(b"claims", 0)),
            "reports": int(counters.get(b"reports", 0)),
            "poisoned": int(counters.get(b"poisoned", 0)),
            "leases": int(replies[-2]),
            "returned": int(replies[-1]),
            "open_prefix_lengths": [length for space in spaces for length in space["lengths"]],
            "spaces": spaces,
        }

    def close(self) -> None:
        self.client.close()


def _space_stats(sid: str, lengths: list[int], hashed: bytes, cursor: bytes) -> dict[str, Any]:
    return {
        "space_id": sid,
        "open": len(lengths),
        "lengths": sorted(lengths),
        "hashed": int(hashed or 0),
        "cursor": int(cursor or 0),
    }


def _known(view: SpaceView | None) -> SpaceView:
    if view is None:
        raise RuntimeError("the claim script omitted a space this client does not know")
    return view


def _apply(prefixes: tuple[str, ...], changes: list[bytes]) -> tuple[str, ...]:
    """Prefixes after the changes, "+<prefix>" opened and "-<prefix>" closed, in order."""
    current = set(prefixes)
    for change in changes:
        text = change.decode()
        if text[0] == "+":
            current.add(text[1:])
        else:
            current.discard(text[1:])
    return tuple(sorted(current))


def _now_arg(now_ms: int | None) -> str:
    return "" if now_ms is None else str(int(now_ms))
