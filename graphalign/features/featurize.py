"""Initial node features: every node encoded by the pretrained encoder of its modality."""

from __future__ import annotations

import inspect
import logging
import os
import string
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from graphalign.checks import check_bool, check_int, plain_numbers
from graphalign.device import check_device_name
from graphalign.digest import content_digest, file_digest
from graphalign.encoders.base import ENCODERS, Encoder, build_encoder
from graphalign.encoders.cache import FeatureCache, default_cache_dir
from graphalign.encoders.cached import encode_with_cache
from graphalign.errors import ConfigError, EncoderError, check_config_keys
from graphalign.graph.knowledge_graph import KnowledgeGraph
from graphalign.graph.schema import ConceptNode, ImageNode, Node, TextNode
from graphalign.image_io import check_image_file_size
from graphalign.typing import NodeType

logger = logging.getLogger(__name__)

__all__ = ["GraphConfig", "FeatureStats", "featurize", "concept_text"]

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
        image_encoder: Registered encoder name for images. Default ``conse``:
            EfficientNet-Lite0's pooled features followed by the image's ConSE
            vector in the text encoder's space (the mean of its top ImageNet
            classes' names, encoded by ``text_encoder``), so images start in
            the space of concepts and texts.
        image_encoder_kwargs: Its constructor arguments.
        concept_template: How a concept with a description is written for the text
            encoder; a concept without one is encoded from its name alone.
        cache_dir: Feature cache folder (default: ``$GRAPHALIGN_CACHE`` or
            ``~/.cache/graphalign``).
        use_cache: Read and write the feature cache.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        batch_size: Override the encoders' batch size.
        progress: Show progress bars.
        max_text_chars: Texts (and concept name + description) longer than this
            are cut to this many characters before encoding, with a warning; the
            graph keeps the full text. Every text model reads far fewer tokens.
        cache_every: Encoded vectors are stored in the cache after every this
            many items of a node type, so an interrupted build keeps (and the
            next run reuses) everything encoded before the interruption.
        augmenters: Label-free edges added after encoding, each ``{"name": ...,
            **kwargs}`` of :data:`~graphalign.features.augment.AUGMENTERS`
            (default: images to the WordNet concepts of their top 3 ImageNet
            classes, where the concepts are WordNet synsets; none otherwise).
    """

    text_encoder: str = "minilm"
    text_encoder_kwargs: dict[str, Any] = field(default_factory=dict)
    image_encoder: str = "conse"
    image_encoder_kwargs: dict[str, Any] = field(default_factory=dict)
    concept_template: str = "{name}: {description}"
    cache_dir: str | None = None
    use_cache: bool = True
    device: str = "auto"
    batch_size: int | None = None
    progress: bool = True
    max_text_chars: int = 20_000
    cache_every: int = 2048
    augmenters: list[dict[str, Any]] = field(default_factory=lambda: [{"name": "imagenet_wordnet", "k": 3}])

    def __post_init__(self) -> None:
        plain_numbers(self)  # NumPy scalars as Python numbers (JSON, and the checks below)
        for name in ("max_text_chars", "cache_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"GraphConfig.{name} must be a positive integer, got {value!r}", config="GraphConfig", key=name
                )
        check_int("GraphConfig", "batch_size", self.batch_size, low=1, high=1 << 20, optional=True)
        check_device_name(self.device, "GraphConfig.device")
        check_bool("GraphConfig", "use_cache", self.use_cache)
        check_bool("GraphConfig", "progress", self.progress)
        for modality in ("text", "image"):
            key = f"{modality}_encoder_kwargs"
            if not isinstance(getattr(self, key), dict):
                raise ConfigError(
                    f"GraphConfig.{key} must be a dict (a JSON object), got {getattr(self, key)!r}",
                    config="GraphConfig",
                    key=key,
                )
        if not isinstance(self.augmenters, list) or not all(isinstance(a, dict) for a in self.augmenters):
            raise ConfigError(
                f"GraphConfig.augmenters must be a list of dicts (JSON objects), got {self.augmenters!r}",
                config="GraphConfig",
                key="augmenters",
            )
        if self.cache_dir is not None and not isinstance(self.cache_dir, (str, os.PathLike)):
            raise ConfigError(
                f"GraphConfig.cache_dir must be a folder path or None, got {self.cache_dir!r}",
                config="GraphConfig",
                key="cache_dir",
            )
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(self.concept_template) if f is not None}
        except (ValueError, TypeError, AttributeError) as error:
            raise ConfigError(
                f"GraphConfig.concept_template is not a format string ({error})",
                config="GraphConfig",
                key="concept_template",
            ) from None
        if not fields <= {"name", "description"}:
            raise ConfigError(
                f"GraphConfig.concept_template may use only {{name}} and {{description}}, got "
                f"{self.concept_template!r}",
                config="GraphConfig",
                key="concept_template",
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GraphConfig:
        """Inverse of :meth:`to_dict`; raises :class:`ConfigError` on keys that are not fields."""
        check_config_keys(cls, data, "GraphConfig")
        return cls(**data)

    def build_encoder(self, modality: str) -> Encoder:
        """Builds the text or image encoder this config names."""
        name, kwargs = (
            (self.text_encoder, self.text_encoder_kwargs)
            if modality == "text"
            else (self.image_encoder, self.image_encoder_kwargs)
        )
        key = f"{modality}_encoder_kwargs"
        if isinstance(name, str):
            ENCODERS.get(name)  # an unknown name lists the valid ones
        try:  # a misspelled argument names the setting, the valid ones and the closest ("did you mean")
            if isinstance(name, str):
                ENCODERS.check_kwargs(name, kwargs)
        except ConfigError as error:
            raise ConfigError(f"GraphConfig.{key}: {error}", config="GraphConfig", key=key) from None
        kwargs = {"device": self.device, "progress": self.progress, **kwargs}
        if self.batch_size is not None:
            kwargs.setdefault("batch_size", self.batch_size)
        parameters = inspect.signature(ENCODERS.get(name)).parameters if isinstance(name, str) else {}
        if "cache_dir" in parameters:
            # Encoders that cache something themselves (ConSE's class names) share the graph's cache.
            kwargs.setdefault("cache_dir", self.cache_dir)
            kwargs.setdefault("use_cache", self.use_cache)
        if modality == "image" and "text_encoder" in parameters and "text_encoder" not in kwargs:
            # An image encoder that maps into a text space (ConSE) uses the graph's text encoder.
            kwargs["text_encoder"] = self.text_encoder
            kwargs.setdefault("text_encoder_kwargs", self.text_encoder_kwargs)
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


def _item_and_key(graph: KnowledgeGraph, node: Node, template: str, max_chars: int | None = None) -> tuple[Any, bytes]:
    """What the encoder sees for ``node`` and its content digest.

    Texts longer than ``max_chars`` are cut (the key is that of the cut text).
    """
    if isinstance(node, (ConceptNode, TextNode)):
        text = concept_text(node, template) if isinstance(node, ConceptNode) else node.text
        if max_chars is not None and len(text) > max_chars:
            text = text[:max_chars]
        return text, content_digest(text)
    assert isinstance(node, ImageNode)
    if node.path is None:
        return node.image, content_digest(node.pixel_hash())
    path = graph.resolve_image_path(node)
    try:
        if not path.is_file():
            raise EncoderError(
                f"image {node.id!r}: {path}: " + ("image file not found" if not path.exists() else "not a regular file")
            )
        try:
            check_image_file_size(path)  # before the file is hashed
        except EncoderError as error:
            raise EncoderError(f"image {node.id!r}: {error}") from None
        return path, file_digest(path)
    except OSError as error:
        raise EncoderError(f"image {node.id!r}: cannot read {path}: {error}") from error


def _check_cache_root(root: Path, setting: str) -> None:
    """Refuses a feature-cache folder that is a file or cannot be created, naming the setting."""
    try:
        if root.exists() and not root.is_dir():
            raise ConfigError(f"feature cache folder {root} is a file, not a folder (set by {setting})")
        root.mkdir(parents=True, exist_ok=True)
        if not os.access(root, os.W_OK | os.X_OK):
            raise ConfigError(
                f"feature cache folder {root} is not writable (set by {setting}); choose another or pass --no-cache"
            )
    except OSError as error:
        raise ConfigError(
            f"cannot create the feature cache folder {root} (set by {setting}): {error.strerror or error}"
        ) from None


def _warn_truncated(nodes: list[Node], config: GraphConfig) -> None:
    """Logs one warning for the texts longer than ``config.max_text_chars``."""
    long = []
    for node in nodes:
        if isinstance(node, ConceptNode):
            text = concept_text(node, config.concept_template)
        elif isinstance(node, TextNode):
            text = node.text
        else:
            continue
        if len(text) > config.max_text_chars:
            long.append((node.id, len(text)))
    if long:
        examples = ", ".join(f"{node_id!r} ({length:,} characters)" for node_id, length in long[:3])
        logger.warning(
            "%d node(s) have texts longer than max_text_chars=%d, e.g. %s; only the first %d characters are encoded",
            len(long),
            config.max_text_chars,
            examples,
            config.max_text_chars,
        )


def featurize(
    graph: KnowledgeGraph, config: GraphConfig | None = None
) -> tuple[dict[NodeType, torch.Tensor], FeatureStats, dict[str, str]]:
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
    if config.use_cache:
        _check_cache_root(
            cache_root, "GraphConfig.cache_dir (--cache-dir)" if config.cache_dir else "$GRAPHALIGN_CACHE"
        )
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
        pairs = [_item_and_key(graph, node, config.concept_template, config.max_text_chars) for node in nodes]
        items, keys = [p[0] for p in pairs], [p[1] for p in pairs]
        _warn_truncated(nodes, config)
        cache = FeatureCache(cache_root, encoder.identity) if config.use_cache else None
        labels = [node.id for node in nodes]
        try:
            vectors, encoded = encode_with_cache(encoder, items, keys, cache, labels, chunk_size=config.cache_every)
        except EncoderError as error:
            raise EncoderError(f"encoding {node_type} nodes: {error}") from error
        features[node_type] = vectors
        stats.encoded[node_type] = encoded
        stats.cached[node_type] = len(nodes) - encoded
        logger.info("%s: %d from cache, %d encoded with %s", node_type, len(nodes) - encoded, encoded, encoder.identity)
    stats.spaces = {t: encoders[MODALITY_OF[t]].feature_space for t in node_types}
    identities = {modality: encoder.identity for modality, encoder in encoders.items()}
    return features, stats, identities
