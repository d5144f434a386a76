"""`findhash search`: the embedded default, local worker processes around an SQLite queue.

The queue file is the whole state. With a file the user names, a search that is
stopped keeps what was found and what remains; the same command resumes it,
pushing only the items the file does not hold yet.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from findhash.display import Progress
from findhash.errors import FindhashError
from findhash.queue import Queue, connect
from findhash.targets import DEFAULT_MAX_FEASIBLE_DIGITS

log = logging.getLogger(__name__)

POLL_S = 0.5
# A worker process that keeps dying is a defect, not bad luck: stop restarting it.
MAX_RESTARTS_PER_WORKER = 3
STOP_GRACE_S = 10.0


class LocalSearchFailed(FindhashError):
    """The local workers could not finish the search; the message says why."""


@dataclass
class Outcome:
    results: list[dict[str, Any]]
    failed: list[dict[str, Any]]
    hashes: int
    seconds: float
    interrupted: bool = False


@dataclass
class LocalSearch:
    items: Sequence[str]
    workers: int
    state: Path | None = None
    kernel: str = "auto"
    lease_ttl_s: float = 10.0
    max_feasible_digits: int = DEFAULT_MAX_FEASIBLE_DIGITS
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _restarts: list[int] = field(default_factory=list)

    def run(self, show: Callable[[Progress], None]) -> Outcome:
        with tempfile.TemporaryDirectory(prefix="findhash-") as scratch, _stop_signals_interrupt():
            path = self.state or Path(scratch) / "queue.sqlite3"
            self._log_path = Path(scratch) / "workers.log"
            queue = self._open(path)
            try:
                return self._search(queue, path, show)
            finally:
                self._stop_workers()
                queue.close()

    def _open(self, path: Path) -> Queue:
        try:
            queue = connect(
                str(path),
                lease_ttl_s=self.lease_ttl_s,
                max_feasible_digits=self.max_feasible_digits,
            )
            queue.counts()
        except sqlite3.DatabaseError as error:
            raise LocalSearchFailed(f"{path} is not a findhash state file ({error})") from error
        return queue

    def _search(self, queue: Queue, path: Path, show: Callable[[Progress], None]) -> Outcome:
        queue.push(self._items_not_yet_queued(queue))
        hashes_before = queue.stats().get("hashes", 0)
        started = time.monotonic()
        self._start_workers(path)
        try:
            while not queue.is_complete():
                self._restart_dead_workers(queue, path)
                show(self._progress(queue, hashes_before, started))
                time.sleep(POLL_S)
        except KeyboardInterrupt:
            return self._outcome(queue, hashes_before, started, interrupted=True)
        show(self._progress(queue, hashes_before, started))
        return self._outcome(queue, hashes_before, started)

    def _items_not_yet_queued(self, queue: Queue) -> list[str]:
        """The items of this command that the queue file does not hold yet, duplicates counted."""
        held = Counter(queue.items())
        missing = []
        for item in self.items:
            if held[item] > 0:
                held[item] -= 1
            else:
                missing.append(item)
        return missing

    def _worker_command(self, path: Path) -> list[str]:
        return [
            sys.executable, "-m", "findhash", "--log-level", "warning",
            "worker", "--url", str(path), "--threads", "1", "--kernel", self.kernel,
            "--parent-pid", str(os.getpid()),
            "--lease-ttl-s", str(self.lease_ttl_s),
            "--max-feasible-digits", str(self.max_feasible_digits),
        ]  # fmt: skip

    def _start_workers(self, path: Path) -> None:
        self._processes = [self._spawn(path) for _ in range(self.workers)]
        self._restarts = [0] * self.workers

    def _spawn(self, path: Path) -> subprocess.Popen[bytes]:
        with self._log_path.open("ab") as log_file:
            return subprocess.Popen(
                self._worker_command(path),
                stdout=subprocess.DEVNULL,
                stderr=log_file,
            )

    def _restart_dead_workers(self, queue: Queue, path: Path) -> None:
        for slot, process in enumerate(self._processes):
            status = process.poll()
            if status is None or (status == 0 and queue.is_complete()):
                continue
            if self._restarts[slot] >= MAX_RESTARTS_PER_WORKER:
                raise LocalSearchFailed(
                    f"a local worker exited with status {status} {self._restarts[slot] + 1} times;"
                    f" its log ends with:\n{self._log_tail()}"
                )
            log.warning("Local worker exited with status %s; starting another.", status)
            self._restarts[slot] += 1
            self._processes[slot] = self._spawn(path)

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self._log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _stop_workers(self) -> None:
        """Ask workers to stop (they hand their chunks back), wait for them, then insist.

        Ctrl-C at a terminal reaches the workers too, but a signal sent to this
        process alone does not, so it is passed on.
        """
        for process in self._processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + STOP_GRACE_S
        for process in self._processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _progress(self, queue: Queue, hashes_before: int, started: float) -> Progress:
        counts, stats = queue.counts(), queue.stats()
        seconds = time.monotonic() - started
        hashes = stats.get("hashes", 0) - hashes_before
        return Progress(
            total=len(self.items),
            solved=counts.results,
            failed=counts.failed,
            hashes=hashes,
            seconds=seconds,
            hashes_per_second=hashes / seconds if seconds > 0 else 0.0,
            open_prefix_lengths=tuple(stats.get("open_prefix_lengths", ())),
        )

    def _outcome(
        self, queue: Queue, hashes_before: int, started: float, interrupted: bool = False
    ) -> Outcome:
        return Outcome(
            results=queue.results(),
            failed=queue.failed(),
            hashes=queue.stats().get("hashes", 0) - hashes_before,
            seconds=time.monotonic() - started,
            interrupted=interrupted,
        )


@contextlib.contextmanager
def _stop_signals_interrupt() -> Iterator[None]:
    """Make SIGTERM and SIGHUP stop a search as Ctrl-C does, so that its workers are stopped too.

    Left to their default, they end this process at once and leave its workers
    running as orphans.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
