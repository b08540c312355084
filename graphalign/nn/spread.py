"""Hop-by-hop spreading of node vectors over edges (the shared step of graph channels and inheritance).

A node that has no value takes the mean of its filled neighbours' values at the
first hop that reaches it, damped by ``decay``; filled nodes keep their value.
Parameter-free, like the "smooth" step of Correct & Smooth or label propagation.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

import graphalign._pyg  # noqa: F401  (before PyG: imports it without its FutureWarning)

# isort: split
from torch_geometric.utils import scatter

from graphalign.graph.convert import forward_relation
from graphalign.typing import EdgeType, NodeType

__all__ = ["spread", "relation_of"]


def relation_of(edge_type: EdgeType) -> str:
    """The relation of an edge type without its ``rev_`` prefix (``rev_is_a`` → ``is_a``)."""
    return forward_relation(edge_type[1])


def spread(
    values: dict[NodeType, Tensor],
    filled: dict[NodeType, Tensor],
    edges: Sequence[tuple[EdgeType, Tensor]],
    hops: int,
    decay: float = 1.0,
) -> tuple[dict[NodeType, Tensor], dict[NodeType, Tensor]]:
    """Fills unfilled nodes hop by hop with the mean of their filled neighbours.

    Args:
        values: Vectors per node type (rows of unfilled nodes are ignored and overwritten when reached).
        filled: Which nodes hold a value at the start, per node type.
        edges: ``(edge type, edge_index)`` pairs to spread along (source → destination).
        hops: Number of hops.
        decay: Factor on the mean at every hop.

    Returns:
        The new values and filled masks (inputs are not modified).

    Shapes:
        - values[t]: ``(num_nodes_t, d)``; filled[t]: ``(num_nodes_t,)``
        - edge_index: ``(2, num_edges)``
    """
    values, filled = dict(values), dict(filled)
    destinations = {edge_type[2] for edge_type, _ in edges}  # only these can be reached
    for _ in range(hops):
        sums = {t: torch.zeros_like(v) for t, v in values.items() if t in destinations}
        counts = {t: v.new_zeros(v.size(0)) for t, v in values.items() if t in destinations}
        for (src, _, dst), edge_index in edges:
            keep = filled[src][edge_index[0]] & ~filled[dst][edge_index[1]]
            if not bool(keep.any()):
                continue
            s, d = edge_index[0][keep], edge_index[1][keep]
            sums[dst] += scatter(values[src][s], d, dim=0, dim_size=values[dst].size(0), reduce="sum")
            counts[dst] += scatter(
                torch.ones_like(d, dtype=values[dst].dtype), d, dim=0, dim_size=values[dst].size(0), reduce="sum"
            )
        reached = False
        for t in sums:
            new = counts[t] > 0
            if bool(new.any()):
                reached = True
                values[t] = torch.where(new[:, None], sums[t] / counts[t].clamp(min=1)[:, None] * decay, values[t])
                filled[t] = filled[t] | new
        if not reached:
            break
    return values, filled
