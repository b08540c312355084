"""Paired comparison of two methods over seeds: mean relative difference, 95% interval, seeds won.

Both methods run on the same protocol split per seed, so the per-seed
relative differences ``d_s = graph_s / baseline_s - 1`` are paired; their mean
gets a two-sided 95% Student-t interval (``mean ± t_{0.975, n-1} · sd / √n``),
which is wider than a bootstrap percentile interval for the few seeds a
benchmark affords and does not assume more than the seeds show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from graphalign.errors import ConfigError

__all__ = ["PairedDifference", "paired_relative", "t_quantile_975"]

_T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
"""Student-t 0.975 quantiles for 1..30 degrees of freedom (standard tables, three decimals)."""


def t_quantile_975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (the normal 1.960 above 30).

    Example:
        >>> t_quantile_975(4)
        2.776
    """
    if df < 1:
        raise ConfigError(f"degrees of freedom must be >= 1, got {df}")
    return _T_975[df - 1] if df <= len(_T_975) else 1.960


@dataclass(frozen=True)
class PairedDifference:
    """Relative differences of one method against another, seed by seed.

    Attributes:
        per_seed: ``graph / baseline - 1`` per seed.
        mean: Their mean.
        low, high: The 95% t interval of the mean (``None`` with one seed).
        won: Seeds with a positive difference.
    """

    per_seed: tuple[float, ...]
    mean: float
    low: float | None
    high: float | None
    won: int

    @property
    def every_seed_positive(self) -> bool:
        return self.won == len(self.per_seed)


def paired_relative(graph: Sequence[float], baseline: Sequence[float]) -> PairedDifference:
    """The paired relative differences of ``graph`` against ``baseline`` (same seeds, same order).

    Example:
        >>> d = paired_relative([0.33, 0.36, 0.30], [0.30, 0.30, 0.30])
        >>> round(d.mean, 3), d.won
        (0.1, 2)

    Raises:
        ConfigError: On lists of different lengths or empty ones.
    """
    if len(graph) != len(baseline) or not graph:
        raise ConfigError(f"need the same seeds for both methods, got {len(graph)} and {len(baseline)} values")
    per_seed = tuple(g / max(b, 1e-9) - 1 for g, b in zip(graph, baseline))
    n = len(per_seed)
    mean = sum(per_seed) / n
    won = sum(d > 0 for d in per_seed)
    if n == 1:
        return PairedDifference(per_seed, mean, None, None, won)
    sd = math.sqrt(sum((d - mean) ** 2 for d in per_seed) / (n - 1))
    half = t_quantile_975(n - 1) * sd / math.sqrt(n)
    return PairedDifference(per_seed, mean, mean - half, mean + half, won)
