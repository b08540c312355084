"""Feature-similarity edges: connect each node to its k most similar nodes of a type.

These edges use no labels (only the nodes' own encoder features), so they are
legal for held-out nodes too: a new image gets messages from the training
images that look like it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import torch
import torch.nn.functional as F

from graphalign.errors import ConfigError
from graphalign.features.store import BuiltGraph
from graphalign.typing import NodeType

logger = logging.getLogger(__name__)

__all__ = ["KNN_RELATION", "knn_pairs", "knn_edge_index", "add_knn_edges", "check_one_space"]

KNN_RELATION = "similar_to"


def knn_pairs(x: torch.Tensor, k: int, batch_size: int = 4096, y: torch.Tensor | None = None) -> torch.Tensor:
    """Each row's ``k`` most cosine-similar other rows (of ``y``, if given).

    Example:
        >>> knn_pairs(torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]), k=1).tolist()
        [[0, 1, 2], [1, 0, 1]]

    Args:
        x: Query rows.
        k: Neighbours per row.
        batch_size: Rows of ``x`` compared at once.
        y: Candidate rows in the same space; ``None``: ``x`` itself, a row never
            being its own neighbour.

    Shapes:
        - x: ``(N, d)``; y: ``(M, d)``
        - output: ``(2, N * min(k, M'))``: ``(row of x, row of y)`` pairs, with
          ``M' = N - 1`` without ``y``
    """
    n = x.size(0)
    x = F.normalize(x.float(), dim=-1)
    if y is None:
        k, candidates = min(k, n - 1), x
    else:
        if y.dim() != 2 or y.size(1) != x.size(1):
            raise ConfigError(f"kNN candidates must have shape (M, {x.size(1)}), got {tuple(y.shape)}")
        k, candidates = min(k, y.size(0)), F.normalize(y.float(), dim=-1)
    if k <= 0:
        return torch.empty(2, 0, dtype=torch.long)
    heads, tails = [], []
    for start in range(0, n, batch_size):
        sims = x[start : start + batch_size] @ candidates.T  # (B, M)
        rows = torch.arange(start, min(start + batch_size, n))
        if y is None:
            sims[torch.arange(rows.numel()), rows] = float("-inf")  # not itself
        top = torch.topk(sims, k, dim=1).indices  # (B, k)
        heads.append(rows.repeat_interleave(k))
        tails.append(top.flatten())
    return torch.stack([torch.cat(heads), torch.cat(tails)])


def check_one_space(node_type: NodeType, target_type: NodeType, spaces: Mapping[NodeType, str]) -> None:
    """Refuses kNN edges between two node types whose features are in different spaces.

    Raises:
        ConfigError: Naming both spaces and how to put images into the text encoder's.
    """
    if node_type == target_type:
        return
    found = (spaces.get(node_type), spaces.get(target_type))
    if found[0] is None or found[0] != found[1]:
        raise ConfigError(
            f"kNN edges from {node_type!r} to {target_type!r} need features in one space, got {found[0]!r} and "
            f"{found[1]!r} (e.g. images as ConSE vectors alone, in the text encoder's space: "
            f"image_encoder_kwargs={{'mode': 'conse'}}, on the command line --image-encoder-kwargs "
            f'\'{{"mode": "conse"}}\')'
        )


def knn_edge_index(
    built: BuiltGraph, node_type: NodeType = "image", k: int = 5, target_type: NodeType | None = None
) -> torch.Tensor:
    """Rows ``(node_type row, target_type row)`` of each node's ``k`` most similar targets.

    Across node types (``target_type`` differs), both types must share a feature
    space (:attr:`BuiltGraph.spaces`): e.g. images encoded as ConSE vectors in the
    text encoder's space, against concepts; each image is then linked to the
    concepts its pretrained encoders find closest, without using any label.

    Raises:
        ConfigError: If a type has no features or the two types' spaces differ.

    Shapes:
        - output: ``(2, N * k)``
    """
    target_type = target_type or node_type
    for t in {node_type, target_type}:
        if t not in built.features:
            raise ConfigError(f"no {t!r} features to build kNN edges from")
    if target_type == node_type:
        return knn_pairs(built.features[node_type], k)
    check_one_space(node_type, target_type, built.spaces)
    return knn_pairs(built.features[node_type], k, y=built.features[target_type])


def add_knn_edges(
    built: BuiltGraph,
    node_type: NodeType = "image",
    k: int = 5,
    relation: str = KNN_RELATION,
    target_type: NodeType | None = None,
) -> BuiltGraph:
    """A copy of ``built`` with ``relation`` edges from each node of ``node_type``
    to its ``k`` nearest nodes of ``target_type`` (default: the same type) by
    feature cosine (see :func:`knn_edge_index`).

    Raises:
        ConfigError: If a type has no features, the spaces differ, or the graph
            already has ``relation`` edges between these types.
    """
    target_type = target_type or node_type
    if any(built.graph.edge_type(e) == (node_type, relation, target_type) for e in built.graph.edges):
        raise ConfigError(f"the graph already has {relation!r} edges from {node_type!r} to {target_type!r}")
    pairs = knn_edge_index(built, node_type, k, target_type)
    heads, tails = built.index.ids[node_type], built.index.ids[target_type]
    triples = list(dict.fromkeys((heads[head], relation, tails[tail]) for head, tail in pairs.t().tolist()))
    logger.info("added %d %s edges from %s to %s nodes (k=%d)", len(triples), relation, node_type, target_type, k)
    return built.with_edges(triples)
