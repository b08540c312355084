"""Helpers shared by the speed benchmarks: interleaved timing, machine line, result files.

The speed benchmarks run on machines shared with other jobs, so every comparison
is a ratio measured in one run, with the compared variants interleaved (their
order shuffled from one repetition to the next) so that a burst of load hits all
of them alike.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import platform
import random
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

RESULTS = Path(__file__).resolve().parent / "results"

T = TypeVar("T")


def interleaved(
    variants: dict[str, Callable[[T], Any]], workloads: Sequence[T], repeat: int = 1, seed: int = 0
) -> dict[str, list[float]]:
    """Times every variant on every workload, in a fresh random order each time.

    A random order (rather than a rotation, which keeps each variant right after
    the same other one) spreads both bursts of load and the after-effects of one
    variant on the next (e.g. dirty cache lines) evenly over the variants.

    Returns:
        Seconds per variant, one entry per ``(repetition, workload)``, aligned
        across variants (entry ``i`` of two variants ran on the same workload,
        one close after the other).
    """
    order = list(variants)
    shuffler = random.Random(seed)
    times: dict[str, list[float]] = {name: [] for name in order}
    for _ in range(repeat):
        for workload in workloads:
            shuffler.shuffle(order)
            for name in order:
                started = time.perf_counter()
                variants[name](workload)
                times[name].append(time.perf_counter() - started)
    return times


def paired_ratio(reference: Sequence[float], candidate: Sequence[float]) -> float:
    """Median over pairs of ``reference time / candidate time`` (> 1: candidate faster)."""
    return statistics.median(r / c for r, c in zip(reference, candidate))


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation, as numpy's default."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def machine() -> str:
    """One line: architecture, cores, memory, accelerator."""
    memory = ""
    try:
        with open("/proc/meminfo") as handle:
            kib = int(next(line for line in handle if line.startswith("MemTotal")).split()[1])
        memory = f", {kib / 2**20:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    import torch

    accelerator = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{platform.machine()}, {os.cpu_count()} CPU cores{memory}, {accelerator}; "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    )


def load_average() -> str:
    """The 1-minute load average (how busy the machine was), or ``?``."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def command_line() -> str:
    """The command that ran this script, relative to the repository root."""
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(Path(__file__).resolve().parent.parent)
    except ValueError:
        pass
    return shlex.join(["python", str(script), *sys.argv[1:]])


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[bool] | None = None) -> str:
    """A markdown table; ``right[i]`` right-aligns column ``i`` (numbers)."""
    right = right or [False] * len(headers)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---:" if r else "---" for r in right) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def report_header(title: str, load_before: str) -> str:
    """Title, command, machine, date and load average, as markdown."""
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"# {title}\n\n"
        f"```bash\n{command_line()}\n```\n\n"
        f"Machine: {machine()}. Date: {now}. "
        f"Load average (1 min) before / after the run: {load_before} / {load_average()}.\n"
    )


def write_results(
    stem: str, markdown: str, rows: Sequence[dict[str, Any]], folder: Path = RESULTS
) -> tuple[Path, Path]:
    """Writes ``folder/stem.md`` and ``folder/stem.csv`` (columns: union of the rows' keys, in order)."""
    folder.mkdir(parents=True, exist_ok=True)
    md_path, csv_path = folder / f"{stem}.md", folder / f"{stem}.csv"
    md_path.write_text(markdown if markdown.endswith("\n") else markdown + "\n", encoding="utf-8")
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return md_path, csv_path
