"""Feature-similarity edges: connect each node to its k most similar nodes of a type.

These edges use no labels (only the nodes' own encoder features), so they are
legal for held-out nodes too: a new image gets messages from the training
images that look like it.
"""

from __future__ import annotations

import dataclasses
import logging

import torch
import torch.nn.functional as F

from graphalign.errors import ConfigError
from graphalign.graph.knowledge_graph import KnowledgeGraph
from graphalign.graph.store import BuiltGraph
from graphalign.typing import NodeType

logger = logging.getLogger(__name__)

__all__ = ["KNN_RELATION", "knn_pairs", "add_knn_edges"]

KNN_RELATION = "similar_to"


def knn_pairs(x: torch.Tensor, k: int, batch_size: int = 4096) -> torch.Tensor:
    """Each row's ``k`` most cosine-similar other rows.

    Shapes:
        - x: ``(N, d)``
        - output: ``(2, N * min(k, N - 1))``: ``(row, neighbour)`` pairs
    """
    n = x.size(0)
    k = min(k, n - 1)
    if k <= 0:
        return torch.empty(2, 0, dtype=torch.long)
    x = F.normalize(x.float(), dim=-1)
    heads, tails = [], []
    for start in range(0, n, batch_size):
        sims = x[start : start + batch_size] @ x.T  # (B, N)
        rows = torch.arange(start, min(start + batch_size, n))
        sims[torch.arange(rows.numel()), rows] = float("-inf")  # not itself
        top = torch.topk(sims, k, dim=1).indices  # (B, k)
        heads.append(rows.repeat_interleave(k))
        tails.append(top.flatten())
    return torch.stack([torch.cat(heads), torch.cat(tails)])


def add_knn_edges(built: BuiltGraph, node_type: NodeType = "image", k: int = 5, relation: str = KNN_RELATION) -> BuiltGraph:
    """A copy of ``built`` with ``relation`` edges from each node of ``node_type``
    to its ``k`` nearest nodes of that type by feature cosine.

    Raises:
        ConfigError: If the type has no features or the relation exists already.
    """
    if node_type not in built.features:
        raise ConfigError(f"no {node_type!r} features to build kNN edges from")
    if any(e.relation == relation for e in built.graph.edges):
        raise ConfigError(f"the graph already has {relation!r} edges")
    graph = KnowledgeGraph(built.graph.root, allow_self_loops=False, allow_outside_root=built.graph.allow_outside_root)
    for node in built.graph.nodes():
        graph.add_node(node)
    for edge in built.graph.edges:
        graph.add_edge(edge.head, edge.relation, edge.tail)
    ids = built.index.ids[node_type]
    pairs = knn_pairs(built.features[node_type], k)
    seen = set()
    for head, tail in pairs.t().tolist():
        if (head, tail) not in seen:
            seen.add((head, tail))
            graph.add_edge(ids[head], relation, ids[tail])
    logger.info("added %d %s edges between %s nodes (k=%d)", len(seen), relation, node_type, k)
    return dataclasses.replace(built, graph=graph)
