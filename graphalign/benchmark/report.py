"""The Markdown report of a quality benchmark run (what ``graphalign bench`` prints and writes)."""

from __future__ import annotations

import datetime
import os
import platform
from collections.abc import Sequence
from pathlib import Path

from graphalign.benchmark.quality import HEADLINE_PROTOCOLS, BenchmarkResult, best_comparison, format_table

__all__ = ["render_report", "SUBSET_SECTIONS"]

SUBSET_SECTIONS = (
    ("seen", "image->concept, concepts with training images"),
    ("unseen", "image->concept, concepts without training images"),
    ("no_letters", "without letter / sign-language stamps"),
)
"""The subsets with a section of their own: (subset, section title)."""


def _comparison_section(result: BenchmarkResult) -> list[str]:
    lines = [
        "## Best graph method vs. best non-graph method",
        "",
        "| protocol | best graph | MRR | best non-graph | MRR | relative | per seed | +10% beyond spread |",
        "|---|---|---:|---|---:|---:|---|---|",
    ]
    for row in best_comparison(result, HEADLINE_PROTOCOLS):
        lines.append(
            f"| {row['protocol']} | {row['graph']} | {row['graph_mrr'][0]:.3f} ± {row['graph_mrr'][1]:.3f} | "
            f"{row['baseline']} | {row['baseline_mrr'][0]:.3f} ± {row['baseline_mrr'][1]:.3f} | "
            f"{row['relative']:+.1%} | "
            f"{', '.join(f'{r:+.1%}' for r in row['per_seed'])} | {'yes' if row['target_met'] else 'no'} |"
        )
    return lines


def render_report(
    result: BenchmarkResult,
    name: str,
    command: str,
    seconds: float,
    seeds: int,
    plots: Sequence[Path] | None = None,
) -> str:
    """The report as Markdown (`graphalign bench` prints it and writes it with one more newline).

    ``name``: the dataset's name (the title); ``command``: the command line that
    ran the benchmark, shown verbatim; ``seconds``: how long it took; ``seeds``:
    how many seeds each mean and std is over; ``plots``: image files next to the
    report to link in a "Plots" section (``None``: no such section).
    """
    lines = [
        f"# Quality benchmark on `{name}`",
        "",
        f"`{command}` on {datetime.date.today()}, {platform.machine()} with {os.cpu_count()} CPU cores, "
        f"{seconds:.0f}s in all. Filtered MRR / Hits@k against all nodes of the target type, "
        f"mean ± std over {seeds} seeds.",
        "",
        "## Headline protocols (MRR)",
        "",
    ]
    counts = result.counts[0]
    lines.append("held-out pairs (seed 0): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    lines += ["", format_table(result, metrics=("mrr",)), ""]
    lines += _comparison_section(result)
    for subset, title in SUBSET_SECTIONS:
        lines += ["", f"## {title} (MRR)", "", format_table(result, metrics=("mrr",), subset=subset)]
    lines += ["", "## All metrics", "", format_table(result, metrics=("mrr", "hits@1", "hits@10")), ""]
    if plots is not None:
        lines += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots] + [""]
    return "\n".join(lines)
