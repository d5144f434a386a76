"""The worker: lease chunks from a queue, scan them on every usable core, report what they hold.

Each scanning thread has its own queue connection and loops claim, scan, report.
A chunk is scanned in slices of about a quarter of a second, sized from the
rate measured in its space, so that the lease is renewed on time and a stop
request is honoured at once, however slow the space; a chunk whose prefixes
are all found ends early. The main thread writes heartbeats and waits.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from findhash.engine import Hit, Scanner
from findhash.engine.kernels import AUTO as AUTO_KERNEL
from findhash.queue import Lease, Queue, QueueUnavailable
from findhash.space import DEFAULT_ALGORITHM, Space

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_CHUNK = 1 << 18
MIN_CHUNK = 1 << 10
# Before a space's rate is known, a slice this small is quick even for a slow
# algorithm with a long message; the next slice is sized from what it took.
FIRST_SLICE = 256
SLICE_TARGET_S = 0.25
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
MAX_RETRY_DELAY_S = 10.0
FINISHED, STOPPED, LOST = "finished", "stopped", "lost"


class WorkerExit(Exception):
    """The queue stayed unreachable past the give-up time; already logged."""


@dataclass(frozen=True)
class WorkerConfig:
    worker_id: str
    threads: int
    lease_ttl_s: float = 30.0
    kernel: str | None = None
    chunk_target_s: float = 1.5
    wait_for_items: bool = False
    idle_poll_s: float = 0.5
    heartbeat_s: float = 2.0
    connect_give_up_s: float = 300.0


def stop_with_parent(worker: Worker, parent_pid: int) -> None:
    """Stop `worker` when process `parent_pid`, which started it, dies (Linux only).

    `findhash search` starts its workers this way: a search killed outright would
    otherwise leave them hashing for items nobody waits for any more.
    """
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:
        # The parent died before the request took effect.
        worker.request_stop("Parent gone", 1)


def default_worker_id() -> str:
    """The host name (the pod's name on Kubernetes) and the process id."""
    return f"{socket.gethostname()}-{os.getpid()}"


class WorkerLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Puts the worker's id at the start of every line, so logs can be grepped across pods."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        return f"worker {self.extra['worker_id'] if self.extra else '?'}: {msg}", kwargs


class Worker:
    def __init__(self, open_queue: Callable[[], Queue], config: WorkerConfig) -> None:
        self.open_queue = open_queue
        self.config = config
        self.log = WorkerLog(log, {"worker_id": config.worker_id})
        self.stopping = threading.Event()
        self.stop_status = 0
        self.unavailable = threading.Event()
        self.crashed = threading.Event()
        self._hashed = [0] * config.threads

    def request_stop(self, reason: str, status: int = 0) -> None:
        """Stop claiming, hand back what is held, and exit with `status`."""
        if not self.stopping.is_set():
            self.log.info("%s received; handing back leases and stopping.", reason)
            self.stop_status = status
        self.stopping.set()

    def run(self) -> int:
        """Work until the queue is complete or a stop is requested; return the exit status."""
        self.log.info("Starting with %d scanning threads.", self.config.threads)
        try:
            queue = self.with_retry("connect", self.open_queue)
        except WorkerExit:
            return 3
        scanners = [
            threading.Thread(target=self._scan_loop, args=(n,), name=f"scan-{n}", daemon=True)
            for n in range(self.config.threads)
        ]
        for thread in scanners:
            thread.start()
        self._heartbeat_until_done(queue, scanners)
        queue.close()
        return self._exit_status()

    def _exit_status(self) -> int:
        if self.unavailable.is_set():
            self.log.error("Exiting: the queue stayed unreachable.")
            return 3
        if self.crashed.is_set():
            self.log.error("Exiting after an unexpected error.")
            return 1
        if self.stopping.is_set():
            self.log.info("Stopped with status %d; the queue is not complete.", self.stop_status)
            return self.stop_status
        self.log.info("Queue complete; exiting.")
        return 0

    def _heartbeat_until_done(self, queue: Queue, scanners: list[threading.Thread]) -> None:
        last_time, last_hashed = time.monotonic(), 0
        while alive := [thread for thread in scanners if thread.is_alive()]:
            alive[0].join(timeout=self.config.heartbeat_s)
            now, hashed = time.monotonic(), sum(self._hashed)
            rate = (hashed - last_hashed) / max(now - last_time, 1e-9)
            last_time, last_hashed = now, hashed
            try:
                queue.heartbeat(self.config.worker_id, rate, self.config.threads)
            except QueueUnavailable as error:
                self.log.debug("Heartbeat not written: %s", error)
            self.log.debug("%.2f M hashes/s, %d hashed in all.", rate / 1e6, hashed)

    def with_retry(self, what: str, call: Callable[[], T]) -> T:
        """Call `call`, retrying with bounded back-off while the queue is unreachable.

        Gives up (WorkerExit) after the configured time, or at once when stopping.
        """
        started = time.monotonic()
        deadline = started + self.config.connect_give_up_s
        delay_s = 0.5
        while True:
            try:
                return call()
            except QueueUnavailable as error:
                remaining_s = deadline - time.monotonic()
                if remaining_s <= 0 or self.stopping.is_set():
                    waited_s = time.monotonic() - started
                    self.log.error("%s failed: %s; gave up after %.0f s.", what, error, waited_s)
                    raise WorkerExit(what) from error
                self.log.warning(
                    "%s failed: %s; retrying in %.1f s (giving up in %.0f s).",
                    what,
                    error,
                    min(delay_s, remaining_s),
                    remaining_s,
                )
                self.stopping.wait(min(delay_s, remaining_s))
                delay_s = min(delay_s * 2, MAX_RETRY_DELAY_S)

    def _scan_loop(self, thread: int) -> None:
        try:
            _ScanLoop(self, thread).run()
        except WorkerExit:
            if not self.stopping.is_set():
                self.unavailable.set()
                self.stopping.set()
        except Exception:
            self.log.exception("Scanning thread %d failed.", thread)
            self.crashed.set()
            self.stopping.set()

    def count_hashed(self, thread: int, hashed: int) -> None:
        self._hashed[thread] += hashed


class _ScanLoop:
    """One scanning thread: claim, scan in slices, report, until done or told to stop."""

    def __init__(self, worker: Worker, thread: int) -> None:
        self.worker = worker
        self.config = worker.config
        self.log = worker.log
        self.thread = thread
        self.queue = worker.with_retry("connect", worker.open_queue)
        self.chunk = FIRST_CHUNK
        self._scanner: Scanner | None = None
        self._slice_rates: dict[Space, float] = {}

    def run(self) -> None:
        try:
            while not self.worker.stopping.is_set():
                lease = self.worker.with_retry(
                    "claim", lambda: self.queue.claim(self.config.worker_id, self.chunk)
                )
                if lease is not None:
                    self._work_on(lease)
                elif self._finished():
                    return
                else:
                    self.worker.stopping.wait(self.config.idle_poll_s)
        finally:
            self.queue.close()

    def _finished(self) -> bool:
        if self.config.wait_for_items:
            return False
        return self.worker.with_retry("check for completion", self.queue.is_complete)

    def _work_on(self, lease: Lease) -> None:
        self.log.debug(
            "Leased %d candidates from %d for %d prefixes.",
            lease.count,
            lease.start,
            len(lease.prefixes),
        )
        started = time.monotonic()
        scan = self._scan_slices(lease, self._scanner_for(lease))
        self._adapt_chunk(scan.hashed, time.monotonic() - started)
        if scan.ended == FINISHED:
            self._report(lease, scan.hits, scan.hashed)
            return
        if scan.ended == STOPPED:
            self._release(lease)
        if scan.hits:
            # The lease is gone, so this report only records the answers; the
            # chunk itself is searched again by whoever takes it next.
            self._report(lease, scan.hits, scan.hashed)

    def _scan_slices(self, lease: Lease, scanner: Scanner) -> _ChunkScan:
        """Scan the lease's range, renewing on time; stop early when asked or when it is lost."""
        scan = _ChunkScan()
        renew_at = time.monotonic() + self.config.lease_ttl_s / 3
        position, end = lease.start, lease.start + lease.count
        while position < end and len(scan.hits) < len(scanner.prefixes):
            if self.worker.stopping.is_set():
                scan.ended = STOPPED
                return scan
            if time.monotonic() >= renew_at:
                if not self._renew(lease):
                    scan.ended = LOST
                    return scan
                renew_at = time.monotonic() + self.config.lease_ttl_s / 3
            size = min(self._slice_size(lease.space), end - position)
            started = time.monotonic()
            result = scanner.scan(position, size, stop_when_all_found=True)
            self._slice_rates[lease.space] = result.hashed / max(time.monotonic() - started, 1e-6)
            for prefix, hit in result.hits.items():
                scan.hits.setdefault(prefix, hit)
            scan.hashed += result.hashed
            self.worker.count_hashed(self.thread, result.hashed)
            if result.hashed < size and len(scan.hits) < len(scanner.prefixes):
                break  # the end of a finite space
            position += size
        return scan

    def _slice_size(self, space: Space) -> int:
        """Candidates that take about SLICE_TARGET_S (and well under the lease) in `space`."""
        rate = self._slice_rates.get(space)
        if rate is None:
            return FIRST_SLICE
        target_s = min(SLICE_TARGET_S, self.config.lease_ttl_s / 6)
        return max(1, int(rate * target_s))

    def _scanner_for(self, lease: Lease) -> Scanner:
        """The last scanner again when space and prefixes are unchanged: its tables are built."""
        previous = self._scanner
        prefixes = sorted(set(lease.prefixes))
        if previous is None or previous.space != lease.space or previous.prefixes != prefixes:
            self._scanner = Scanner(lease.space, prefixes, self._kernel_for(lease.space))
        assert self._scanner is not None
        return self._scanner

    def _kernel_for(self, space: Space) -> str | None:
        """The worker's kernel for SHA-256 spaces; the best one that can hash any other algorithm.

        The native kernels compute SHA-256 only, but an item may ask for any hashlib algorithm.
        """
        if space.algorithm == DEFAULT_ALGORITHM:
            return self.config.kernel
        return AUTO_KERNEL

    def _adapt_chunk(self, hashed: int, elapsed_s: float) -> None:
        if hashed <= 0 or elapsed_s <= 0:
            return
        rate = hashed / elapsed_s
        wanted = int(rate * self.config.chunk_target_s)
        # Grow or shrink by at most a factor of four at a time, so one odd chunk cannot swing it.
        self.chunk = max(MIN_CHUNK, min(wanted, self.chunk * 4), self.chunk // 4)

    def _renew(self, lease: Lease) -> bool:
        renewed = self.worker.with_retry("renew", lambda: self.queue.renew(lease))
        if not renewed:
            self.log.info("Lease on %d candidates from %d was lost.", lease.count, lease.start)
        return renewed

    def _report(self, lease: Lease, hits: dict[str, Hit], hashed: int) -> None:
        accepted = self.worker.with_retry("report", lambda: self.queue.report(lease, hits, hashed))
        for hit in hits.values():
            self.log.info("Found %s: %r -> %s.", hit.prefix, hit.input, hit.digest)
        if not accepted:
            self.log.info("Report came after the lease was lost; its hits were still offered.")

    def _release(self, lease: Lease) -> None:
        """Hand a chunk back once; if that fails, the lease expires on its own a little later."""
        try:
            self.queue.release(lease)
            self.log.debug("Handed back %d candidates from %d.", lease.count, lease.start)
        except QueueUnavailable as error:
            self.log.warning("Could not hand back a lease (%s); it will expire on its own.", error)


@dataclass
class _ChunkScan:
    """What scanning one chunk came to: its first hits, and whether it ran to the end."""

    hits: dict[str, Hit] = field(default_factory=dict)
    hashed: int = 0
    ended: str = FINISHED
