"""The `findhash` command line: every command and option in one place.

Every option can also be set by an environment variable, so that a container is
configured without changing its command: the one named in the option's help, or
else FINDHASH_<COMMAND>_<OPTION> (FINDHASH_STATUS_WATCH, FINDHASH_BENCH_THREADS).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from enum import IntEnum
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.live import Live

from findhash import bench as benchmarks
from findhash.cpus import usable_cpus
from findhash.display import (
    Progress,
    failed_table,
    format_duration,
    format_rate,
    progress_line,
    results_table,
)
from findhash.engine import KERNEL_CHOICES, available_kernels, choose_kernel
from findhash.errors import FindhashError
from findhash.local import LocalSearch, LocalSearchFailed, Outcome
from findhash.queue import Queue, QueueUnavailable, connect
from findhash.space import DEFAULT_ALGORITHM
from findhash.targets import DEFAULT_MAX_FEASIBLE_DIGITS, parse_prefix
from findhash.worker import Worker, WorkerConfig, default_worker_id
from findhash.worker import stop_with_parent as stop_worker_with_parent

T = TypeVar("T")


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # an answer did not verify, or the local workers could not finish
    USAGE = 2  # click's own code for bad options
    UNAVAILABLE = 3  # the queue's server could not be reached in time
    TERMINATED = 143  # stopped by SIGTERM before the queue was complete; work handed back
    INTERRUPTED = 130


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


QUEUE_URL_HELP = "Redis URL (redis://, rediss://) or SQLite file of the queue [env REDIS_URL]."


def queue_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The options every command that talks to a queue shares."""
    function = click.option(
        "--queue",
        "queue_name",
        envvar="FINDHASH_QUEUE",
        default="job",
        show_default=True,
        help="Queue name: the list items are pushed to [env FINDHASH_QUEUE].",
    )(function)
    return click.option("--url", envvar="REDIS_URL", required=True, help=QUEUE_URL_HELP)(function)


def kernel_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--kernel",
        envvar="FINDHASH_KERNEL",
        type=click.Choice(KERNEL_CHOICES),
        default="auto",
        show_default=True,
        help="Hashing implementation [env FINDHASH_KERNEL].",
    )(function)


def feasibility_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--max-feasible-digits",
        envvar="FINDHASH_MAX_FEASIBLE_DIGITS",
        type=click.IntRange(1, 128),
        default=DEFAULT_MAX_FEASIBLE_DIGITS,
        show_default=True,
        help="Refuse longer prefixes as infeasible [env FINDHASH_MAX_FEASIBLE_DIGITS].",
    )(function)


@click.group(
    context_settings={
        "help_option_names": ["-h", "--help"],
        # Options named without a variable of their own read FINDHASH_<COMMAND>_<OPTION>.
        "auto_envvar_prefix": "FINDHASH",
    }
)
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
@kernel_option
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


@main.command()
@click.argument("prefixes", nargs=-1, required=True)
@click.option(
    "--state",
    envvar="FINDHASH_STATE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep the queue in this file, so that the same command resumes [env FINDHASH_STATE].",
)
@click.option(
    "--workers",
    envvar="FINDHASH_WORKERS",
    type=click.IntRange(min=1),
    help="Local worker processes; default one per usable CPU [env FINDHASH_WORKERS].",
)
@kernel_option
@feasibility_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object at the end.")
def search(
    prefixes: tuple[str, ...],
    state: Path | None,
    workers: int | None,
    kernel: str,
    max_feasible_digits: int,
    as_json: bool,
) -> None:
    """Search for PREFIXES on this machine, on every core, with no server."""
    workers = workers or usable_cpus()
    console = Console(stderr=True)
    chosen = _run_or_exit(lambda: choose_kernel(kernel))
    console.print(f"findhash: {len(prefixes)} items, {workers} local workers, {chosen} kernel")
    run = LocalSearch(prefixes, workers, state, kernel, max_feasible_digits=max_feasible_digits)
    try:
        with Live(console=console, transient=as_json, refresh_per_second=4) as live:
            outcome = run.run(lambda p: live.update(progress_line(p)))
    except LocalSearchFailed as error:
        console.print(f"findhash: {error}")
        sys.exit(ExitCode.FAILED)
    _print_outcome(outcome, as_json)
    if outcome.interrupted:
        hint = f"run the same command to resume from {state}" if state else "use --state to resume"
        console.print(f"Interrupted: {len(outcome.results)} found so far; {hint}.")
        sys.exit(ExitCode.INTERRUPTED)


def _print_outcome(outcome: Outcome, as_json: bool) -> None:
    if as_json:
        document = {
            "results": outcome.results,
            "failed": outcome.failed,
            "hashes": outcome.hashes,
            "seconds": round(outcome.seconds, 3),
        }
        click.echo(json.dumps(document, indent=2))
        return
    console = Console()
    if outcome.results:
        console.print(results_table(outcome.results))
    if outcome.failed:
        console.print(failed_table(outcome.failed))


@main.command()
@queue_options
@click.option(
    "--threads",
    envvar="FINDHASH_THREADS",
    type=click.IntRange(min=1),
    help="Scanning threads; default one per usable CPU [env FINDHASH_THREADS].",
)
@click.option(
    "--lease-ttl-s",
    envvar="FINDHASH_LEASE_TTL_S",
    type=click.FloatRange(min=1.0),
    default=30.0,
    show_default=True,
    help="Seconds before a silent worker's chunk is given to another [env FINDHASH_LEASE_TTL_S].",
)
@click.option(
    "--chunk-target-s",
    envvar="FINDHASH_CHUNK_TARGET_S",
    type=click.FloatRange(min=0.05),
    default=1.5,
    show_default=True,
    help="Seconds one chunk should take [env FINDHASH_CHUNK_TARGET_S].",
)
@click.option(
    "--connect-give-up-s",
    envvar="FINDHASH_CONNECT_GIVE_UP_S",
    type=click.FloatRange(min=0.0),
    default=300.0,
    show_default=True,
    help="Exit with status 3 when the queue stays unreachable this long"
    " [env FINDHASH_CONNECT_GIVE_UP_S].",
)
@click.option(
    "--wait/--no-wait",
    envvar="FINDHASH_WAIT",
    default=False,
    help="Keep waiting for new items when the queue is empty [env FINDHASH_WAIT].",
)
@click.option(
    "--worker-id",
    envvar="FINDHASH_WORKER_ID",
    default=default_worker_id,
    help="Name in logs and heartbeats; default host-pid [env FINDHASH_WORKER_ID].",
)
@click.option("--parent-pid", type=int, hidden=True, help="Stop when this process dies.")
@kernel_option
@feasibility_option
def worker(
    url: str,
    queue_name: str,
    threads: int | None,
    lease_ttl_s: float,
    chunk_target_s: float,
    connect_give_up_s: float,
    wait: bool,
    worker_id: str,
    parent_pid: int | None,
    kernel: str,
    max_feasible_digits: int,
) -> None:
    """Work on a queue until it is complete (or until stopped, with --wait)."""
    config = WorkerConfig(
        worker_id=worker_id,
        threads=threads or usable_cpus(),
        lease_ttl_s=lease_ttl_s,
        kernel=_run_or_exit(lambda: choose_kernel(kernel)),
        chunk_target_s=chunk_target_s,
        wait_for_items=wait,
        connect_give_up_s=connect_give_up_s,
    )

    def open_queue() -> Queue:
        return connect(url, queue_name, lease_ttl_s, max_feasible_digits)

    runner = Worker(open_queue, config)
    # A Kubernetes Job takes a worker's exit 0 as "the queue is done" and starts no
    # more pods after it, so an evicted or scaled-down worker must not exit 0.
    signal.signal(signal.SIGTERM, lambda *_: runner.request_stop("SIGTERM", ExitCode.TERMINATED))
    signal.signal(signal.SIGINT, lambda *_: runner.request_stop("SIGINT"))
    if parent_pid is not None:
        stop_worker_with_parent(runner, parent_pid)
    sys.exit(runner.run())


@main.command()
@click.argument("prefixes", nargs=-1)
@click.option(
    "--file",
    "source",
    type=click.File("r"),
    help="Read items from this file, one per line; - for standard input.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=1000, show_default=True)
@queue_options
def enqueue(
    prefixes: tuple[str, ...], source: Any, batch_size: int, url: str, queue_name: str
) -> None:
    """Push items (hex prefixes or JSON objects) onto a Redis queue."""
    with _open_or_exit(url, queue_name) as queue:
        pushed = queue.push(prefixes) if prefixes else 0
        if source is not None:
            pushed += _push_lines(queue, source, batch_size)
    click.echo(f"pushed {pushed} items to {queue_name}")


def _push_lines(queue: Queue, lines: Iterable[str], batch_size: int) -> int:
    """Push one item per non-blank line, `batch_size` at a time, so no list grows unbounded."""
    pushed = 0
    batch: list[str] = []
    for line in lines:
        if line.strip():
            batch.append(line.rstrip("\n"))
        if len(batch) >= batch_size:
            pushed += queue.push(batch)
            batch.clear()
    return pushed + queue.push(batch)


@main.command()
@queue_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--watch",
    type=click.FloatRange(min=0.5),
    default=None,
    help="Refresh every this many seconds until interrupted.",
)
def status(url: str, queue_name: str, as_json: bool, watch: float | None) -> None:
    """Show pending, processing, solved and failed items, live workers and rates."""
    with _open_or_exit(url, queue_name) as queue:
        if watch is None:
            _print_status(queue, as_json)
            return
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                click.clear()
                _print_status(queue, as_json)
                time.sleep(watch)


def _print_status(queue: Queue, as_json: bool) -> None:
    counts = queue.counts()
    workers = queue.workers()
    stats = queue.stats()
    rate = sum(w.hashes_per_second for w in workers)
    progress = Progress(
        total=counts.pending + counts.processing + counts.results + counts.failed,
        solved=counts.results,
        failed=counts.failed,
        hashes=int(stats.get("hashes", 0)),
        seconds=0.0,
        hashes_per_second=rate,
        open_prefix_lengths=tuple(stats.get("open_prefix_lengths", ())),
    )
    estimates = progress.estimates_s()
    if as_json:
        document = {
            "pending": counts.pending,
            "processing": counts.processing,
            "solved": counts.results,
            "failed": counts.failed,
            "hashes": progress.hashes,
            "hashes_per_second": rate,
            "workers": [w.to_dict() for w in workers],
            "seconds_to_finish": {f"{p:.0%}": s for p, s in estimates.items()},
        }
        click.echo(json.dumps(document, indent=2))
        return
    click.echo(
        f"pending {counts.pending}, processing {counts.processing},"
        f" solved {counts.results}, failed {counts.failed}"
    )
    click.echo(f"{len(workers)} live workers, {format_rate(rate)} in all")
    for w in workers:
        click.echo(f"  {w.worker_id}: {format_rate(w.hashes_per_second)}, {w.threads} threads")
    if estimates:
        click.echo(
            "all open items found: "
            + ", ".join(f"{p:.0%} in {format_duration(s)}" for p, s in estimates.items())
        )


@main.command()
@queue_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON record per line.")
@click.option("--failed", "show_failed", is_flag=True, help="Show the failed items instead.")
@click.option("--follow", is_flag=True, help="Keep printing new records as they arrive.")
def results(url: str, queue_name: str, as_json: bool, show_failed: bool, follow: bool) -> None:
    """Print the records of solved items (or of failed ones), as a table or JSON lines."""
    with _open_or_exit(url, queue_name) as queue:
        read = queue.failed if show_failed else queue.results
        if as_json or follow:
            with contextlib.suppress(KeyboardInterrupt):
                _print_records(read, as_json, follow)
            return
        records = read(0)
        Console().print(failed_table(records) if show_failed else results_table(records))


def _print_records(
    read: Callable[[int], list[dict[str, Any]]], as_json: bool, follow: bool
) -> None:
    """Print records one per line; with `follow`, keep polling for new ones."""
    seen = 0
    while True:
        records = read(seen)
        for record in records:
            click.echo(json.dumps(record) if as_json else _one_line(record))
        seen += len(records)
        if not follow:
            return
        time.sleep(1.0)


def _one_line(record: dict[str, Any]) -> str:
    if "reason" in record:
        return f"{record.get('item')!r}  {record.get('reason')}"
    return f"{record.get('prefix')}  {record.get('input')!r}  {record.get('digest')}"


@contextlib.contextmanager
def _open_or_exit(url: str, queue_name: str) -> Iterator[Queue]:
    """The queue, closed afterwards; unreachable at any point, a message and status 3."""
    try:
        with connect(url, queue_name) as queue:
            yield queue
    except QueueUnavailable as error:
        click.echo(f"findhash: {error}", err=True)
        sys.exit(ExitCode.UNAVAILABLE)


def _run_or_exit(action: Callable[[], T]) -> T:
    """Run `action`; a findhash error becomes its message and a usage exit, not a traceback."""
    try:
        return action()
    except FindhashError as error:
        click.echo(f"findhash: {error}", err=True)
        sys.exit(ExitCode.USAGE)
