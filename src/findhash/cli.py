"""The `findhash` command line: every command and option in one place.

Every option can also be set by the environment variable named in its help, so
that a container is configured without changing its command.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections.abc import Callable
from enum import IntEnum
from typing import TypeVar

import click

from findhash import bench as benchmarks
from findhash.engine import KERNEL_CHOICES, available_kernels
from findhash.errors import FindhashError
from findhash.space import DEFAULT_ALGORITHM
from findhash.targets import parse_prefix

T = TypeVar("T")


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # an answer did not verify, or some items could not be solved
    USAGE = 2  # click's own code for bad options
    UNAVAILABLE = 3  # the queue's server could not be reached in time
    INTERRUPTED = 130


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--log-level",
    envvar="FINDHASH_LOG_LEVEL",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    help="How much to log on stderr [env FINDHASH_LOG_LEVEL].",
)
def main(log_level: str) -> None:
    """Find short strings whose hash starts with given hex prefixes."""
    configure_logging(log_level)


@main.command()
@click.option(
    "--kernel",
    envvar="FINDHASH_KERNEL",
    type=click.Choice(KERNEL_CHOICES),
    default="auto",
    show_default=True,
    help="Hashing implementation [env FINDHASH_KERNEL].",
)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--targets", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--digits", type=click.IntRange(1, 64), default=12, show_default=True, help="Target length."
)
@click.option("--seconds", type=click.FloatRange(min=0.1), default=3.0, show_default=True)
@click.option("--message", default="", help="Message before the nonce (its length matters).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench(
    kernel: str,
    threads: int,
    targets: int,
    digits: int,
    seconds: float,
    message: str,
    as_json: bool,
) -> None:
    """Measure hashes per second of a kernel with some threads and targets."""
    result = _run_or_exit(
        lambda: benchmarks.bench_kernel(kernel, threads, targets, seconds, digits, message)
    )
    if as_json:
        click.echo(json.dumps(result.to_dict()))
    else:
        click.echo(f"available kernels: {', '.join(available_kernels())}")
        click.echo(benchmarks.describe(result))


@main.command()
@click.argument("prefix")
@click.argument("candidate")
@click.option(
    "--algorithm", envvar="FINDHASH_ALGORITHM", default=DEFAULT_ALGORITHM, show_default=True
)
def verify(prefix: str, candidate: str, algorithm: str) -> None:
    """Check that CANDIDATE's digest starts with PREFIX, and say why not if it doesn't."""
    wanted = _run_or_exit(lambda: parse_prefix(prefix, algorithm, max_feasible_digits=None))
    digest = hashlib.new(algorithm, candidate.encode("utf-8")).hexdigest()
    if digest.startswith(wanted):
        click.echo(f"ok: {algorithm}({candidate!r}) = {digest} starts with {wanted}")
        return
    matching = next(
        (n for n, (a, b) in enumerate(zip(digest, wanted, strict=False)) if a != b), len(wanted)
    )
    click.echo(
        f"no: {algorithm}({candidate!r}) = {digest}; it differs from {wanted}"
        f" at hex digit {matching + 1} ({digest[matching]!r} instead of {wanted[matching]!r})",
        err=True,
    )
    sys.exit(ExitCode.FAILED)


def _run_or_exit(action: Callable[[], T]) -> T:
    """Run `action`; a findhash error becomes its message and a usage exit, not a traceback."""
    try:
        return action()
    except FindhashError as error:
        click.echo(f"findhash: {error}", err=True)
        sys.exit(ExitCode.USAGE)
