"""What ``graphalign bench`` runs without options (no heavy imports: the command line reads these)."""

from __future__ import annotations

__all__ = ["DEFAULT_SEEDS", "DEFAULT_CONVS", "DEFAULT_LOSSES"]

DEFAULT_SEEDS = (0, 1, 2, 3, 4)
"""Seeds of a benchmark run: one protocol split and one training seed each."""
DEFAULT_CONVS = ("gatv2",)
"""Message-passing layers of the graph rows: the best preset's own (others add ablation rows)."""
DEFAULT_LOSSES = ("infonce",)
"""Losses of the trained rows: the best preset's own (others add ablation rows)."""
