"""Initial node features: every node encoded by the pretrained encoder of its modality."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from graphalign.encoders.base import ENCODERS, Encoder, build_encoder
from graphalign.encoders.cache import FeatureCache, content_digest, default_cache_dir
from graphalign.errors import EncoderError, GraphValidationError
from graphalign.graph.knowledge_graph import KnowledgeGraph
from graphalign.graph.schema import ConceptNode, ImageNode, Node, TextNode
from graphalign.typing import NodeType

logger = logging.getLogger(__name__)

__all__ = ["GraphConfig", "FeatureStats", "featurize", "encode_with_cache", "concept_text"]

MODALITY_OF: dict[NodeType, str] = {"concept": "text", "text": "text", "image": "image"}
"""Which encoder (text or image) gives each node type its features."""


@dataclass
class GraphConfig:
    """How a dataset becomes a graph with features: which encoders, cache, device.

    Example:
        >>> GraphConfig(text_encoder="transformers", text_encoder_kwargs={"model": "bert-base-uncased"}).text_encoder
        'transformers'

    Args:
        text_encoder: Registered encoder name for concepts and texts.
        text_encoder_kwargs: Its constructor arguments.
        image_encoder: Registered encoder name for images.
        image_encoder_kwargs: Its constructor arguments.
        concept_template: How a concept with a description is written for the text
            encoder; a concept without one is encoded from its name alone.
        cache_dir: Feature cache folder (default: ``$GRAPHALIGN_CACHE`` or
            ``~/.cache/graphalign``).
        use_cache: Read and write the feature cache.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        batch_size: Override the encoders' batch size.
        progress: Show progress bars.
    """

    text_encoder: str = "minilm"
    text_encoder_kwargs: dict[str, Any] = field(default_factory=dict)
    image_encoder: str = "efficientnet-lite0"
    image_encoder_kwargs: dict[str, Any] = field(default_factory=dict)
    concept_template: str = "{name}: {description}"
    cache_dir: str | None = None
    use_cache: bool = True
    device: str = "auto"
    batch_size: int | None = None
    progress: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GraphConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise GraphValidationError(f"unknown GraphConfig field(s): {', '.join(unknown)}")
        return cls(**data)

    def build_encoder(self, modality: str) -> Encoder:
        """Builds the text or image encoder this config names."""
        name, kwargs = (
            (self.text_encoder, self.text_encoder_kwargs) if modality == "text" else (self.image_encoder, self.image_encoder_kwargs)
        )
        kwargs = {"device": self.device, "progress": self.progress, **kwargs}
        if self.batch_size is not None:
            kwargs.setdefault("batch_size", self.batch_size)
        if isinstance(name, str) and "cache_dir" in inspect.signature(ENCODERS.get(name)).parameters:
            # Encoders that cache something themselves (ConSE's class names) share the graph's cache.
            kwargs.setdefault("cache_dir", self.cache_dir)
            kwargs.setdefault("use_cache", self.use_cache)
        encoder = build_encoder(name, kwargs)
        if encoder.modality != modality:
            raise EncoderError(f"encoder {name!r} encodes {encoder.modality}, but a {modality} encoder is needed")
        return encoder


@dataclass
class FeatureStats:
    """How many items of each node type came from the cache and how many were encoded,
    and the feature space each node type's vectors live in (see :attr:`Encoder.feature_space`)."""

    cached: dict[NodeType, int] = field(default_factory=dict)
    encoded: dict[NodeType, int] = field(default_factory=dict)
    spaces: dict[NodeType, str] = field(default_factory=dict)

    @property
    def total_encoded(self) -> int:
        return sum(self.encoded.values())


def concept_text(node: ConceptNode, template: str) -> str:
    """The text encoded for a concept: its name, plus its description if any."""
    if node.description and node.description.strip():
        return template.format(name=node.name, description=node.description.strip())
    return node.name


def _item_and_key(graph: KnowledgeGraph, node: Node, template: str) -> tuple[Any, bytes]:
    """What the encoder sees for ``node`` and its content digest."""
    if isinstance(node, ConceptNode):
        text = concept_text(node, template)
        return text, content_digest(text)
    if isinstance(node, TextNode):
        return node.text, content_digest(node.text)
    assert isinstance(node, ImageNode)
    if node.path is None:
        return node.image, content_digest(node.pixel_hash())
    path = graph.resolve_image_path(node)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise EncoderError(f"image {node.id!r}: cannot read {path}: {error}") from error
    return path, content_digest(data)


def encode_with_cache(
    encoder: Encoder, items: Sequence[Any], keys: list[bytes], cache: FeatureCache | None, labels: Sequence[str] | None = None
) -> tuple[torch.Tensor, int]:
    """Encodes ``items``, taking what it can from ``cache`` and storing the rest.

    The model is loaded only if something is missing from the cache.

    Args:
        encoder: The encoder.
        items: Raw items (texts, paths, PIL images).
        keys: Content digest of each item.
        cache: The cache, or ``None`` to encode everything.
        labels: Node ids, for error messages.

    Returns:
        ``(vectors (n, dim), number of items encoded now)``.

    Raises:
        EncoderError: If an item cannot be encoded or gives NaN/inf, naming it.
    """
    hits, misses = cache.get(keys) if cache is not None else ({}, list(range(len(items))))
    fresh = None
    if misses:
        fresh = encoder.encode([items[i] for i in misses])
        bad = (~torch.isfinite(fresh)).any(dim=1).nonzero().flatten().tolist()
        if bad:
            names = [labels[misses[i]] if labels else str(misses[i]) for i in bad[:5]]
            raise EncoderError(f"encoder {encoder.identity} gave NaN/inf features for: {', '.join(map(repr, names))}")
        if cache is not None:
            cache.put([keys[i] for i in misses], fresh)
    dim = fresh.size(1) if fresh is not None else (next(iter(hits.values())).numel() if hits else 0)
    out = torch.empty(len(items), dim)
    for position, vector in hits.items():
        out[position] = vector
    if fresh is not None:
        out[torch.tensor(misses, dtype=torch.long)] = fresh
    return out, len(misses)


def featurize(graph: KnowledgeGraph, config: GraphConfig | None = None) -> tuple[dict[NodeType, torch.Tensor], FeatureStats, dict[str, str]]:
    """Encodes every node of ``graph`` with the encoder of its modality.

    Images are encoded first (so an unreadable image fails fast), then concepts
    and texts. With the cache on, a second run over the same data encodes
    nothing and loads no model.

    Returns:
        ``(features per node type, stats, encoder identity per modality)``.

    Raises:
        EncoderError: Naming the node whose item cannot be encoded.
    """
    config = config or GraphConfig()
    cache_root = Path(config.cache_dir) if config.cache_dir else default_cache_dir()
    node_types = [t for t in ("image", "concept", "text") if any(True for _ in graph.nodes(t))]
    # Build every encoder first, so a wrong name or argument fails before any work.
    encoders: dict[str, Encoder] = {}
    for modality in dict.fromkeys(MODALITY_OF[t] for t in node_types):
        encoders[modality] = config.build_encoder(modality)
    features: dict[NodeType, torch.Tensor] = {}
    stats = FeatureStats()
    for node_type in node_types:
        nodes = list(graph.nodes(node_type))
        encoder = encoders[MODALITY_OF[node_type]]
        pairs = [_item_and_key(graph, node, config.concept_template) for node in nodes]
        items, keys = [p[0] for p in pairs], [p[1] for p in pairs]
        cache = FeatureCache(cache_root, encoder.identity) if config.use_cache else None
        labels = [node.id for node in nodes]
        try:
            vectors, encoded = encode_with_cache(encoder, items, keys, cache, labels)
        except EncoderError as error:
            raise EncoderError(f"encoding {node_type} nodes: {error}") from error
        features[node_type] = vectors
        stats.encoded[node_type] = encoded
        stats.cached[node_type] = len(nodes) - encoded
        logger.info("%s: %d from cache, %d encoded with %s", node_type, len(nodes) - encoded, encoded, encoder.identity)
    stats.spaces = {t: encoders[MODALITY_OF[t]].feature_space for t in node_types}
    identities = {modality: encoder.identity for modality, encoder in encoders.items()}
    return features, stats, identities

