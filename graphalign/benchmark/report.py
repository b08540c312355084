"""The Markdown report of a quality benchmark run (what ``graphalign bench`` prints and writes)."""

from __future__ import annotations

import datetime
import os
import platform
from collections.abc import Sequence
from pathlib import Path

from graphalign.benchmark.quality import (
    HEADLINE_PROTOCOLS,
    SELECTION_PROTOCOLS,
    BenchmarkResult,
    best_comparison,
    format_mean_std,
    format_table,
    selection_scores,
)
from graphalign.benchmark.statistics import PairedDifference

__all__ = ["render_report", "is_report", "SUBSET_SECTIONS"]

TITLE = "# Quality benchmark on "
"""The start of every report's first line."""

SUBSET_SECTIONS = (
    ("seen", "image->concept, concepts with training images"),
    ("unseen", "image->concept, concepts without training images"),
    ("no_letters", "without letter / sign-language stamps"),
)
"""The subsets with a section of their own: (subset, section title)."""


def is_report(path: Path) -> bool:
    """Whether the file at ``path`` is a report that :func:`render_report` wrote (its first line)."""
    with open(path, "rb") as handle:
        return handle.read(len(TITLE)) == TITLE.encode()


def _interval(difference: PairedDifference) -> str:
    if difference.low is None or difference.high is None:
        return "-"
    return f"[{difference.low:+.1%}, {difference.high:+.1%}]"


def _comparison_section(result: BenchmarkResult) -> list[str]:
    lines = [
        "## graphalign vs. the best non-graph method",
        "",
        "Relative: the mean of the per-seed relative differences (both methods on the same split per seed), "
        "with its 95% t interval.",
        "",
        "| protocol | graphalign | MRR | best non-graph | MRR | relative | 95% interval | per seed | seeds won "
        "| target | met |",
        "|---|---|---:|---|---:|---:|---|---|---:|---|---|",
    ]
    for row in best_comparison(result, HEADLINE_PROTOCOLS):
        difference = row["difference"]
        runs = len(difference.per_seed)
        lines.append(
            f"| {row['protocol']} | {row['graph']} | {format_mean_std(row['graph_mrr'], runs)} | "
            f"{row['baseline']} | {format_mean_std(row['baseline_mrr'], runs)} | "
            f"{row['target'].format_mean(difference)} | {_interval(difference)} | "
            f"{', '.join(f'{r:+.1%}' for r in difference.per_seed)} | "
            f"{difference.won}/{len(difference.per_seed)} | {row['target']} | {'yes' if row['target_met'] else 'no'} |"
        )
    return lines


def _selection_section(result: BenchmarkResult) -> list[str]:
    ranked = selection_scores(result)
    if not ranked:
        return []
    lines = [
        "## Selection: validation MRR averaged over the headline protocols",
        "",
        "| rank | graph method | mean | " + " | ".join(SELECTION_PROTOCOLS) + " |",
        "|---:|---|---:|" + "---:|" * len(SELECTION_PROTOCOLS),
    ]
    for rank, (method, score, per_protocol) in enumerate(ranked, 1):
        cells = " | ".join(f"{per_protocol[p]:.3f}" if p in per_protocol else "-" for p in SELECTION_PROTOCOLS)
        shown = f"**{method}**" if method == result.headline else method
        lines.append(f"| {rank} | {shown} | {score:.3f} | {cells} |")
    if result.headline is not None:
        first, top = ranked[0][0], ranked[0][1]
        headline = next((score for method, score, _ in ranked if method == result.headline), None)
        tied = [method for method, score, _ in ranked if method != result.headline and f"{score:.3f}" == f"{top:.3f}"]
        if headline is not None and f"{headline:.3f}" == f"{top:.3f}":
            verdict = f"The rule ranks {result.headline} first" + (
                f" (tied at {top:.3f} with {', '.join(tied)})." if tied else "."
            )
        else:
            verdict = f"The rule ranks {first} above {result.headline}."
        lines += ["", verdict]
    return lines + [""]


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
        f"{TITLE}`{name}`",
        "",
        f"`{command}` on {datetime.date.today()}, {platform.machine()} with {os.cpu_count()} CPU cores, "
        f"{seconds:.0f}s in all. Filtered MRR / Hits@k against all nodes of the target type, "
        + (f"mean ± std over {seeds} seeds." if seeds > 1 else "on one seed (so no std and no interval)."),
        "",
        "## Headline protocols (MRR)",
        "",
    ]
    counts = result.counts[0]
    first = f"seed {result.seeds[0]}" if result.seeds else "first seed"
    lines.append(f"held-out pairs ({first}): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    empty = [k for k in counts if ":" in k and all(not seed_counts.get(k) for seed_counts in result.counts)]
    if empty:
        lines += [
            "",
            "Not measured on this graph (no held-out pairs on any seed, so left out of the tables): "
            + ", ".join(empty)
            + ".",
        ]
    lines += ["", format_table(result, metrics=("mrr",)), ""]
    lines += _comparison_section(result)
    lines += [""] + _selection_section(result)
    for subset, title in SUBSET_SECTIONS:
        if any(s == subset for (_, p, s) in result.rows if not p.startswith("val:")):  # the dataset has it
            lines += ["", f"## {title} (MRR)", "", format_table(result, metrics=("mrr",), subset=subset)]
    lines += ["", "## All metrics", "", format_table(result, metrics=("mrr", "hits@1", "hits@10")), ""]
    if plots is not None:
        lines += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots] + [""]
    return "\n".join(lines)
