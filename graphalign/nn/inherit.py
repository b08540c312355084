"""Inheritance: nodes without evidence of their own take on the learned embeddings of their relatives.

A concept with images is placed by training: its images pull it to where they
are. A concept without any image (held out, or simply never photographed) is
placed only by its own text and its messages, and a trained model tends to
leave it far from where its images would land. Inheritance adds, after
training, the learned embeddings of its nearest *anchored* relatives
(concepts that do have an ``anchors`` edge, e.g. ``depicts``), spread over
``relations`` (``is_a``, ``part_of``) hop by hop with
:func:`~graphalign.nn.spread.spread`:

    z_u ← normalize(z_u + weight · mean of the anchored relatives' z)

for every non-anchored node ``u`` that a hop reaches; anchored nodes keep their
embedding. An unseen "dalmatian" moves towards where the images of "poodle"
and "beagle" (its siblings under "dog") were learned to be, and its own text
keeps it apart from them.

It reads only the edges given to the forward pass (anchors are recomputed from
them, so held-out images do not count) and runs in evaluation mode only: the
loss trains the model as without it, like a post-processing step; validation,
test metrics and queries see it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from graphalign.errors import ConfigError, check_config_keys
from graphalign.nn.spread import relation_of, spread
from graphalign.typing import EdgeType, NodeType

__all__ = ["InheritConfig", "inherit"]


@dataclass
class InheritConfig:
    """Which nodes inherit, from whom, over which relations (see the module docstring).

    Example:
        >>> InheritConfig.from_dict({"weight": 0.5}).relations
        ['is_a', 'part_of']

    Args:
        node_type: The node type that inherits (and passes on).
        anchors: Relations that make a node an anchor (it has evidence of its own),
            matched with or without their ``rev_`` prefix.
        relations: ``node_type``–``node_type`` relations to spread over, in both directions.
        hops: How far the anchors' embeddings spread.
        weight: Factor on the inherited mean before it is added.
        decay: Damping per hop.
    """

    node_type: NodeType = "concept"
    anchors: list[str] = field(default_factory=lambda: ["depicts"])
    relations: list[str] = field(default_factory=lambda: ["is_a", "part_of"])
    hops: int = 3
    weight: float = 1.0
    decay: float = 1.0

    def __post_init__(self) -> None:
        self.anchors, self.relations = list(self.anchors), list(self.relations)
        if not self.anchors or not self.relations:
            raise ConfigError("inheritance needs at least one anchor relation and one relation to spread over")
        if self.hops < 1 or self.weight < 0 or not 0.0 < self.decay <= 1.0:
            raise ConfigError(
                f"inheritance needs hops >= 1, weight >= 0 and decay in (0, 1], "
                f"got {self.hops}, {self.weight}, {self.decay}"
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InheritConfig:
        """Inverse of :meth:`to_dict`; raises :class:`ConfigError` on unknown keys."""
        check_config_keys(cls, data, "inheritance")
        return cls(**data)


def anchored(
    config: InheritConfig, num_nodes: int, edge_index_dict: Mapping[EdgeType, Tensor], device: torch.device
) -> Tensor:
    """Mask of the ``config.node_type`` nodes that have an anchor edge. Shapes: output ``(num_nodes,)``."""
    mask = torch.zeros(num_nodes, dtype=torch.bool, device=device)
    for (src, rel, dst), edge_index in edge_index_dict.items():
        if relation_of((src, rel, dst)) not in config.anchors:
            continue
        if dst == config.node_type:
            mask[edge_index[1]] = True
        if src == config.node_type:
            mask[edge_index[0]] = True
    return mask


def inherit(
    z: dict[NodeType, Tensor], edge_index_dict: Mapping[EdgeType, Tensor], config: InheritConfig
) -> dict[NodeType, Tensor]:
    """``z`` with the non-anchored ``config.node_type`` nodes moved towards their anchored relatives.

    Shapes:
        - z[t]: ``(num_nodes_t, d)``, unit norm
        - edge_index_dict[(s, r, t)]: ``(2, num_edges)``
        - output[t]: ``(num_nodes_t, d)``, unit norm
    """
    t = config.node_type
    if t not in z or config.weight == 0:
        return z
    zt = z[t]
    anchors = anchored(config, zt.size(0), edge_index_dict, zt.device)
    edges = []
    for edge_type, edge_index in edge_index_dict.items():
        if edge_type[0] == edge_type[2] == t and relation_of(edge_type) in config.relations:
            edges += [(edge_type, edge_index), ((t, edge_type[1], t), edge_index.flip(0))]  # both directions
    if not edges or bool(anchors.all()) or not bool(anchors.any()):
        return z
    values, filled = spread(
        {t: torch.where(anchors[:, None], zt, torch.zeros_like(zt))}, {t: anchors}, edges, config.hops, config.decay
    )
    reached = filled[t] & ~anchors
    moved = F.normalize(zt + config.weight * values[t], dim=-1)
    return {**z, t: torch.where(reached[:, None], moved, zt)}
