"""Measure hashing speed: a kernel, a number of threads and targets, for a fixed time.

Targets are random prefixes that will almost never be hit, so the figure is the
cost of hashing and checking, the part that decides how long a search takes.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from findhash.engine import Scanner
from findhash.space import Space

# Long enough to amortise a call into the kernel, short enough to stop on time.
NATIVE_CHUNK = 1 << 20
PYTHON_CHUNK = 1 << 14


@dataclass(frozen=True)
class BenchResult:
    kernel: str
    threads: int
    targets: int
    target_digits: int
    message_bytes: int
    hashes: int
    seconds: float

    @property
    def hashes_per_second(self) -> float:
        return self.hashes / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "hashes_per_second": round(self.hashes_per_second)}


def random_prefixes(count: int, digits: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.getrandbits(4 * digits):0{digits}x}" for _ in range(count)]


def bench_kernel(
    kernel: str | None = None,
    threads: int = 1,
    targets: int = 1,
    seconds: float = 3.0,
    target_digits: int = 12,
    message: str = "",
) -> BenchResult:
    """Hash with `threads` threads for about `seconds` and count what was hashed."""
    scanner = Scanner(Space(message=message), random_prefixes(targets, target_digits), kernel)
    chunk = PYTHON_CHUNK if scanner.kernel == "python" else NATIVE_CHUNK
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def run(thread: int) -> None:
        # Each thread walks its own stretch of the space, as workers do.
        start = thread * (1 << 48)
        while time.perf_counter() < deadline:
            counts[thread] += scanner.scan(start + counts[thread], chunk).hashed

    started = time.perf_counter()
    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    return BenchResult(
        kernel=scanner.kernel,
        threads=threads,
        targets=targets,
        target_digits=target_digits,
        message_bytes=len(message.encode("utf-8")),
        hashes=sum(counts),
        seconds=elapsed,
    )


def bench_hashlib_loop(seconds: float = 3.0) -> BenchResult:
    """A plain Python loop over hashlib.sha256 with a startswith check: the baseline."""
    hashes = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        for number in range(hashes, hashes + 10_000):
            if hashlib.sha256(str(number).encode()).hexdigest().startswith("ffffffffffff"):
                break
        hashes += 10_000
    return BenchResult("hashlib-loop", 1, 1, 12, 0, hashes, time.perf_counter() - started)


def describe(result: BenchResult) -> str:
    return (
        f"{result.kernel}: {result.hashes_per_second / 1e6:.2f} M hashes/s"
        f" ({result.threads} thread{'s' if result.threads != 1 else ''},"
        f" {result.targets} target{'s' if result.targets != 1 else ''},"
        f" {result.hashes:,} hashes in {result.seconds:.2f} s)"
    )
