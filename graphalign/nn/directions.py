"""Per-direction views of the embedding: the parts of the embedding weighted for one query → candidate direction.

A model with graph channels (:mod:`graphalign.nn.channels`) embeds every node
as ``normalise([learned, w_1 * channel_1, ..., w_K * channel_K])``, so cosine
similarity is a weighted sum of the learned similarity and the channel
similarities. Which parts should count, and how much, differs with the
direction of a query: for ``concept -> image`` a channel that held-out images
lack (they have no ``depicts`` edge yet) pulls the images already linked
ahead of the right one, while for ``text -> image`` the same channel may be
what finds it. The channels readout therefore holds one scale per
(query type, candidate type) and channel, 1 by default and fitted on the
user's validation links after training
(:func:`graphalign.training.calibration.fit_direction_scales`).

Scaling the slice of channel ``k`` of a unit-norm embedding by ``s_k`` and
normalising again gives exactly ``normalise([learned, ..., s_k * w_k *
channel_k, ...])``, so a direction's view is computed from the stored
embedding alone: a per-dimension *multiplier* (1 on the learned part, ``s_k``
on channel ``k``), the same on both sides of the query. New nodes (zero-shot
queries) take the same view.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch.nn.functional as F
from torch import Tensor

from graphalign.typing import NodeType

__all__ = ["Direction", "DirectedEmbeddings", "rescale"]

Direction = tuple[NodeType, NodeType]
"""``(query type, candidate type)``, e.g. ``("concept", "image")``."""


def rescale(z: Tensor, multiplier: Tensor | None) -> Tensor:
    """``z`` seen in one direction: every dimension times its multiplier, L2-normalised again.

    Example:
        >>> import torch
        >>> rescale(torch.tensor([[0.6, 0.8]]), torch.tensor([1.0, 0.0]))
        tensor([[1., 0.]])

    Shapes:
        - z: ``(num_nodes, dim)``
        - multiplier: ``(dim,)``
        - output: ``(num_nodes, dim)``
    """
    if multiplier is None:
        return z
    return F.normalize(z * multiplier.to(z.device, z.dtype), dim=-1)


class DirectedEmbeddings(dict):
    """Embeddings per node type (a ``dict``), plus the multiplier of each direction that has one.

    ``self[t]`` is the stored embedding of node type ``t`` (what export and
    generic neighbours use); :meth:`pair` gives the query and candidate sides
    of one direction, which rankings use.

    Example:
        >>> import torch
        >>> z = DirectedEmbeddings({"image": torch.eye(2), "concept": torch.eye(2)},
        ...                        {("concept", "image"): torch.tensor([1.0, 0.0])})
        >>> z.pair("concept", "image")[1]
        tensor([[1., 0.],
                [0., 0.]])

    Args:
        embeddings: Unit-norm embeddings per node type.
        multipliers: ``(dim,)`` multiplier per direction (directions without one use
            the embeddings as they are).
    """

    def __init__(
        self, embeddings: Mapping[NodeType, Tensor], multipliers: Mapping[Direction, Tensor] | None = None
    ) -> None:
        super().__init__(embeddings)
        self.multipliers: dict[Direction, Tensor] = dict(multipliers or {})

    def multiplier(self, query_type: NodeType, cand_type: NodeType) -> Tensor | None:
        """The multiplier of one direction, ``None`` when it has none."""
        return self.multipliers.get((query_type, cand_type))

    def pair(self, query_type: NodeType, cand_type: NodeType) -> tuple[Tensor, Tensor]:
        """Query-side and candidate-side embeddings of one direction.

        Shapes:
            - output: ``(num_nodes[query_type], dim)``, ``(num_nodes[cand_type], dim)``
        """
        multiplier = self.multiplier(query_type, cand_type)
        return rescale(self[query_type], multiplier), rescale(self[cand_type], multiplier)
