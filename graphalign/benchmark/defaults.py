"""What ``graphalign bench`` runs without options (no heavy imports: the command line reads these)."""

from __future__ import annotations

__all__ = ["DEFAULT_SEEDS", "DEFAULT_CONVS", "DEFAULT_LOSSES"]

DEFAULT_SEEDS = (0, 1, 2, 3, 4)
"""Seeds of a benchmark run: one protocol split and one training seed each."""
DEFAULT_CONVS: tuple[str, ...] = ()
"""Message-passing layers of the ``gnn`` preset's rows: none by default (``--convs gatv2`` adds the
gnn preset's own row, the candidate the selection rule ranks against the default; other layers add
ablation rows). On the full Tux Paint graph these rows take about twice the rest of the run."""
DEFAULT_LOSSES = ("infonce",)
"""Losses of the trained rows: the best preset's own (others add ablation rows)."""
