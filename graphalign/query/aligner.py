"""Queries on a trained run: nearest neighbours, graph neighbours, zero-shot search."""

from __future__ import annotations

import logging
import math
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from graphalign.checks import check_int, plain_int
from graphalign.device import resolve_device
from graphalign.encoders.base import Encoder
from graphalign.errors import ConfigError, GraphAlignError, GraphValidationError
from graphalign.graph.schema import brief_repr, no_visible_characters
from graphalign.nn.directions import DirectedEmbeddings
from graphalign.query.export import export_embeddings
from graphalign.query.index import INDEXES, VectorIndex, build_index
from graphalign.training.run import TrainedRun
from graphalign.training.trainer import TrainResult
from graphalign.typing import NODE_TYPES, NodeType

logger = logging.getLogger(__name__)


def _device_usable(device: str) -> bool:
    """Whether ``device`` (a name from a graph folder's config) exists on this machine."""
    try:
        resolve_device(device)
    except ConfigError:
        return False
    return True


__all__ = ["AUTO", "Aligner", "Neighbor", "GraphNeighbor"]

AUTO = "auto"
"""The default ``type`` of :meth:`Aligner.search`: concepts where the graph has them, else every node type."""


@dataclass(frozen=True)
class Neighbor:
    """A search result: a node of the graph and its score for the query: the cosine similarity in the
    view of the direction, plus the nearest-exemplar term for an image query's concepts
    (:mod:`graphalign.nn.exemplars`; so it may exceed 1)."""

    id: str
    type: NodeType
    score: float
    label: str


@dataclass(frozen=True)
class GraphNeighbor:
    """A node reached through graph edges."""

    id: str
    type: NodeType
    relation: str
    direction: str  # "out" (query --relation--> id) or "in" (id --relation--> query)
    hops: int
    label: str


class Aligner:
    """Nearest-neighbour queries in the shared space of a trained run.

    Example:
        >>> aligner = Aligner.load("runs/demo")  # doctest: +SKIP
        >>> aligner.neighbors("img:animals/cat", k=3, type="concept")  # doctest: +SKIP
        [Neighbor(id='wn:02121620-n', type='concept', score=0.83, label='cat'), ...]
        >>> aligner.search(text="a fire engine", type="image", k=5)  # doctest: +SKIP

    A result of :func:`~graphalign.training.fit` is queried at once, without
    saving it first::

        result = ga.fit(built)
        aligner = ga.Aligner(result)

    Args:
        run: A loaded :class:`TrainedRun`, or the :class:`TrainResult` of
            :func:`~graphalign.training.fit`.
        index: Index backend name (``exact``, ``faiss``, ``usearch``) or class.
        index_kwargs: Its arguments.
    """

    def __init__(
        self,
        run: TrainedRun | TrainResult,
        index: str | type[VectorIndex] = "exact",
        index_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if isinstance(run, (str, os.PathLike)):
            raise ConfigError(f"Aligner takes a trained run; load a run folder with Aligner.load({os.fspath(run)!r})")
        if isinstance(run, TrainResult):
            run = TrainedRun.from_result(run)
        if not isinstance(run, TrainedRun):
            raise ConfigError(f"Aligner takes a TrainedRun or the TrainResult of fit(), got {type(run).__name__}")
        if isinstance(index, str):
            INDEXES.get(index)  # a misspelled index fails here, not at the first query
        self.run = run
        self.graph = run.built.graph
        self.node_index = run.built.index
        self.embeddings = run.embeddings()
        self._index_spec, self._index_kwargs = index, dict(index_kwargs or {})
        self._indexes: dict[tuple[NodeType, NodeType | None], VectorIndex] = {}
        self._encoders: dict[str, Encoder] = {}

    @classmethod
    def load(
        cls,
        run_dir: str | os.PathLike[str],
        index: str = "exact",
        index_kwargs: dict[str, Any] | None = None,
        device: str | None = "cpu",
    ) -> Aligner:
        """Loads a run folder written by ``graphalign train`` / :func:`~graphalign.training.fit`."""
        return cls(TrainedRun.load(run_dir, device=device), index=index, index_kwargs=index_kwargs)

    def metrics(self) -> dict[str, Any]:
        """The run's metrics: ``best_epoch``, ``val``, ``test``, ``history``, ``split`` (a saved run's metrics.json)."""
        return self.run.metrics()

    def export(
        self, path: str | os.PathLike[str], types: NodeType | list[NodeType] | None = None, overwrite: bool = False
    ) -> list[Path]:
        """Writes node ids, types, labels and vectors to ``path`` (``.npz``, or ``.tsv`` for
        TensorBoard's Embedding Projector); see :func:`~graphalign.query.export.export_embeddings`.

        Example:
            >>> aligner.export("embeddings.tsv", types=["image", "concept"])  # doctest: +SKIP
            [PosixPath('embeddings.tsv'), PosixPath('embeddings-metadata.tsv')]
        """
        chosen = None if types is None else self._types(types)  # one type name, or a list of them
        return export_embeddings(
            self.embeddings, self.node_index.ids, self.graph, path, types=chosen, overwrite=overwrite
        )

    def ids(self, type: NodeType) -> list[str]:
        """Node ids of one type, in the row order of ``embeddings[type]``."""
        self._types(type)  # raises on an unknown or empty type
        return list(self.node_index.ids[type])

    # ------------------------------------------------------------------ helpers
    def _types(self, type: NodeType | list[NodeType] | None) -> list[NodeType]:
        if isinstance(type, str) and type == AUTO:
            type = "concept" if "concept" in self.embeddings else None
        if type is None:
            return [t for t in NODE_TYPES if t in self.embeddings]
        if not isinstance(type, (str, list, tuple)):
            raise ConfigError(
                f"type must be a node type ({', '.join(NODE_TYPES)}), a list of them, or None; got {type!r}"
            )
        types = [type] if isinstance(type, str) else list(type)
        for t in types:
            if t not in self.embeddings:
                raise GraphValidationError(
                    f"unknown or empty node type {t!r}; this graph has {sorted(self.embeddings)}"
                )
        return types

    def _directed(self, query_type: NodeType | None, node_type: NodeType) -> bool:
        return (
            query_type is not None
            and isinstance(self.embeddings, DirectedEmbeddings)
            and self.embeddings.directed(query_type, node_type)
        )

    def index(self, node_type: NodeType, query_type: NodeType | None = None) -> VectorIndex:
        """The (lazily built) vector index of one node type, as queries of ``query_type`` see it
        (:mod:`graphalign.nn.directions`; default: the stored embeddings)."""
        directed = self._directed(query_type, node_type)
        key = (node_type, query_type if directed else None)
        if key not in self._indexes:
            index = build_index(self._index_spec, self._index_kwargs)
            if directed:
                assert isinstance(self.embeddings, DirectedEmbeddings) and query_type is not None
                index.add(self.embeddings.candidates(query_type, node_type))
            else:
                index.add(self.embeddings[node_type])
            self._indexes[key] = index
        return self._indexes[key]

    def _rank(
        self,
        query: torch.Tensor,
        query_type: NodeType,
        types: list[NodeType],
        k: int,
        exclude: str | None = None,
        row: int | None = None,
        features: torch.Tensor | None = None,
    ) -> list[Neighbor]:
        """The ``k`` best nodes of ``types`` for ``query`` (the graph's node ``row`` of ``query_type``, or a new
        node with input ``features``), each type ranked in the views of its direction."""
        results: list[Neighbor] = []
        for node_type in types:
            wanted = min(k + (1 if exclude else 0), len(self.node_index.ids[node_type]))  # never more than it holds
            term = (
                self.embeddings.term(query_type, node_type) if isinstance(self.embeddings, DirectedEmbeddings) else None
            )
            if term is not None and (row is not None or features is not None):
                # a score term: every candidate scored exactly (views + term)
                assert isinstance(self.embeddings, DirectedEmbeddings)
                if row is not None:
                    scored = self.embeddings.scores(query_type, node_type, rows=torch.tensor([row]))
                else:
                    scored = self.embeddings.scores(query_type, node_type, vectors=query[None], features=features)
                scores, rows = scored.topk(wanted, dim=-1)
            else:
                index = self.index(node_type, query_type)
                vector, factor = query.unsqueeze(0), 1.0
                if self._directed(query_type, node_type):
                    assert isinstance(self.embeddings, DirectedEmbeddings)
                    vector = self.embeddings.queries(query_type, node_type, vector)
                    # two views: the query holds both, the index normalises it to 1 / sqrt(2) per view
                    factor = math.sqrt(2.0) if self.embeddings.two_views(query_type, node_type) else 1.0
                scores, rows = index.search(vector, wanted)
                scores = scores * factor
            for score, found in zip(scores[0].tolist(), rows[0].tolist()):
                if found < 0:
                    continue
                node_id = self.node_index.id(node_type, found)
                if node_id != exclude:
                    name = self.graph.display_name(node_id)
                    results.append(Neighbor(node_id, node_type, float(score), name))
        results.sort(key=lambda n: -n.score)
        return results[:k]

    def embedding(self, node_id: str) -> torch.Tensor:
        """The shared-space vector of a node of the graph."""
        node_type, row = self.node_index.locate(node_id)
        return self.embeddings[node_type][row]

    # ------------------------------------------------------------------ queries
    def neighbors(self, node_id: str, k: int = 10, type: NodeType | list[NodeType] | None = None) -> list[Neighbor]:
        """The ``k`` nearest nodes to ``node_id`` in the shared space (itself excluded).

        Args:
            node_id: A node of the graph.
            k: How many results.
            type: Only nodes of this type (or these types); default all.

        Raises:
            GraphValidationError: If the id or type is unknown.
            ConfigError: If ``k`` is not an integer >= 1.
        """
        k = check_int("Aligner", "k", plain_int(k), low=1)
        node_type, row = self.node_index.locate(node_id)
        return self._rank(self.embedding(node_id), node_type, self._types(type), k, exclude=node_id, row=row)

    def graph_neighbors(self, node_id: str, hops: int = 1) -> list[GraphNeighbor]:
        """Nodes within ``hops`` edges of ``node_id`` in the knowledge graph (both directions).

        Each node is reported once, at its smallest distance, with the relation of
        the edge it was first reached through.
        """
        hops = check_int("Aligner", "hops", plain_int(hops), low=0)
        self.node_index.locate(node_id)  # raises on an unknown id
        if not hasattr(self, "_adjacency"):
            adjacency: dict[str, list[tuple[str, str, str]]] = {}
            for edge in self.graph.edges:
                adjacency.setdefault(edge.head, []).append((edge.tail, edge.relation, "out"))
                adjacency.setdefault(edge.tail, []).append((edge.head, edge.relation, "in"))
            self._adjacency = adjacency
        seen = {node_id}
        found: list[GraphNeighbor] = []
        frontier = deque([(node_id, 0)])
        while frontier:
            current, depth = frontier.popleft()
            if depth == hops:
                continue
            for other, relation, direction in self._adjacency.get(current, []):
                if other in seen:
                    continue
                seen.add(other)
                found.append(
                    GraphNeighbor(
                        other,
                        self.graph.node_type(other),
                        relation,
                        direction,
                        depth + 1,
                        self.graph.display_name(other),
                    )
                )
                frontier.append((other, depth + 1))
        return found

    def _encoder(self, modality: str) -> Encoder:
        if modality not in self._encoders:
            config = self.run.built.graph_config()
            config.progress = False
            if config.device not in ("auto", "cpu") and not _device_usable(config.device):
                logger.info(
                    "the graph was encoded on %s, which this machine lacks; encoding queries on %s",
                    config.device,
                    self.run.device,
                )
                config.device = str(self.run.device)
            encoder = config.build_encoder(modality)
            expected = self.run.built.encoders.get(modality)
            if expected and encoder.identity != expected:
                logger.warning(
                    "the %s encoder now has identity %s, the graph was built with %s",
                    modality,
                    encoder.identity,
                    expected,
                )
            self._encoders[modality] = encoder
        return self._encoders[modality]

    def _encode_new(self, text: str | None, image: Any) -> tuple[NodeType, torch.Tensor]:
        """The node type and input features of a new text or image.

        A text in a model without text nodes is placed as a new concept where concepts are encoded with the
        text encoder (a concept's feature is its encoded name and description).
        """
        if (text is None) == (image is None):
            raise GraphAlignError("give exactly one of text= or image=")
        in_dims = self.run.model.in_dims
        if text is not None:
            if not isinstance(text, str):
                raise ConfigError(f"text must be one string, got {type(text).__name__} {brief_repr(text)}")
            if not text.strip():
                raise GraphValidationError("the query text is empty")
            if invisible := no_visible_characters(text):
                raise GraphValidationError(f"the query text has no visible characters (only {invisible})")
            features = self._encoder("text").encode([text])
            node_type: NodeType = "text"
            if "text" not in in_dims and in_dims.get("concept") == features.size(-1):
                logger.info("the model has no text nodes: the query text is placed as a new concept")
                node_type = "concept"
        else:
            features, node_type = self._encoder("image").encode([image]), "image"
        if node_type not in in_dims:
            raise GraphAlignError(f"the model has no {node_type} nodes, so it cannot place a new {node_type}")
        return node_type, features

    @torch.no_grad()
    def _embed_features(self, node_type: NodeType, features: torch.Tensor) -> torch.Tensor:
        return self.run.model.encode_features(node_type, features.to(self.run.device))[0].cpu()

    def embed_new(self, text: str | None = None, image: Any = None) -> torch.Tensor:
        """Maps a new text or image (not in the graph) into the shared space.

        It is encoded with the run's encoder and passed through the model's path
        for its node type as a node without edges.
        """
        return self._embed_features(*self._encode_new(text, image))

    def search(
        self,
        text: str | None = None,
        image: Any = None,
        k: int = 10,
        type: NodeType | list[NodeType] | None = AUTO,
    ) -> list[Neighbor]:
        """Zero-shot search with a new text or image (a path or a PIL image).

        Args:
            text: A query text (in a model without text nodes, it is placed as a new concept).
            image: A query image (file path or PIL image).
            k: How many results.
            type: Which node type(s) to rank (default :data:`AUTO`: concepts where the graph has them, else
                every type; ``None``: all).

        Raises:
            ConfigError: If ``k`` is not an integer >= 1, ``type`` is malformed, or ``text`` is not a string.
            GraphValidationError: If ``text`` is empty or has no visible characters.
            EncoderError: If ``image`` cannot be read (bytes of image data, a missing file, ...).
        """
        k = check_int("Aligner", "k", plain_int(k), low=1)
        types = self._types(type)  # before encoding anything
        query_type, features = self._encode_new(text, image)
        return self._rank(self._embed_features(query_type, features), query_type, types, k, features=features)

    def search_by_type(
        self,
        text: str | None = None,
        image: Any = None,
        k: int = 10,
        type: NodeType | list[NodeType] | None = None,
    ) -> dict[NodeType, list[Neighbor]]:
        """:meth:`search` with ``k`` results for each node type (default: every type), the query encoded once.

        Example:
            >>> aligner.search_by_type(text="a red bird", k=3)["concept"][0].label  # doctest: +SKIP
            'cardinal'
        """
        k = check_int("Aligner", "k", plain_int(k), low=1)
        types = self._types(type)
        query_type, features = self._encode_new(text, image)
        vector = self._embed_features(query_type, features)
        return {node_type: self._rank(vector, query_type, [node_type], k, features=features) for node_type in types}
