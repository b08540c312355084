r"""Nearest-exemplar scores: label transfer added to the ``image -> concept`` ranking.

An image may resemble some of the training images of the concept it
depicts far more than it resembles their mean: a concept's drawings may be
of several kinds (different styles, or different things one concept names).
A 1-NN label transfer reads that directly, and an embedding, one vector per
concept, cannot. The exemplar term adds it to the embedding's score:

.. math::
    s(q, c) = \cos(\mathrm{view}(q), \mathrm{view}(c))
        + \lambda_{\mathrm{state}(c)} \, e(q, c) + \gamma \, [c \text{ linked}]
        + \mu \, t(q, c) \, [c \text{ new}],
    \qquad
    e(q, c) = \max\bigl(0, \max_{j \in E(c)} \cos(\bar{x}_q, \bar{x}_j)\bigr)

with :math:`E(c)` the images the training links link to concept ``c`` and
:math:`\bar{x}` an image's input features centred by the mean over the graph's
images. A concept without training images (a zero-shot concept) takes the
largest :math:`e` of the concepts within ``hops`` concept–concept edges of it
(its ``is_a`` / ``part_of`` relatives), so the image of a new kind of dog
reaches "dog breed X" through the dogs the graph knows.

A concept without training images also gets the *semantic transfer* score ``t``,
ConSE (Norouzi et al., 2014) with the graph's own linked concepts as the seen
classes: the query's ``top`` best linked concepts by the views' score, weighted
by a softmax of those scores at ``temperature``, and their similarity to the
new concept in the concepts' input feature space (the text encoder's):

.. math::
    t(q, c) = \sum_{k \in \mathrm{top}(q)} p_k(q) \cos(x_k, x_c),
    \qquad p(q) = \mathrm{softmax}_k\bigl(\mathrm{view}(q, k) / \tau\bigr)

It reads what the model learned about the linked concepts (which of them an
image is) and carries it to the new concepts named like them, where the views
compare the image with a new concept's own text alone. Its weight
:math:`\mu` makes the score of a new concept
:math:`\cos(\ldots) + \lambda_{\mathrm{new}} e(q, c) + \mu \, t(q, c)`.

The offset :math:`\gamma` moves every concept with training images against
every concept without, whatever the query (calibrated stacking, Chao et al.,
2016: a model trained on linked concepts scores them too high against new
ones, and :math:`\lambda_{\mathrm{linked}} e` lifts them further). With it,
:math:`\lambda_{\mathrm{linked}}` orders the linked concepts by their nearest
exemplar and :math:`\gamma` places them as a group against the new ones,
where a weight alone has to do both.

The weights :math:`\lambda` (one for linked concepts, one for new ones), the offset and :math:`\mu` are 0
until they are fitted on the user's validation links after training
(:func:`graphalign.training.calibration.fit_direction_scales`), with the
channel scales of the same direction: where the validation links say the term
does not help, it stays off. The term reads only training links and the
graph's features, so held-out links cannot leak into it.

Scoring needs the query's input features, not only its embedding; it is
dense in the candidates (``(queries, concepts)``), which
:class:`~graphalign.nn.directions.DirectedEmbeddings` computes where a
direction has a term.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphalign.checks import check_float, check_int, plain_numbers
from graphalign.errors import ConfigError, check_config_keys
from graphalign.typing import NodeType

__all__ = ["EXEMPLAR_DIRECTION", "ExemplarConfig", "ExemplarWeights", "Exemplars"]

EXEMPLAR_DIRECTION: tuple[NodeType, NodeType] = ("image", "concept")
"""The direction the term scores: image queries, concept candidates."""
_BLOCK = 1 << 23
"""Query-by-exemplar (or query-by-edge) numbers held at once by :meth:`Exemplars.parts`."""


@dataclass(frozen=True)
class ExemplarConfig:
    """The exemplar term of a model (``ModelConfig.exemplars``).

    Example:
        >>> ExemplarConfig.from_dict({"hops": 1}).hops
        1

    Args:
        hops: How far along concept–concept edges a concept without training images looks for
            relatives whose exemplars it borrows (0: it has none).
        top: How many linked concepts, the query's best, the semantic transfer to a concept without
            training images averages over.
        temperature: The softmax temperature over those concepts' scores.
    """

    hops: int = 2
    top: int = 10
    temperature: float = 0.05

    def __post_init__(self) -> None:
        plain_numbers(self)  # NumPy scalars as Python numbers (JSON, and the checks below)
        check_int("ExemplarConfig", "hops", self.hops, low=0, high=8)
        check_int("ExemplarConfig", "top", self.top, low=1)
        check_float("ExemplarConfig", "temperature", self.temperature, low=0.0, low_open=True)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExemplarConfig:
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"ModelConfig.exemplars must be a dict such as {{'hops': 2}} or None, got {data!r}",
                config="ModelConfig",
                key="exemplars",
            )
        check_config_keys(cls, data, "ModelConfig.exemplars")
        return cls(**data)


class ExemplarWeights(nn.Module):
    """What a model saves of its exemplar term: the weights of linked and new concepts (0: off), the
    offset of linked concepts, the weight of the semantic transfer to new concepts and the mean image
    feature the exemplars are centred by, all set by calibration.

    Example:
        >>> ExemplarWeights(8, ExemplarConfig()).weights
        tensor([0., 0.])

    Args:
        feature_dim: Size of the image input features.
        config: The term's settings.
    """

    weights: Tensor
    offset: Tensor
    transfer: Tensor
    mean: Tensor

    def __init__(self, feature_dim: int, config: ExemplarConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("weights", torch.zeros(2))
        self.register_buffer("offset", torch.zeros(()))
        self.register_buffer("transfer", torch.zeros(()))
        self.register_buffer("mean", torch.zeros(feature_dim))
        self.register_load_state_dict_pre_hook(_off_by_default)

    @property
    def active(self) -> bool:
        """Whether a weight, the offset or the transfer's weight is non-zero."""
        return bool((self.weights != 0).any() or self.offset != 0 or self.transfer != 0)

    def switch_off(self) -> None:
        """The weights, the offset and the transfer's weight to 0 (the term off, as before calibration)."""
        self.weights.zero_()
        self.offset.zero_()
        self.transfer.zero_()

    def extra_repr(self) -> str:
        weights = [round(float(w), 4) for w in self.weights]
        return (
            f"hops={self.config.hops}, weights={weights}, offset={round(float(self.offset), 4)}, "
            f"transfer={round(float(self.transfer), 4)}"
        )


def _off_by_default(module: nn.Module, state_dict: dict[str, Tensor], prefix: str, *args: Any) -> None:
    """Weights saved before the term (or its offset, or the transfer) existed load with those parts off."""
    for name in ("weights", "offset", "transfer", "mean"):
        state_dict.setdefault(prefix + name, torch.zeros_like(getattr(module, name)))


class Exemplars:
    """The exemplar term of one trained graph (see the module docstring).

    Example:
        >>> features = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])  # three images
        >>> term = Exemplars(features, torch.zeros(2), exemplars=torch.tensor([[0, 1], [0, 1]]),
        ...                  num_concepts=3, hierarchy=torch.tensor([[1], [2]]), hops=1,
        ...                  weights=torch.tensor([1.0, 0.5]))
        >>> term.scores(torch.tensor([2])).round(decimals=2)  # concept 0: image 0; 1: image 1; 2 borrows 1's
        tensor([[1.0000, 0.1000, 0.0500]])
        >>> term.offset = torch.tensor(-0.2)  # the linked concepts 0 and 1 move down together
        >>> term.scores(torch.tensor([2])).round(decimals=2)
        tensor([[ 0.8000, -0.1000,  0.0500]])

    Args:
        features: Input features of every image of the graph (the queries' rows).
        mean: The mean the features are centred by.
        exemplars: ``(image row, concept row)`` of every training link.
        num_concepts: Number of concepts.
        hierarchy: Concept–concept edges (either direction) over which a concept without exemplars
            borrows its relatives'.
        hops: How far it borrows.
        weights: ``(2,)``: the weights of concepts with exemplars and of those without.
        offset: Added to the score of every concept with exemplars.
        concept_features: Input features of every concept (the semantic transfer's space; ``None``:
            no transfer).
        transfer: The weight of the semantic transfer to concepts without exemplars.
        top: How many linked concepts the transfer averages over.
        temperature: The softmax temperature over their scores.

    Shapes:
        - features: ``(num_images, feature_dim)``
        - exemplars: ``(2, num_links)``
        - hierarchy: ``(2, num_edges)``
        - concept_features: ``(num_concepts, concept_feature_dim)``
    """

    def __init__(
        self,
        features: Tensor,
        mean: Tensor,
        exemplars: Tensor,
        num_concepts: int,
        hierarchy: Tensor,
        hops: int,
        weights: Tensor,
        offset: Tensor | float = 0.0,
        concept_features: Tensor | None = None,
        transfer: Tensor | float = 0.0,
        top: int = 10,
        temperature: float = 0.05,
    ) -> None:
        self.features = features.cpu()  # as stored (e.g. half precision), on the CPU as the embeddings
        self.mean, self.weights = mean.float().cpu(), weights.float().cpu()
        self.offset = torch.as_tensor(offset, dtype=torch.float32).cpu()
        self.transfer = torch.as_tensor(transfer, dtype=torch.float32).cpu()
        self.links = exemplars.cpu()  # (2, E): image row, concept row
        self.targets = self.links[1]
        self.exemplar_features = self._prepare(features[self.links[0]])  # (E, d)
        self.linked = torch.zeros(num_concepts, dtype=torch.bool)
        self.linked[self.targets] = True
        hierarchy = hierarchy.cpu()
        self.hierarchy = torch.cat([hierarchy, hierarchy.flip(0)], dim=1)  # (2, 2 * H), both directions
        self.hops = hops
        self.concepts = None if concept_features is None else F.normalize(concept_features.float().cpu(), dim=-1)
        self.top, self.temperature = top, temperature

    def _prepare(self, x: Tensor) -> Tensor:
        return F.normalize(x.float().cpu() - self.mean, dim=-1)

    def parts(self, query_features: Tensor) -> tuple[Tensor, Tensor]:
        """The term of concepts with exemplars and the borrowed term of those without, unweighted.

        Shapes:
            - query_features: ``(num_queries, feature_dim)``
            - output: two ``(num_queries, num_concepts)``, each 0 where the other applies
        """
        queries = self._prepare(query_features)
        num_queries = queries.size(0)
        block = max(1, _BLOCK // max(num_queries, 1))  # exemplars / edges at once: about 8M numbers
        own = torch.zeros(num_queries, self.linked.numel())
        for start in range(0, self.targets.numel(), block):  # a running max over blocks of exemplars
            sims = queries @ self.exemplar_features[start : start + block].t()  # (Q, block)
            targets = self.targets[start : start + block].expand(num_queries, -1)
            own.scatter_reduce_(1, targets, sims, reduce="amax", include_self=True)
        borrowed = own
        src, dst = self.hierarchy
        for _ in range(self.hops):  # a node reached at hop k holds the best of its k-hop neighbourhood
            reached = borrowed.clone()
            for start in range(0, src.numel(), block):
                edges = slice(start, start + block)
                heads = dst[edges].expand(num_queries, -1)
                reached.scatter_reduce_(1, heads, borrowed[:, src[edges]], reduce="amax", include_self=True)
            borrowed = reached
        return own.masked_fill(~self.linked, 0.0), borrowed.masked_fill(self.linked, 0.0)

    def transferred(self, views: Tensor) -> Tensor:
        """The semantic transfer to every concept without exemplars, unweighted (see the module docstring).

        Example:
            >>> term = Exemplars(torch.eye(2), torch.zeros(2), torch.tensor([[0, 1], [0, 1]]), 3,
            ...                  torch.empty(2, 0, dtype=torch.long), 0, torch.zeros(2),
            ...                  concept_features=torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]), top=1)
            >>> term.transferred(torch.tensor([[0.9, 0.1, 0.0]]))  # concept 0 is best: cos(x_0, x_2)
            tensor([[0.0000, 0.0000, 0.6000]])

        Args:
            views: The views' score of each query with every concept.

        Shapes:
            - views: ``(num_queries, num_concepts)``
            - output: ``(num_queries, num_concepts)``, 0 on the concepts with exemplars
        """
        out = torch.zeros(views.shape)
        if self.concepts is None or not bool(self.linked.any()):
            return out
        seen = self.linked.nonzero().squeeze(1)
        best = views.float().cpu()[:, seen].topk(min(self.top, seen.numel()), dim=1)
        weights = torch.softmax(best.values / self.temperature, dim=1)  # (Q, top)
        centre = torch.einsum("qt,qtd->qd", weights, self.concepts[seen[best.indices]])  # (Q, d)
        return (centre @ self.concepts.t()).masked_fill(self.linked, 0.0)

    def scores(self, rows: Tensor | None = None, features: Tensor | None = None, views: Tensor | None = None) -> Tensor:
        """The weighted term for the graph's images ``rows`` (default: all) or new images' ``features``.

        Args:
            rows: The query images' rows.
            features: New query images' input features.
            views: The views' scores of the same queries (needed where the transfer's weight is not 0).

        Shapes:
            - rows: ``(num_queries,)``
            - features: ``(num_queries, feature_dim)``
            - views: ``(num_queries, num_concepts)``
            - output: ``(num_queries, num_concepts)``
        """
        if features is None:
            features = self.features if rows is None else self.features[rows.cpu()]
        own, borrowed = self.parts(features)
        out = self.weights[0] * own + self.weights[1] * borrowed + self.offset * self.linked
        if self.transfer != 0:
            if views is None:
                raise ValueError("the semantic transfer needs the views' scores of the queries")
            out = out + self.transfer * self.transferred(views)
        return out
