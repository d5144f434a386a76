"""A stand-in for the Kubernetes Job controller: `findhash worker` processes in pods.

Each pod runs one real worker process at a time. A process that dies with a
non-zero status or by a signal is started again in its pod; one that exits 0 is
not. An evicted pod is replaced whatever its exit status, and a pod removed by a
scale-down is not. As in a work-queue Job, once any worker has exited 0 on its
own no process is started any more: the Job takes that exit as the end of the
queue. Every process writes its own log, so that a test can grep them afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import findhash

# Past this many restarts a pod is given up on, as a Job's backoff limit would.
MAX_RESTARTS_PER_POD = 100
SRC_DIR = str(Path(findhash.__file__).resolve().parents[1])


def findhash_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment for a findhash process: ours, plus the findhash this test imports."""
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC_DIR, env.get("PYTHONPATH")) if p)
    return env


def findhash_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "findhash", *args]


@dataclass
class Run:
    """One process of a pod, and the signals the harness sent it."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    started_s: float
    signals: list[str] = field(default_factory=list)
    sent_at: dict[str, float] = field(default_factory=dict)
    """When (time.monotonic) each signal was first sent."""
    ended_at: float | None = None
    """When the controller saw the process end and acted on it; None while it has not."""

    @property
    def handled(self) -> bool:
        return self.ended_at is not None

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def send(self, sig: signal.Signals) -> bool:
        """Send `sig` if the process still runs; True when it was sent."""
        if not self.alive:
            return False
        self.process.send_signal(sig)
        self.signals.append(sig.name)
        self.sent_at.setdefault(sig.name, time.monotonic())
        return True

    def log_tail(self, lines: int = 12) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Pod:
    name: str
    runs: list[Run] = field(default_factory=list)
    scaled_down: bool = False
    evicted: bool = False
    paused: bool = False

    @property
    def current(self) -> Run:
        return self.runs[-1]

    @property
    def restarts(self) -> int:
        return len(self.runs) - 1


class JobController:
    """Starts worker pods and keeps them running as a Job with restartPolicy OnFailure would.

    `worker_args` follow `findhash worker`; each process also gets its own `--worker-id`.
    """

    def __init__(self, worker_args: Sequence[str], env: Mapping[str, str], log_dir: Path) -> None:
        self.worker_args = list(worker_args)
        self.env = findhash_env(env)
        self.log_dir = log_dir
        self.pods: list[Pod] = []
        self.given_up: list[Pod] = []
        self.succeeded = False
        self.clock_started = time.monotonic()

    def start_pod(self) -> Pod | None:
        """A new pod (a scale-up), or None once the Job has seen a worker succeed."""
        if self.succeeded:
            return None
        pod = Pod(name=f"w{len(self.pods)}")
        self.pods.append(pod)
        self._spawn(pod)
        return pod

    def _spawn(self, pod: Pod) -> None:
        name = f"{pod.name}.{len(pod.runs)}"
        log = self.log_dir / f"{name}.log"
        command = findhash_command(
            "--log-level", "info", "worker", "--worker-id", name, *self.worker_args
        )
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        pod.runs.append(Run(name, process, log, time.monotonic() - self.clock_started))

    def supervise(self) -> list[Run]:
        """Restart or replace pods whose process ended; return the runs that just exited 0."""
        exited_ok = []
        for pod in self.pods:
            run = pod.current
            status = run.returncode
            if status is None or run.handled:
                continue
            run.ended_at = time.monotonic()
            if status == 0 and not run.signals:
                exited_ok.append(run)
                self.succeeded = True
            if self._should_restart(pod, status):
                if pod.restarts >= MAX_RESTARTS_PER_POD:
                    self.given_up.append(pod)
                    continue
                pod.evicted = False
                self._spawn(pod)
        return exited_ok

    def _should_restart(self, pod: Pod, status: int) -> bool:
        if pod.scaled_down or self.succeeded:
            return False
        return pod.evicted or status != 0

    def eligible(self) -> list[Pod]:
        """Pods whose worker runs undisturbed: the ones a fault may strike next."""
        return [
            pod
            for pod in self.pods
            if pod.current.alive and not pod.paused and not pod.scaled_down and not pod.evicted
        ]

    def finished(self) -> bool:
        """True when no pod runs a process and none will be restarted."""
        return all(pod.current.handled for pod in self.pods)

    @property
    def runs(self) -> list[Run]:
        return [run for pod in self.pods for run in pod.runs]

    def kill_all(self) -> None:
        """Stop every process at once, resuming paused ones so that they can die."""
        for run in self.runs:
            if run.alive:
                run.process.send_signal(signal.SIGCONT)
                run.process.kill()
            run.process.wait()
