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

Two views per direction, by the candidate's state. A candidate the graph
already links to nodes of the query's type (a concept with training images,
for ``image -> concept``) has had its learned part trained on such links; a
new one (a concept without images) has not, and is better read through the
pretrained parts. Each direction therefore has a ``(2, dim)`` multiplier: row
:data:`LINKED` for linked candidates, row :data:`NEW` for the others, and
each candidate is scored in its own view: ``cos(view_s(query),
view_s(candidate))``, ``s`` the candidate's state. This is one dot product of
``[view_0(query), view_1(query)]`` with a candidate that fills only the half
of its state (:meth:`DirectedEmbeddings.pair`), so exact and approximate
vector indexes rank it as they are.

A direction may also have a score *term* that is not a dot product: the
nearest-exemplar term of ``image -> concept`` (:mod:`graphalign.nn.exemplars`).
:meth:`DirectedEmbeddings.scores` adds it to the views' scores; rankings of a
direction with a term score every candidate densely.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from graphalign.errors import GraphAlignError
from graphalign.nn.exemplars import Exemplars
from graphalign.typing import NodeType

__all__ = ["Direction", "DirectedEmbeddings", "LINKED", "NEW", "candidate_view", "query_view", "rescale"]

Direction = tuple[NodeType, NodeType]
"""``(query type, candidate type)``, e.g. ``("concept", "image")``."""
LINKED, NEW = 0, 1
"""Rows of a direction's ``(2, dim)`` multiplier: the view of candidates the graph links to the query's
type, and of the others."""


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


def _split(multiplier: Tensor | None, linked: Tensor | None) -> Tensor | None:
    """The single multiplier of a direction that has one view (``None``: as stored), or ``None`` when its
    candidates are ranked in two views (both states present, views that differ)."""
    if multiplier is None or multiplier.dim() == 1:
        return multiplier
    if linked is None or torch.equal(multiplier[LINKED], multiplier[NEW]) or bool(linked.all()):
        return multiplier[LINKED]
    if not bool(linked.any()):
        return multiplier[NEW]
    return None


def query_view(queries: Tensor, multiplier: Tensor | None, linked: Tensor | None = None) -> Tensor:
    """The query side of one direction (see the module docstring).

    Args:
        queries: Unit-norm query embeddings.
        multiplier: ``None``, ``(dim,)``, or ``(2, dim)``: the views of linked and new candidates.
        linked: Which candidates are linked (``(num_candidates,)`` bool).

    Shapes:
        - queries: ``(num_queries, dim)``
        - output: ``(num_queries, dim)``, or ``(num_queries, 2 * dim)`` with two views
    """
    single = _split(multiplier, linked)
    if single is not None or multiplier is None:
        return rescale(queries, single)
    return torch.cat([rescale(queries, multiplier[LINKED]), rescale(queries, multiplier[NEW])], dim=-1)


def candidate_view(candidates: Tensor, multiplier: Tensor | None, linked: Tensor | None = None) -> Tensor:
    """The candidate side of one direction: each candidate in the view of its state, in its half.

    Example:
        >>> views = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # linked: first dimension, new: second
        >>> linked = torch.tensor([True, False])
        >>> candidate_view(torch.tensor([[0.6, 0.8], [0.6, 0.8]]), views, linked)
        tensor([[1., 0., 0., 0.],
                [0., 0., 0., 1.]])

    Shapes:
        - candidates: ``(num_candidates, dim)``
        - output: as :func:`query_view`'s ``dim``
    """
    single = _split(multiplier, linked)
    if single is not None or multiplier is None:
        return rescale(candidates, single)
    assert linked is not None
    mask = linked.to(candidates.device).unsqueeze(-1)
    return torch.cat(
        [rescale(candidates, multiplier[LINKED]) * mask, rescale(candidates, multiplier[NEW]) * ~mask], dim=-1
    )


class DirectedEmbeddings(dict):
    """Embeddings per node type (a ``dict``), plus the views of each direction that has them.

    ``self[t]`` is the stored embedding of node type ``t`` (what export and
    generic neighbours use); :meth:`pair` gives the query and candidate sides
    of one direction, which rankings use.

    Example:
        >>> z = DirectedEmbeddings({"image": torch.eye(2), "concept": torch.eye(2)},
        ...                        {("concept", "image"): torch.tensor([1.0, 0.0])})
        >>> z.pair("concept", "image")[1]
        tensor([[1., 0.],
                [0., 0.]])

    Args:
        embeddings: Unit-norm embeddings per node type.
        multipliers: ``(dim,)`` or ``(2, dim)`` multiplier per direction (directions without one use
            the embeddings as they are).
        linked: Per direction, which candidates the graph links to the query's type (``(num_candidates,)``
            bool; :meth:`~graphalign.data.split.EdgeSplit.linked`); without it a direction has one view.
        terms: Per direction, a score term added to the views' scores (:class:`~graphalign.nn.exemplars.Exemplars`).
    """

    def __init__(
        self,
        embeddings: Mapping[NodeType, Tensor],
        multipliers: Mapping[Direction, Tensor] | None = None,
        linked: Mapping[Direction, Tensor] | None = None,
        terms: Mapping[Direction, Exemplars] | None = None,
    ) -> None:
        super().__init__(embeddings)
        self.multipliers: dict[Direction, Tensor] = dict(multipliers or {})
        self.linked: dict[Direction, Tensor] = dict(linked or {})
        self.terms: dict[Direction, Exemplars] = dict(terms or {})

    def term(self, query_type: NodeType, cand_type: NodeType) -> Exemplars | None:
        """The score term of one direction, ``None`` when it has none."""
        return self.terms.get((query_type, cand_type))

    def scores(
        self,
        query_type: NodeType,
        cand_type: NodeType,
        rows: Tensor | None = None,
        vectors: Tensor | None = None,
        features: Tensor | None = None,
    ) -> Tensor:
        """Every candidate's score for the stored queries ``rows`` (default: all), or for new queries'
        embeddings ``vectors`` and input ``features``: the views' cosine plus the direction's term.

        Shapes:
            - rows: ``(num_queries,)``
            - vectors: ``(num_queries, dim)``
            - features: ``(num_queries, feature_dim)`` (needed with ``vectors`` where the direction has a term)
            - output: ``(num_queries, num_nodes[cand_type])``
        """
        new = vectors is not None
        if vectors is None:
            vectors = self[query_type] if rows is None else self[query_type][rows]
        out = self.queries(query_type, cand_type, vectors) @ self.candidates(query_type, cand_type).t()
        term = self.term(query_type, cand_type)
        if term is not None:
            if new and features is None:
                raise GraphAlignError(
                    f"new {query_type} queries need their input features: {query_type} -> {cand_type} has a score term"
                )
            out = out + term.scores(None if new else rows, features, views=out)
        return out

    def multiplier(self, query_type: NodeType, cand_type: NodeType) -> Tensor | None:
        """The multiplier of one direction, ``None`` when it has none."""
        return self.multipliers.get((query_type, cand_type))

    def directed(self, query_type: NodeType, cand_type: NodeType) -> bool:
        """Whether the direction has a view of its own (else rankings read the stored embeddings)."""
        return (query_type, cand_type) in self.multipliers

    def two_views(self, query_type: NodeType, cand_type: NodeType) -> bool:
        """Whether the direction ranks linked and new candidates in views of their own."""
        multiplier = self.multiplier(query_type, cand_type)
        return multiplier is not None and _split(multiplier, self.linked.get((query_type, cand_type))) is None

    def queries(self, query_type: NodeType, cand_type: NodeType, vectors: Tensor | None = None) -> Tensor:
        """The query side of one direction: ``vectors`` (default: the stored ``query_type`` embeddings) in its view.

        Shapes:
            - vectors: ``(num_queries, dim)``
            - output: ``(num_queries, dim)``, or ``(num_queries, 2 * dim)`` with two views
        """
        direction = (query_type, cand_type)
        vectors = self[query_type] if vectors is None else vectors
        return query_view(vectors, self.multipliers.get(direction), self.linked.get(direction))

    def candidates(self, query_type: NodeType, cand_type: NodeType) -> Tensor:
        """The candidate side of one direction (:func:`candidate_view`)."""
        direction = (query_type, cand_type)
        return candidate_view(self[cand_type], self.multipliers.get(direction), self.linked.get(direction))

    def pair(self, query_type: NodeType, cand_type: NodeType) -> tuple[Tensor, Tensor]:
        """Query-side and candidate-side embeddings of one direction.

        Shapes:
            - output: ``(num_nodes[query_type], d)``, ``(num_nodes[cand_type], d)``, ``d`` the stored
              size, or twice it where linked and new candidates have views of their own
        """
        return self.queries(query_type, cand_type), self.candidates(query_type, cand_type)
