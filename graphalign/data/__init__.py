"""Tensors and the leakage-free split of a featurised graph's edges."""

from graphalign.data.split import EdgeSplit, SplitConfig, split_graph

__all__ = ["EdgeSplit", "SplitConfig", "split_graph"]
