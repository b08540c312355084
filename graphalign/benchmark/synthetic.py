r"""Synthetic multimodal knowledge graphs at any size, built with tensor operations.

:func:`make_synthetic_graph` generates a concept hierarchy with a power-law
degree distribution, images that depict concepts, texts that describe images,
and non-aligned context edges, with node features of the sizes real encoders
give (384 for concepts and texts as all-MiniLM-L6-v2, 1280 for images as
EfficientNet-Lite0). Everything is drawn with vectorised torch operations from
one seeded :class:`torch.Generator`: a 10^6-node, 10^7-edge graph takes seconds
and no Python loop runs per node or edge.

The result is a :class:`SyntheticGraph`: features and edges as tensors, which
:func:`~graphalign.training.fit` trains on directly (it never builds the
per-node :class:`~graphalign.graph.KnowledgeGraph`); :meth:`SyntheticGraph.split`
is the vectorised counterpart of :func:`~graphalign.data.split_graph`, and
:meth:`SyntheticGraph.to_built` converts a small graph into a validated
:class:`~graphalign.features.store.BuiltGraph` (for run folders and the CLI).

The structure (``C``, ``I``, ``T``: numbers of concepts, images, texts):

* ``concept --is_a--> concept``: a random recursive tree; concept ``i > 0`` has
  the parent :math:`\lfloor i\,u^{\gamma} \rfloor`, :math:`u \sim U(0, 1)`,
  which favours early concepts: the expected number of children of concept
  ``j`` falls as :math:`j^{-(1 - 1/\gamma)}` and the degree distribution has a
  power-law tail :math:`P(k) \propto k^{-(2\gamma - 1)/(\gamma - 1)}`
  (exponent 3 for the default :math:`\gamma = 2`, as preferential attachment);
* concept *popularity* is Zipfian (exponent ``popularity_exponent`` over a
  random ranking of the concepts): ``image --depicts--> concept`` (one per
  image), and the targets of ``text --mentions--> concept`` and
  ``concept --related_to--> concept`` are drawn from it, so a few concepts are
  hubs with a large share of all edges;
* ``text --describes--> image``: one per text, images drawn uniformly;
* ``image --similar_to--> image``: mostly images of the same concept (a stand-in
  for visual kNN edges, label-free like those of :mod:`graphalign.features.knn`),
  some random ones;
* the context relations (``mentions``, ``similar_to``, ``related_to``) fill the
  edge budget ``edges_per_node * num_nodes`` in the proportions of
  ``context_shares``; duplicate edges and self-loops are dropped (a quarter more
  are drawn and the surplus trimmed, so the budget is met unless a relation
  saturates, e.g. on tiny graphs).

Features follow the structure, so alignment is learnable: concept vectors are
sums of random vectors down the hierarchy (a child resembles its parent), a
text is its concept's vector plus noise, an image a fixed random map of its
concept's vector plus noise, made non-negative (1280 values, like pooled CNN
activations). Concept and text features are L2-normalised.

Example:
    >>> graph = make_synthetic_graph(SyntheticConfig(num_nodes=2000, seed=0))
    >>> graph.feature_dims
    {'concept': 384, 'image': 1280, 'text': 384}
    >>> graph.num_edges > 15_000
    True
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from graphalign.data.split import (
    EdgeSplit,
    NodeMasks,
    SplitConfig,
    aligned_edge_types,
    split_edges,
    stratified_holdout_masks,
)
from graphalign.errors import ConfigError, GraphValidationError
from graphalign.rng import randint_below
from graphalign.typing import EdgeType, NodeType

if TYPE_CHECKING:
    from torch_geometric.data import HeteroData

    from graphalign.features.store import BuiltGraph

logger = logging.getLogger(__name__)

__all__ = [
    "SyntheticConfig",
    "SyntheticGraph",
    "make_synthetic_graph",
    "ALIGNED_RELATIONS",
    "IS_A",
    "RELATED_TO",
    "DEPICTS",
    "SIMILAR_TO",
    "DESCRIBES",
    "MENTIONS",
]

IS_A: EdgeType = ("concept", "is_a", "concept")
RELATED_TO: EdgeType = ("concept", "related_to", "concept")
DEPICTS: EdgeType = ("image", "depicts", "concept")
SIMILAR_TO: EdgeType = ("image", "similar_to", "image")
DESCRIBES: EdgeType = ("text", "describes", "image")
MENTIONS: EdgeType = ("text", "mentions", "concept")

ALIGNED_RELATIONS: tuple[str, ...] = ("is_a", "depicts", "describes")
"""The relations a benchmark aligns (``SplitConfig(align_relations=...)``): one
supervision edge per node, the context relations pass messages only."""

_CONTEXT_TYPES = {"mentions": MENTIONS, "similar_to": SIMILAR_TO, "related_to": RELATED_TO}
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_CHUNK = 1 << 14
"""Rows of features generated at once (bounds the temporary memory)."""
_OVERDRAW = 1.25
"""Context edges drawn per wanted edge, before duplicates are dropped and the count trimmed."""


@dataclass
class SyntheticConfig:
    """Size and shape of a synthetic graph; JSON-friendly via :meth:`to_dict`.

    Example:
        >>> SyntheticConfig(num_nodes=10**6).node_counts()
        {'concept': 100000, 'image': 300000, 'text': 600000}

    Args:
        num_nodes: Total number of nodes.
        edges_per_node: Edge budget per node (all relations, forward direction).
        concept_fraction: Share of concept nodes.
        image_fraction: Share of image nodes; texts are the rest.
        text_dim: Feature size of concepts and texts (all-MiniLM-L6-v2: 384).
        image_dim: Feature size of images (EfficientNet-Lite0: 1280).
        hierarchy_exponent: :math:`\\gamma > 1` of the ``is_a`` tree (larger: more skewed).
        popularity_exponent: Zipf exponent of concept popularity.
        context_shares: How the edges beyond the aligned ones split between
            ``mentions``, ``similar_to`` and ``related_to``.
        same_concept_similar: Share of ``similar_to`` edges between images of one concept.
        noise: Feature noise (relative to the concept signal).
        dtype: Feature storage, ``"float32"`` (default) or ``"float16"``/``"bfloat16"``
            (half the memory; :func:`~graphalign.training.fit` computes in float32).
        seed: Seed of every random draw.
    """

    num_nodes: int = 10_000
    edges_per_node: float = 10.0
    concept_fraction: float = 0.1
    image_fraction: float = 0.3
    text_dim: int = 384
    image_dim: int = 1280
    hierarchy_exponent: float = 2.0
    popularity_exponent: float = 1.0
    context_shares: dict[str, float] = field(
        default_factory=lambda: {"mentions": 0.4, "similar_to": 0.35, "related_to": 0.25}
    )
    same_concept_similar: float = 0.8
    noise: float = 0.5
    dtype: str = "float32"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_nodes < 4:
            raise ConfigError(f"SyntheticConfig.num_nodes must be at least 4, got {self.num_nodes}")
        if not (
            0 < self.concept_fraction and 0 < self.image_fraction and self.concept_fraction + self.image_fraction < 1
        ):
            raise ConfigError(
                "SyntheticConfig: concept_fraction and image_fraction must be positive with a sum below 1"
            )
        if self.hierarchy_exponent <= 1.0:
            raise ConfigError(f"SyntheticConfig.hierarchy_exponent must be > 1, got {self.hierarchy_exponent}")
        if self.edges_per_node < 0 or self.popularity_exponent < 0 or self.noise < 0:
            raise ConfigError("SyntheticConfig: edges_per_node, popularity_exponent and noise must be >= 0")
        unknown = sorted(set(self.context_shares) - set(_CONTEXT_TYPES))
        if unknown or any(v < 0 for v in self.context_shares.values()):
            raise ConfigError(
                f"SyntheticConfig.context_shares: unknown relations {unknown} or negative shares; "
                f"valid relations: {sorted(_CONTEXT_TYPES)}"
            )
        if self.dtype not in _DTYPES:
            raise ConfigError(f"SyntheticConfig.dtype must be one of {sorted(_DTYPES)}, got {self.dtype!r}")
        if self.text_dim < 1 or self.image_dim < 1:
            raise ConfigError("SyntheticConfig: text_dim and image_dim must be positive")

    def node_counts(self) -> dict[NodeType, int]:
        """Number of nodes per type (at least 2 concepts, 1 image, 1 text)."""
        concepts = max(2, round(self.num_nodes * self.concept_fraction))
        images = max(1, round(self.num_nodes * self.image_fraction))
        texts = max(1, self.num_nodes - concepts - images)
        return {"concept": concepts, "image": images, "text": texts}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SyntheticConfig:
        return cls(**data)


@dataclass
class SyntheticGraph:
    """A graph held as tensors: features, edges, and the concept of each image and text.

    It offers what :func:`~graphalign.training.fit` needs from a graph
    (``features``, ``spaces``, ``feature_dims``, :meth:`edge_index_dict`,
    :meth:`split`, :meth:`save`), without per-node Python objects.

    Example:
        >>> graph = make_synthetic_graph(SyntheticConfig(num_nodes=500, seed=1))
        >>> split = graph.split(SplitConfig(align_relations=list(ALIGNED_RELATIONS)), seed=0)
        >>> sorted(r for _, r, _ in split.edges["supervision"])
        ['depicts', 'describes', 'is_a']

    Attributes:
        features: ``(num nodes of type, dim)`` features per node type.
        edges: ``(2, E)`` row indices per (forward) edge type, without duplicates.
        concept_of: For images and texts, the row of the concept they belong to
            (what held-out nodes are stratified by).
        spaces: Feature space per node type (concepts and texts share one).
        config: The :class:`SyntheticConfig` it was made from.
    """

    features: dict[NodeType, Tensor]
    edges: dict[EdgeType, Tensor]
    concept_of: dict[NodeType, Tensor]
    spaces: dict[NodeType, str]
    config: SyntheticConfig

    @property
    def feature_dims(self) -> dict[NodeType, int]:
        return {t: int(x.size(1)) for t, x in self.features.items()}

    @property
    def num_nodes(self) -> int:
        return sum(int(x.size(0)) for x in self.features.values())

    @property
    def num_edges(self) -> int:
        return sum(int(e.size(1)) for e in self.edges.values())

    def node_counts(self) -> dict[NodeType, int]:
        return {t: int(x.size(0)) for t, x in self.features.items()}

    def nbytes(self) -> int:
        """Memory held by features and edges, in bytes."""
        tensors = [*self.features.values(), *self.edges.values(), *self.concept_of.values()]
        return sum(t.element_size() * t.numel() for t in tensors)

    def summary(self) -> dict[str, Any]:
        """Counts by node and edge type and feature sizes (as :meth:`BuiltGraph.summary`)."""
        return {
            "nodes": self.node_counts(),
            "edges": {"|".join(et): int(e.size(1)) for et, e in sorted(self.edges.items())},
            "feature_dims": self.feature_dims,
            "encoders": {},
        }

    def edge_index_dict(self) -> dict[EdgeType, Tensor]:
        """Every edge by edge type (forward directions only), as ``(2, E)`` rows."""
        return dict(self.edges)

    @cached_property
    def hetero_data(self) -> HeteroData:
        """PyG ``HeteroData`` with ``x`` per node type and reverse edge types."""
        import graphalign._pyg  # noqa: F401  (before PyG: imports it without its FutureWarning)

        # isort: split
        from torch_geometric.data import HeteroData

        from graphalign.graph.convert import reverse_edge_type

        data = HeteroData()
        for node_type, x in self.features.items():
            data[node_type].x = x
        for edge_type, edge_index in self.edges.items():
            data[edge_type].edge_index = edge_index
            data[reverse_edge_type(edge_type)].edge_index = edge_index.flip(0)
        return data

    def split(self, config: SplitConfig | None = None, seed: int = 0) -> EdgeSplit:
        """Splits the edges as :func:`~graphalign.data.split_graph` does, vectorised.

        Held-out images and texts are stratified by :attr:`concept_of` (in each
        stratum the counts are the fractions with randomised rounding); all
        their edges except label-free ones (``similar_to``, see
        :data:`~graphalign.features.augment.LABEL_FREE_RELATIONS`) leave message
        passing (with ``isolate_heldout``), aligned ones become validation/test links. Concept–concept aligned relations
        are split edge by edge; ``supervision_only`` of the training aligned
        edges are hidden from message passing.

        Args:
            config: The split settings (default :class:`SplitConfig`; pass
                ``align_relations=list(ALIGNED_RELATIONS)`` for one supervision
                edge per node).
            seed: Random seed; the same seed gives the same split.
        """
        config = config or SplitConfig()
        generator = torch.Generator().manual_seed(seed)
        try:
            aligned = aligned_edge_types(self.edges, config.align_relations)
        except GraphValidationError as error:
            raise ConfigError(str(error)) from error
        heldout: dict[str, dict[NodeType, Tensor]] = {"val": {}, "test": {}}
        masks: dict[str, NodeMasks] = {"val": {}, "test": {}}
        for node_type in config.heldout_node_types:
            count = self.node_counts().get(node_type, 0)
            if count == 0:
                continue
            strata = self.concept_of.get(node_type, torch.zeros(count, dtype=torch.long))
            val_mask, test_mask = stratified_holdout_masks(strata, config.val_fraction, config.test_fraction, generator)
            for part, mask in (("val", val_mask), ("test", test_mask)):
                masks[part][node_type] = mask
                heldout[part][node_type] = mask.nonzero().view(-1)
        edges = split_edges(self.edges, aligned, masks, config, generator)
        split = EdgeSplit(edges=edges, heldout=heldout, aligned_edge_types=aligned)
        logger.info("synthetic split (seed %d): %s", seed, split.counts())
        return split

    def to_built(self) -> BuiltGraph:
        """A validated :class:`~graphalign.features.store.BuiltGraph` with the same rows and edges.

        Builds one Python object per node and edge (use it below ~10^5 nodes).
        Node ids are ``c<row>``, ``i<row>``, ``t<row>``; image nodes carry the
        path ``synthetic/i<row>.png``, which does not exist (the features are
        synthetic). ``edge_index_dict`` of the result equals :meth:`edge_index_dict`.
        """
        from graphalign.features.store import BuiltGraph
        from graphalign.graph.knowledge_graph import KnowledgeGraph

        prefix = {"concept": "c", "image": "i", "text": "t"}
        graph = KnowledgeGraph()
        counts = self.node_counts()
        for row in range(counts["concept"]):
            graph.add_concept(f"c{row}", name=f"concept {row}")
        for row in range(counts["image"]):
            graph.add_image(f"i{row}", path=f"synthetic/i{row}.png")
        for row in range(counts["text"]):
            graph.add_text(f"t{row}", text=f"synthetic text {row}")
        for (src, rel, dst), edge_index in self.edges.items():
            for head, tail in edge_index.t().tolist():
                graph.add_edge(f"{prefix[src]}{head}", rel, f"{prefix[dst]}{tail}")
        return BuiltGraph(
            graph=graph,
            features=dict(self.features),
            config={"synthetic": self.config.to_dict()},
            spaces=dict(self.spaces),
        )

    def save(self, folder: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Writes a graph folder (through :meth:`to_built`) that ``BuiltGraph.load`` reads;
        ``overwrite`` replaces graphalign's own graph folder (see ``BuiltGraph.save``)."""
        return self.to_built().save(folder, overwrite=overwrite)

    def __repr__(self) -> str:
        counts = ", ".join(f"{t}={n}" for t, n in self.node_counts().items())
        return f"SyntheticGraph({counts}, edges={self.num_edges})"


# Generation #################################################################


def _zipf_cdf(count: int, exponent: float, generator: torch.Generator) -> Tensor:
    """Cumulative popularity of ``count`` items ranked in random order, ``p(rank) ∝ rank^-exponent``."""
    weight = torch.arange(1, count + 1, dtype=torch.float64).pow(-exponent)  # (count,) by rank
    by_item = torch.empty_like(weight)
    by_item[torch.randperm(count, generator=generator)] = weight
    cdf = torch.cumsum(by_item, 0)
    return cdf / cdf[-1]


def _draw(cdf: Tensor, n: int, generator: torch.Generator) -> Tensor:
    """``n`` items drawn from the distribution with cumulative ``cdf``."""
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    return torch.searchsorted(cdf, u).clamp_(max=cdf.numel() - 1)


def _dedupe(
    edge_index: Tensor, num_src: int, num_dst: int, same_type: bool, keep: int, generator: torch.Generator
) -> Tensor:
    """Drops duplicate edges (and self-loops within one type), then keeps a random
    ``keep`` of the rest if there are more; edges come out sorted by (source, target)."""
    if same_type:
        edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    key = torch.unique(edge_index[0] * num_dst + edge_index[1])  # sorted
    if key.numel() > keep:
        key = key[torch.sort(torch.randperm(key.numel(), generator=generator)[:keep]).values]
    return torch.stack([key // num_dst, key % num_dst])


def _hierarchy(count: int, exponent: float, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Parent and depth of every concept of the random recursive tree (root 0: parent 0)."""
    child = torch.arange(count, dtype=torch.float64)
    u = torch.rand(count, generator=generator, dtype=torch.float64)
    parent = torch.floor(child * u.pow(exponent)).long().clamp_(max=max(count - 1, 0))
    parent[0] = 0
    depth = torch.zeros(count, dtype=torch.long)
    while True:  # depth[i] = depth[parent[i]] + 1; converges after max-depth rounds (O(log count))
        new = depth[parent] + 1
        new[0] = 0
        if torch.equal(new, depth):
            return parent, depth
        depth = new


def _concept_features(parent: Tensor, depth: Tensor, dim: int, generator: torch.Generator) -> Tensor:
    """Random vectors summed down the hierarchy, L2-normalised: a child resembles its parent."""
    x = torch.randn(parent.numel(), dim, generator=generator) / math.sqrt(dim)  # (C, dim)
    for level in range(1, int(depth.max()) + 1):
        rows = (depth == level).nonzero().view(-1)
        x[rows] += x[parent[rows]]
    return torch.nn.functional.normalize(x, dim=1)


def _noisy_copies(
    source: Tensor,
    rows: Tensor,
    noise: float,
    dtype: torch.dtype,
    generator: torch.Generator,
    expand: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """``source[rows]`` plus noise, L2-normalised; or, with ``expand = (index, sign)``,
    ``relu(sign * source[rows][:, index] * sqrt(dim) + noise)``: a fixed random map to
    ``len(index)`` non-negative features. Generated chunk by chunk."""
    dim = source.size(1) if expand is None else expand[0].numel()
    out = torch.empty(rows.numel(), dim, dtype=dtype)
    for start in range(0, rows.numel(), _CHUNK):
        part = source[rows[start : start + _CHUNK]]  # (chunk, source dim)
        if expand is None:
            part = part + torch.randn(part.shape, generator=generator) * (noise / math.sqrt(dim))  # noise norm ~ noise
            part = torch.nn.functional.normalize(part, dim=1)
        else:
            index, sign = expand
            part = part[:, index] * (sign * math.sqrt(source.size(1)))  # (chunk, dim), entries ~ N(0, 1)
            part = torch.relu(part + torch.randn(part.shape, generator=generator) * noise)
        out[start : start + part.size(0)] = part.to(dtype)
    return out


@dataclass
class _Structure:
    """The aligned structure of a synthetic graph: hierarchy, concept popularity, what depicts and describes what."""

    counts: dict[NodeType, int]
    parent: Tensor  # (C,) parent concept, root 0: 0
    depth: Tensor  # (C,)
    popularity: Tensor  # (C,) cumulative popularity
    image_concept: Tensor  # (I,)
    text_concept: Tensor  # (T,)
    is_a: Tensor  # (2, C - 1) child is_a parent
    depicts: Tensor  # (2, I)
    describes: Tensor  # (2, T)

    @classmethod
    def draw(cls, config: SyntheticConfig, g: torch.Generator) -> _Structure:
        counts = config.node_counts()
        num_c, num_i, num_t = counts["concept"], counts["image"], counts["text"]
        parent, depth = _hierarchy(num_c, config.hierarchy_exponent, g)
        popularity = _zipf_cdf(num_c, config.popularity_exponent, g)
        image_concept = _draw(popularity, num_i, g)  # (I,)
        text_image = torch.randint(num_i, (num_t,), generator=g)  # (T,)
        return cls(
            counts=counts,
            parent=parent,
            depth=depth,
            popularity=popularity,
            image_concept=image_concept,
            text_concept=image_concept[text_image],
            is_a=torch.stack([torch.arange(1, num_c), parent[1:]]),
            depicts=torch.stack([torch.arange(num_i), image_concept]),
            describes=torch.stack([torch.arange(num_t), text_image]),
        )


def _mentions(structure: _Structure, wanted: int, g: torch.Generator) -> Tensor:
    """``text --mentions--> concept``: every text first mentions its own concept, then popular ones."""
    num_t, num_c = structure.counts["text"], structure.counts["concept"]
    n = math.ceil(_OVERDRAW * wanted)
    src = torch.arange(n) % num_t
    dst = _draw(structure.popularity, n, g)
    first = torch.arange(n) < num_t
    dst[first] = structure.text_concept[src[first]]
    return _dedupe(torch.stack([src, dst]), num_t, num_c, False, wanted, g)


def _similar_images(structure: _Structure, wanted: int, same_concept: float, g: torch.Generator) -> Tensor:
    """``image --similar_to--> image``: mostly an image of the same concept, else a random one."""
    num_i, num_c = structure.counts["image"], structure.counts["concept"]
    image_concept = structure.image_concept
    n = math.ceil(_OVERDRAW * wanted)
    src = torch.arange(n) % num_i
    by_concept = torch.argsort(image_concept, stable=True)  # images grouped by concept
    group = torch.bincount(image_concept, minlength=num_c)
    start = torch.cumsum(group, 0) - group
    concept = image_concept[src]
    dst = by_concept[start[concept] + randint_below(group[concept], g)]  # an image of the same concept
    random = (torch.rand(n, generator=g) >= same_concept) | (group[concept] == 1)
    dst[random] = torch.randint(num_i, (int(random.sum()),), generator=g)
    return _dedupe(torch.stack([src, dst]), num_i, num_i, True, wanted, g)


def _related_concepts(structure: _Structure, wanted: int, g: torch.Generator) -> Tensor:
    """``concept --related_to--> concept``: targets drawn by popularity."""
    num_c = structure.counts["concept"]
    n = math.ceil(_OVERDRAW * wanted)
    src = torch.arange(n) % num_c
    dst = _draw(structure.popularity, n, g)
    return _dedupe(torch.stack([src, dst]), num_c, num_c, True, wanted, g)


def _context_edges(config: SyntheticConfig, structure: _Structure, g: torch.Generator) -> dict[EdgeType, Tensor]:
    """The non-aligned edges filling the edge budget in the proportions of ``context_shares``.

    A quarter more than wanted are drawn: duplicates and self-loops are dropped, then the count trimmed.
    """
    num_c, num_i, num_t = (structure.counts[t] for t in ("concept", "image", "text"))
    budget = round(config.edges_per_node * config.num_nodes)
    extra = max(0, budget - (num_c - 1) - num_i - num_t)
    total_share = sum(config.context_shares.values()) or 1.0
    wanted = {rel: round(extra * share / total_share) for rel, share in config.context_shares.items()}
    edges: dict[EdgeType, Tensor] = {}
    if wanted.get("mentions", 0) > 0:
        edges[MENTIONS] = _mentions(structure, wanted["mentions"], g)
    if wanted.get("similar_to", 0) > 0 and num_i > 1:
        edges[SIMILAR_TO] = _similar_images(structure, wanted["similar_to"], config.same_concept_similar, g)
    if wanted.get("related_to", 0) > 0:
        edges[RELATED_TO] = _related_concepts(structure, wanted["related_to"], g)
    return edges


def _features(config: SyntheticConfig, structure: _Structure, g: torch.Generator) -> dict[NodeType, Tensor]:
    """Concept vectors down the hierarchy; texts and images as noisy copies of their concept's vector."""
    dtype = _DTYPES[config.dtype]
    concept_x = _concept_features(structure.parent, structure.depth, config.text_dim, g)  # (C, text_dim) float32
    # Image features: each of the image_dim features copies one concept feature with a random sign.
    expand = (
        torch.randint(config.text_dim, (config.image_dim,), generator=g),
        torch.randint(2, (config.image_dim,), generator=g).float() * 2 - 1,
    )
    return {
        "concept": concept_x.to(dtype),
        "image": _noisy_copies(concept_x, structure.image_concept, config.noise, dtype, g, expand=expand),
        "text": _noisy_copies(concept_x, structure.text_concept, config.noise, dtype, g),
    }


def make_synthetic_graph(config: SyntheticConfig | None = None, **overrides: Any) -> SyntheticGraph:
    """Generates a synthetic multimodal graph (see the module docstring for its structure).

    Example:
        >>> g = make_synthetic_graph(num_nodes=1000, seed=3)
        >>> g.node_counts()
        {'concept': 100, 'image': 300, 'text': 600}

    Args:
        config: Size and shape; default :class:`SyntheticConfig`.
        **overrides: Fields of :class:`SyntheticConfig` to change.

    Returns:
        The graph; the same config (seed included) gives the same tensors.
    """
    config = config or SyntheticConfig()
    if overrides:
        config = SyntheticConfig.from_dict({**config.to_dict(), **overrides})
    g = torch.Generator().manual_seed(config.seed)
    structure = _Structure.draw(config, g)
    edges = {IS_A: structure.is_a, DEPICTS: structure.depicts, DESCRIBES: structure.describes}
    edges.update(_context_edges(config, structure, g))
    edges = {et: e.contiguous() for et, e in sorted(edges.items())}
    graph = SyntheticGraph(
        features=_features(config, structure, g),
        edges=edges,
        concept_of={"image": structure.image_concept, "text": structure.text_concept},
        spaces={"concept": "synthetic-text", "text": "synthetic-text", "image": "synthetic-image"},
        config=config,
    )
    logger.info("generated %r (%.1f MiB)", graph, graph.nbytes() / 2**20)
    return graph
