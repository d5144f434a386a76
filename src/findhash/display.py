"""What people read: progress lines, estimates and result tables."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.table import Table

from findhash.difficulty import REPORTED_PROBABILITIES, tries_until_all_found


@dataclass(frozen=True)
class Progress:
    """A snapshot of a search, for the live display and `findhash status`."""

    total: int
    solved: int
    failed: int
    hashes: int
    seconds: float
    hashes_per_second: float
    open_prefix_lengths: tuple[int, ...]

    def estimates_s(self) -> dict[float, float]:
        """Seconds until every open prefix is found with 50, 90 and 99 % chance, at this rate."""
        if not self.open_prefix_lengths or self.hashes_per_second <= 0:
            return {}
        return {
            probability: tries_until_all_found(self.open_prefix_lengths, probability)
            / self.hashes_per_second
            for probability in REPORTED_PROBABILITIES
        }


def format_duration(seconds: float) -> str:
    if seconds < 1:
        return "<1s"
    units = (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    parts = []
    for name, size in units:
        if seconds >= size:
            parts.append(f"{int(seconds // size)}{name}")
            seconds %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


def format_rate(hashes_per_second: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if hashes_per_second >= scale:
            return f"{hashes_per_second / scale:.2f} {unit}H/s"
    return f"{hashes_per_second:.0f} H/s"


def progress_line(progress: Progress) -> str:
    done = progress.solved + progress.failed
    line = (
        f"found {progress.solved}/{progress.total}"
        + (f" ({progress.failed} failed)" if progress.failed else "")
        + f" | {format_rate(progress.hashes_per_second)}"
        + f" | {progress.hashes:,} tries | {format_duration(progress.seconds)}"
    )
    estimates = progress.estimates_s()
    if estimates and done < progress.total:
        shown = ", ".join(
            f"{probability:.0%} in {format_duration(seconds)}"
            for probability, seconds in estimates.items()
        )
        line += f" | rest: {shown}"
    return line


def results_table(results: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(title="Results", title_justify="left")
    for column in ("prefix", "input", "digest", "tries"):
        table.add_column(column, justify="right" if column == "tries" else "left")
    for record in results:
        table.add_row(
            str(record.get("prefix")),
            repr(record.get("input")),
            str(record.get("digest")),
            f"{record.get('tries', 0):,}",
        )
    return table


def failed_table(failed: Iterable[Mapping[str, Any]]) -> Table:
    table = Table(title="Could not be solved", title_justify="left")
    table.add_column("item")
    table.add_column("reason")
    for record in failed:
        table.add_row(repr(record.get("item")), str(record.get("reason")))
    return table
