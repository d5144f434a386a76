"""Every hashing implementation against a plain hashlib loop, in one run, as ratios.

    python bench/kernels.py [--seconds 3]

Rows: each kernel with one target on one and on two threads, then the best
kernel with 10,000 targets and with a message longer than a block. The baseline
is measured in the same run, so the ratios hold even on a busy machine better
than the absolute rates do.
"""

from __future__ import annotations

import argparse

from findhash.bench import BenchResult, bench_hashlib_loop, bench_kernel
from findhash.engine import available_kernels


def measure(seconds: float) -> list[tuple[str, BenchResult]]:
    rows = [("plain hashlib loop (baseline)", bench_hashlib_loop(seconds))]
    for kernel in available_kernels():
        rows.append((f"{kernel}, 1 thread, 1 target", bench_kernel(kernel, 1, 1, seconds)))
        rows.append((f"{kernel}, 2 threads, 1 target", bench_kernel(kernel, 2, 1, seconds)))
    best = available_kernels()[0]
    rows.append(
        (f"{best}, 1 thread, 10,000 8-digit targets", bench_kernel(best, 1, 10_000, seconds, 8))
    )
    rows.append(
        (
            f"{best}, 1 thread, 1 target, 100-byte message",
            bench_kernel(best, 1, 1, seconds, 12, "m" * 100),
        )
    )
    return rows


def print_table(rows: list[tuple[str, BenchResult]]) -> None:
    baseline = rows[0][1].hashes_per_second
    width = max(len(label) for label, _ in rows)
    print(f"{'implementation':<{width}}  {'M hashes/s':>10}  {'x baseline':>10}")
    for label, result in rows:
        rate = result.hashes_per_second
        print(f"{label:<{width}}  {rate / 1e6:>10.2f}  {rate / baseline:>10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per row (default 3)")
    arguments = parser.parse_args()
    print_table(measure(arguments.seconds))


if __name__ == "__main__":
    main()
