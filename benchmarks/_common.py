"""Small helpers shared by the benchmark scripts: timing, percentiles, peak RSS and plain-text tables.

Benchmarks print tables instead of asserting: the machines they run on are shared and noisy, so numbers
are compared with a goal or with a baseline measured in the same run, never with a fixed constant in a test.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Row:
    """One measured number: `what` at `size`, with its goal and how it compares."""

    what: str
    size: str
    value: str
    goal: str = ""
    verdict: str = ""  # "PASS"/"FAIL", or a ratio against the baseline ("0.93× raw b32")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def percentiles(samples: Sequence[float], points: Iterable[float] = (50, 99)) -> list[float]:
    """Percentiles of `samples` (linear interpolation, like numpy's default)."""
    if not samples:
        return [float("nan") for _ in points]
    return [float(p) for p in np.percentile(np.asarray(samples, dtype=np.float64), list(points))]


@dataclass
class Timings:
    """Seconds per call: wall clock, and CPU time of the calling thread. On a shared machine the gap between
    the two is time spent waiting for a core, not time spent in our code."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.wall)

    def __iadd__(self, other: Timings) -> Self:
        self.wall += other.wall
        self.cpu += other.cpu
        return self


def time_each(call: Callable[[Any], object], inputs: Iterable[Any]) -> Timings:
    """Time `call(x)` for every `x`, one sample per input."""
    timings = Timings()
    for item in inputs:
        wall, cpu = time.perf_counter(), time.thread_time()
        call(item)
        timings.cpu.append(time.thread_time() - cpu)
        timings.wall.append(time.perf_counter() - wall)
    return timings


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size so far of this process (or its waited-for children)."""
    return maxrss_mib(resource.getrusage(who).ru_maxrss)


def maxrss_mib(ru_maxrss: int) -> float:
    """`ru_maxrss` in MiB: it is KiB on Linux and bytes on macOS."""
    return ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else ru_maxrss / 1024


def format_table(title: str, rows: Sequence[Row]) -> str:
    headers = ("what", "size", "value", "goal", "vs goal / baseline")
    cells = [headers, *[(r.what, r.size, r.value, r.goal, r.verdict) for r in rows]]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    lines = [title, "-" * len(title)]
    for n, row in enumerate(cells):
        lines.append("  ".join(_pad(cell, width) for cell, width in zip(row, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def print_table(title: str, rows: Sequence[Row]) -> None:
    print(format_table(title, rows), end="\n\n", flush=True)


def _width(text: str) -> int:
    """Display width: CJK characters take two columns in a terminal."""
    return sum(2 if "\u2e80" <= ch <= "\uffef" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
