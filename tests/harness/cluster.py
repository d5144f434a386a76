"""A cluster in a box: a queue, a Job of real `findhash worker` processes, and faults on a schedule.

`Cluster.run` pushes the first items, starts the pods, then plays the schedule
while it keeps the pods running as the Job controller would. The run ends when
every pod's worker has exited and will not be restarted; the harness then reads
the queue and checks every invariant findhash promises (see `oracle`), and also
that each worker exited 0 on its own, that none logged a traceback, and that no
result the queue had acknowledged was lost to a Redis crash.
"""

from __future__ import annotations

import json
import random
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from findhash.queue import connect
from tests.harness.controller import JobController, Pod, Run
from tests.harness.faults import Event, Fault, Schedule
from tests.harness.oracle import Expectation, Ledger, RawItem, Snapshot, Tally, check
from tests.redis_server import RedisServer

TICK_S = 0.05
# A worker that exits 0 while items are open is premature, unless items arrived
# so recently that it may have found the queue complete just before they did.
PUSH_GRACE_S = 3.0
PUSH_BATCH = 500
TERMINATED_STATUS = 143
# A worker sent SIGTERM hands its chunks back and exits "at once": well within the
# pod's termination grace period (30 s), even when Redis is slow to answer.
TERM_GRACE_S = 10.0


class Backend(Protocol):
    url: str

    def push(self, items: Sequence[RawItem]) -> None: ...

    def open_work(self) -> int: ...

    def snapshot(self) -> Snapshot: ...

    def raw_results(self) -> list[bytes]: ...


class RedisBackend:
    """The queue's keys in a real redis-server, read raw, as `redis-cli` would show them."""

    def __init__(self, server: RedisServer, name: str = "job") -> None:
        self.server = server
        self.name = name
        self.url = server.url

    def client(self) -> redis.Redis:
        # No automatic retries: a push retried after a lost reply would push twice.
        return redis.Redis.from_url(self.url, retry=Retry(NoBackoff(), 0), socket_timeout=10)

    def push(self, items: Sequence[RawItem]) -> None:
        with self.client() as client:
            for start in range(0, len(items), PUSH_BATCH):
                client.rpush(self.name, *items[start : start + PUSH_BATCH])

    def open_work(self) -> int:
        with self.client() as client:
            return int(client.llen(self.name)) + int(client.llen(f"{self.name}:processing"))

    def raw_results(self) -> list[bytes]:
        with self.client() as client:
            return list(client.lrange(f"{self.name}:results", 0, -1))

    def snapshot(self) -> Snapshot:
        with self.client() as client:
            failed = client.lrange(f"{self.name}:failed", 0, -1)
            return Snapshot(
                pending=int(client.llen(self.name)),
                processing=int(client.llen(f"{self.name}:processing")),
                results=[_record(raw) for raw in self.raw_results()],
                failed=[_record(raw) for raw in failed],
            )

    def cut_connections(self) -> int:
        with self.client() as client:
            return int(client.client_kill_filter(_type="normal", skipme=True))


class SqliteBackend:
    """The embedded queue in a file, read through findhash's own queue API."""

    def __init__(self, path: Path, lease_ttl_s: float) -> None:
        self.path = path
        self.url = str(path)
        self.lease_ttl_s = lease_ttl_s

    def push(self, items: Sequence[RawItem]) -> None:
        texts = [item if isinstance(item, str) else item.decode() for item in items]
        with connect(self.url, lease_ttl_s=self.lease_ttl_s) as queue:
            queue.push(texts)

    def open_work(self) -> int:
        with connect(self.url, lease_ttl_s=self.lease_ttl_s) as queue:
            counts = queue.counts()
            return counts.pending + counts.processing

    def raw_results(self) -> list[bytes]:
        with connect(self.url, lease_ttl_s=self.lease_ttl_s) as queue:
            return [json.dumps(record, sort_keys=True).encode() for record in queue.results()]

    def snapshot(self) -> Snapshot:
        with connect(self.url, lease_ttl_s=self.lease_ttl_s) as queue:
            counts = queue.counts()
            return Snapshot(counts.pending, counts.processing, queue.results(), queue.failed())


def _record(raw: bytes) -> dict[str, Any]:
    try:
        record = json.loads(raw)
    except ValueError:
        return {"item": None, "unparsable_record": raw[:200].decode(errors="replace")}
    return record if isinstance(record, dict) else {"item": None, "not_an_object": record}


@dataclass
class Figures:
    """What one run did and what the oracle found, for the test's output and the soak's report."""

    items: int
    workers: int
    pods: int
    restarts: int
    faults: dict[str, int]
    skipped_faults: dict[str, int]
    pushes: int
    records: int
    results: int
    failed: int
    lost: int
    duplicated: int
    invented: int
    wrong: int
    wall_s: float

    def summary(self) -> str:
        faults = ", ".join(f"{kind} {count}" for kind, count in sorted(self.faults.items()))
        return (
            f"{self.items} items, {self.workers} worker processes in {self.pods} pods"
            f" ({self.restarts} restarts), {self.pushes} pushes mid-run;"
            f" faults: {faults or 'none'};"
            f" {self.records} records ({self.results} results, {self.failed} failed);"
            f" lost {self.lost}, duplicated {self.duplicated}, invented {self.invented},"
            f" wrong {self.wrong}; {self.wall_s:.1f} s"
        )


@dataclass
class Outcome:
    figures: Figures
    problems: list[str]
    runs: list[Run]
    snapshot: Snapshot

    def assert_clean(self) -> None:
        shown = "\n".join(f"- {problem}" for problem in self.problems[:25])
        more = len(self.problems) - 25
        assert not self.problems, f"{self.figures.summary()}\n{shown}" + (
            f"\n(and {more} more)" if more > 0 else ""
        )

    def log_text(self) -> str:
        return "\n".join(run.log.read_text(errors="replace") for run in self.runs)


@dataclass
class Cluster:
    """A queue, the pods working on it, and the faults that strike them."""

    backend: Backend
    log_dir: Path
    workers: int
    lease_ttl_s: float = 3.0
    seed: int = 1
    worker_args: Sequence[str] = ()
    redis_server: RedisServer | None = None
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        args = ["--threads", "1", "--lease-ttl-s", str(self.lease_ttl_s), *self.worker_args]
        env = {"REDIS_URL": self.backend.url, **self.env}
        self.controller = JobController(args, env, self.log_dir)
        self.ledger = Ledger()
        self.rng = random.Random(self.seed)
        self.faults: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.pushes = 0
        self.acknowledged: Counter[bytes] = Counter()
        self.problems: list[str] = []
        self._followups: list[tuple[float, Callable[[], None]]] = []
        self._last_push_s = 0.0
        self._started = 0.0

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.controller.kill_all()

    def push(self, entries: Iterable[tuple[RawItem, Expectation]]) -> None:
        entries = list(entries)
        self.backend.push([raw for raw, _ in entries])
        self.ledger.add(entries)
        self._last_push_s = self._now()

    def run(
        self,
        first: Iterable[tuple[RawItem, Expectation]],
        schedule: Schedule,
        deadline_s: float = 180.0,
    ) -> Outcome:
        """Push `first`, start the pods, play `schedule` until the Job completes; then check."""
        self._started = time.monotonic()
        first = list(first)
        if first:
            self.push(first)
        for _ in range(self.workers):
            self.controller.start_pod()
        while not self._complete(schedule):
            if self._now() > deadline_s:
                self._report_overrun(deadline_s)
                break
            self._supervise()
            for event in schedule.due(self._now()):
                self._play(event, schedule)
            self._run_followups()
            time.sleep(TICK_S)
        wall_s = self._now()
        self.controller.kill_all()
        self.skipped.update(event.fault.value for event in schedule.drain())
        return self._outcome(wall_s)

    def _now(self) -> float:
        return time.monotonic() - self._started

    def _complete(self, schedule: Schedule) -> bool:
        if self._followups or not self.controller.finished():
            return False
        if schedule.pushes_left():
            self.problems.append(
                f"every worker had exited at {self._now():.1f} s with {schedule.pushes_left()}"
                " pushes still to come: the run was too short for its schedule"
            )
        return True

    def _supervise(self) -> None:
        for run in self.controller.supervise():
            if not self._redis_reachable() or self._now() - self._last_push_s < PUSH_GRACE_S:
                continue
            open_work = self.backend.open_work()
            if open_work:
                self.problems.append(
                    f"{run.name} exited 0 at {self._now():.1f} s with {open_work} items still open"
                )

    def _redis_reachable(self) -> bool:
        return self.redis_server is None or self.redis_server.process is not None

    def _play(self, event: Event, schedule: Schedule) -> None:
        if event.fault is Fault.PUSH:
            if not self._redis_reachable():
                schedule.postpone(Event(self._now() + 0.2, event.order, Fault.PUSH, 0, event.items))
                return
            self.push(event.items)
            self.pushes += 1
            return
        injected = self._inject(event)
        (self.faults if injected else self.skipped)[event.fault.value] += 1

    def _inject(self, event: Event) -> bool:
        if event.fault is Fault.SCALE_UP:
            return self.controller.start_pod() is not None
        if event.fault in (Fault.KILL_REDIS, Fault.START_REDIS, Fault.CUT_CONNECTIONS):
            return self._strike_redis(event)
        eligible = self.controller.eligible()
        if not eligible:
            return False
        pod = self.rng.choice(eligible)
        if event.fault is Fault.KILL_WORKER:
            return pod.current.send(signal.SIGKILL)
        if event.fault is Fault.EVICT_WORKER:
            pod.evicted = True
            return pod.current.send(signal.SIGTERM)
        if event.fault is Fault.SCALE_DOWN:
            pod.scaled_down = True
            return pod.current.send(signal.SIGTERM)
        if event.fault is Fault.HANG_WORKER:
            return self._hang(pod, event.duration_s or self.lease_ttl_s * 2)
        raise AssertionError(f"unknown fault {event.fault}")

    def _hang(self, pod: Pod, duration_s: float) -> bool:
        run = pod.current
        if not run.send(signal.SIGSTOP):
            return False
        pod.paused = True

        def resume() -> None:
            run.send(signal.SIGCONT)
            pod.paused = False

        self._followups.append((self._now() + duration_s, resume))
        return True

    def _strike_redis(self, event: Event) -> bool:
        server = self.redis_server
        if server is None or not isinstance(self.backend, RedisBackend):
            return False
        if event.fault is Fault.START_REDIS:
            if server.process is not None:
                return False
            server.start()
            return True
        if server.process is None:
            return False
        if event.fault is Fault.CUT_CONNECTIONS:
            self.backend.cut_connections()
            return True
        # What a client could read before the crash was acknowledged, and must survive it.
        self.acknowledged |= Counter(self.backend.raw_results())
        server.kill()

        def restart() -> None:
            server.start()
            self._check_acknowledged("after a restart")

        self._followups.append((self._now() + (event.duration_s or 2.0), restart))
        return True

    def _run_followups(self) -> None:
        due = [followup for followup in self._followups if followup[0] <= self._now()]
        for followup in due:
            self._followups.remove(followup)
            followup[1]()

    def _check_acknowledged(self, when: str) -> None:
        missing = self.acknowledged - Counter(self.backend.raw_results())
        for record in missing:
            self.problems.append(f"acknowledged result lost {when}: {record[:200]!r}")

    def _report_overrun(self, deadline_s: float) -> None:
        alive = [pod.current.name for pod in self.controller.pods if pod.current.alive]
        state = "unreachable"
        if self._redis_reachable():
            snapshot = self.backend.snapshot()
            state = f"{snapshot.pending} pending, {snapshot.processing} processing"
        self.problems.append(
            f"the Job did not complete within {deadline_s:.0f} s: queue {state};"
            f" still running: {alive}"
        )
        for pod in self.controller.pods:
            if pod.current.alive:
                self.problems.append(f"{pod.current.name} log ends:\n{pod.current.log_tail()}")

    def _outcome(self, wall_s: float) -> Outcome:
        snapshot = self.backend.snapshot()
        tally = check(self.ledger, snapshot)
        self._check_acknowledged("at the end")
        self._check_runs()
        problems = [*self.problems, *tally.problems]
        return Outcome(self._figures(tally, wall_s), problems, self.controller.runs, snapshot)

    def _check_runs(self) -> None:
        for pod in self.controller.given_up:
            self.problems.append(f"pod {pod.name} kept failing and was given up on")
        for run in self.controller.runs:
            status = run.returncode
            if "SIGKILL" not in run.signals and status not in self._allowed_statuses(run):
                self.problems.append(
                    f"{run.name} exited with status {status} (signals sent: {run.signals});"
                    f" log ends:\n{run.log_tail()}"
                )
            stopping_s = self._stopping_s(run)
            if stopping_s is not None and stopping_s > TERM_GRACE_S:
                self.problems.append(f"{run.name} took {stopping_s:.1f} s to stop after SIGTERM")
            if "Traceback" in run.log.read_text(errors="replace"):
                self.problems.append(f"{run.name} logged a traceback:\n{run.log_tail(30)}")

    @staticmethod
    def _stopping_s(run: Run) -> float | None:
        sent = run.sent_at.get("SIGTERM")
        if sent is None or run.ended_at is None or "SIGKILL" in run.signals:
            return None
        return run.ended_at - sent

    @staticmethod
    def _allowed_statuses(run: Run) -> tuple[int, ...]:
        # SIGTERM hands the work back and exits 143 (0 when the queue was complete
        # already), so that a Job does not take an evicted pod's exit as the end.
        # A worker still starting up has no handler yet and dies of the signal,
        # which Kubernetes also reports as 143.
        if "SIGTERM" in run.signals:
            return (0, TERMINATED_STATUS, -signal.SIGTERM)
        return (0,)

    def _figures(self, tally: Tally, wall_s: float) -> Figures:
        return Figures(
            items=tally.items,
            workers=len(self.controller.runs),
            pods=len(self.controller.pods),
            restarts=sum(pod.restarts for pod in self.controller.pods),
            faults=dict(self.faults),
            skipped_faults=dict(self.skipped),
            pushes=self.pushes,
            records=tally.records,
            results=tally.results,
            failed=tally.failed,
            lost=tally.lost,
            duplicated=tally.duplicated,
            invented=tally.invented,
            wrong=tally.wrong,
            wall_s=wall_s,
        )
