"""The nearest-exemplar term of a trained model on its graph and split (:mod:`graphalign.nn.exemplars`)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from graphalign.data.split import EdgeSplit
from graphalign.nn.exemplars import EXEMPLAR_DIRECTION, Exemplars
from graphalign.nn.hetero_gnn import HeteroAligner
from graphalign.typing import EdgeType, NodeType

__all__ = ["exemplar_term"]


def exemplar_term(
    model: HeteroAligner,
    features: Mapping[NodeType, Tensor],
    split: EdgeSplit,
    weights: Tensor | None = None,
    edges: Mapping[EdgeType, Tensor] | None = None,
    offset: Tensor | float | None = None,
    transfer: Tensor | float | None = None,
) -> Exemplars | None:
    """The model's exemplar term over ``split``'s training links.

    Exemplars are the training links between images and concepts of the aligned
    edge types (those the split holds out, e.g. ``depicts``; label-free edges
    such as ``predicted_as`` are not exemplars); a concept without images borrows
    over every concept–concept training edge (``is_a``, ``part_of``, ...).

    Args:
        model: The trained model.
        features: Input features per node type (the graph's).
        split: Its edge split.
        weights: The term's weights (default: the model's, set by calibration).
        offset: The offset of concepts with training images (default: the model's, set by calibration).
        edges: ``split.inference_edges(add_reverse=False)``, when the caller has them.
        transfer: The weight of the semantic transfer to concepts without training images (default: the
            model's, set by calibration).

    Returns:
        The term, or ``None`` where the model has none, its weights, offset and transfer are all 0, or
        the graph lacks images or concepts.
    """
    module = model.exemplars
    query_type, cand_type = EXEMPLAR_DIRECTION
    if module is None or query_type not in features or cand_type not in features:
        return None
    weights = module.weights if weights is None else weights
    offset = module.offset if offset is None else torch.as_tensor(offset, dtype=torch.float32)
    transfer = module.transfer if transfer is None else torch.as_tensor(transfer, dtype=torch.float32)
    if not bool((weights != 0).any() or offset != 0 or transfer != 0):
        return None
    edges = split.inference_edges(add_reverse=False) if edges is None else edges
    links, hierarchy = [torch.empty(2, 0, dtype=torch.long)], [torch.empty(2, 0, dtype=torch.long)]
    for edge_type, edge_index in edges.items():
        src, _, dst = edge_type
        if edge_type in split.aligned_edge_types and (src, dst) == (query_type, cand_type):
            links.append(edge_index.cpu())
        elif edge_type in split.aligned_edge_types and (src, dst) == (cand_type, query_type):
            links.append(edge_index.flip(0).cpu())
        elif src == dst == cand_type:
            hierarchy.append(edge_index.cpu())
    return Exemplars(
        features[query_type],
        module.mean,
        torch.cat(links, dim=1),
        features[cand_type].size(0),
        torch.cat(hierarchy, dim=1),
        module.config.hops,
        weights,
        offset,
        concept_features=features[cand_type],
        transfer=transfer,
        top=module.config.top,
        temperature=module.config.temperature,
    )
