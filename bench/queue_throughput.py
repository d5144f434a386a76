"""How many claim+report cycles per second one queue serves, with hashing switched off.

    python bench/queue_throughput.py [--redis-url URL] [--seconds 5] [--clients 1,2,4]
                                     [--open-prefixes 1000] [--backends redis,sqlite]

Each client process loops claim, then report (a fake hashed count, no hits), as
fast as the queue lets it. A scanning thread does one such cycle every one to
two seconds, so the cycles per second, times about 1.5, is how many scanning
threads one queue can keep busy. Without --redis-url a redis-server is started
on a free port (append-only, fsync every second, as deployed) and stopped after.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from findhash.queue import connect
from findhash.queue.redis_scripts import queue_keys

# One never-found prefix keeps the queue open for as long as the bench runs.
HARD_PREFIX = "f" * 16
CHUNK = 1_000_000
SECONDS_PER_CYCLE = 1.5


@dataclass(frozen=True)
class Row:
    backend: str
    clients: int
    cycles: int
    seconds: float
    latencies_ms: list[float]
    server_us: float | None = None
    """Server CPU time per cycle (Redis only), from INFO commandstats."""

    @property
    def rate(self) -> float:
        return self.cycles / self.seconds

    @property
    def server_limit(self) -> float | None:
        """Cycles per second at which Redis's one command thread would be saturated."""
        return 1e6 / self.server_us if self.server_us else None


def client_loop(url: str, name: str, worker: str, start_at: float, seconds: float) -> list[float]:
    """Claim and report until the time is up; return each cycle's latency in ms."""
    queue = connect(url, name, lease_ttl_s=60.0)
    latencies = []
    while time.time() < start_at:
        time.sleep(0.001)
    stop_at = start_at + seconds
    while time.time() < stop_at:
        began = time.perf_counter()
        lease = queue.claim(worker, CHUNK)
        if lease is not None:
            queue.report(lease, {}, lease.count)
        latencies.append((time.perf_counter() - began) * 1000)
    queue.close()
    return latencies


def measure(backend: str, url: str, clients: int, seconds: float, open_prefixes: int) -> Row:
    name = f"bench-{clients}-{time.monotonic_ns()}"
    queue = connect(url, name)
    queue.push([HARD_PREFIX] + [f"{n:08x}0" for n in range(open_prefixes)])
    # Validating and opening the pushed items is a one-off; the bench times what follows.
    while queue.counts().pending:
        warm_up = queue.claim("warm-up", 1)
        if warm_up is not None:
            queue.report(warm_up, {}, 1)
    start_at = time.time() + 1.0
    args = [(url, name, f"bench-{n}", start_at, seconds) for n in range(clients)]
    server_before = _server_usec(backend, url)
    with multiprocessing.get_context("spawn").Pool(clients) as pool:
        per_client = pool.starmap(client_loop, args)
    server_used = _server_usec(backend, url) - server_before
    queue.close()
    if backend == "redis":
        redis.Redis.from_url(url).delete(*queue_keys(name))
    latencies = [latency for client in per_client for latency in client]
    server_us = server_used / len(latencies) if backend == "redis" and latencies else None
    return Row(backend, clients, len(latencies), seconds, latencies, server_us)


def _server_usec(backend: str, url: str) -> float:
    """Microseconds Redis has spent executing commands so far (0 for SQLite)."""
    if backend != "redis":
        return 0.0
    stats = redis.Redis.from_url(url).info("commandstats")
    return float(sum(entry["usec"] for entry in stats.values()))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def local_redis() -> Iterator[str]:
    """A throwaway redis-server, configured as the deployment runs it."""
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not installed; pass --redis-url")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="findhash-bench-") as directory:
        server = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", directory,
             "--save", "", "--appendonly", "yes", "--appendfsync", "everysec"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"redis://127.0.0.1:{port}/0"
        try:
            _wait_for(url)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=10)


def _wait_for(url: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            redis.Redis.from_url(url).ping()
            return
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def print_table(rows: list[Row]) -> None:
    print(
        f"{'backend':<8} {'clients':>7} {'cycles/s':>9} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'threads':>8} {'server us':>9} {'server max/s':>12}"
    )
    for row in rows:
        ordered = sorted(row.latencies_ms) or [0.0]
        p50 = statistics.median(ordered)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        threads = row.rate * SECONDS_PER_CYCLE
        server = f"{row.server_us:>9.0f} {row.server_limit:>12.0f}" if row.server_us else ""
        print(
            f"{row.backend:<8} {row.clients:>7} {row.rate:>9.0f} {p50:>7.2f} {p99:>7.2f}"
            f" {threads:>8.0f} {server}"
        )
    print(f"threads: scanning threads kept busy at one cycle per {SECONDS_PER_CYCLE} s each.")
    print("server us: Redis CPU per cycle; server max/s: cycles/s that would saturate it.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", help="an existing server (default: start one)")
    parser.add_argument("--seconds", type=float, default=5.0, help="per row (default 5)")
    parser.add_argument("--clients", default="1,2,4", help="client processes per row")
    parser.add_argument(
        "--open-prefixes", type=int, default=0, help="extra open prefixes in the space"
    )
    parser.add_argument("--backends", default="redis,sqlite")
    arguments = parser.parse_args()
    clients = [int(n) for n in arguments.clients.split(",")]
    backends = arguments.backends.split(",")
    seconds, open_prefixes = arguments.seconds, arguments.open_prefixes
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="findhash-bench-") as scratch:
        if "sqlite" in backends:
            path = str(Path(scratch) / "queue.sqlite3")
            rows += [measure("sqlite", path, n, seconds, open_prefixes) for n in clients]
        if "redis" in backends:
            with _redis_url(arguments.redis_url) as url:
                rows += [measure("redis", url, n, seconds, open_prefixes) for n in clients]
    print_table(rows)


@contextmanager
def _redis_url(given: str | None) -> Iterator[str]:
    if given:
        yield given
    else:
        with local_redis() as url:
            yield url


if __name__ == "__main__":
    main()
