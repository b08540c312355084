"""Label-free edges from an ImageNet classifier's predictions to WordNet concepts.

The 1000 classes of ImageNet-1k classifiers are WordNet 3.0 noun synsets. When
a graph's concepts are WordNet synsets too (Tux Paint + WordNet: ids
``wn:<offset>-n``), the classifier's top predictions for an image can be mapped
onto the graph through the WordNet hierarchy: each predicted class links to its
*nearest* concepts of the graph among itself and its hypernyms ("Dalmatian" →
"dog" when the graph has "dog" but not "Dalmatian"). The table of hypernyms
ships with graphalign (``encoders/data/imagenet_wordnet.tsv``, derived from
WordNet 3.0 by ``datasets/tuxpaint_wordnet/imagenet_wordnet.py`` in the repository), so no
WordNet installation is needed at run time.

The edges (relation :data:`PREDICTION_RELATION`) use no label, only the image's
own pixels, so they are legal for held-out images and new images alike and
count among :data:`~graphalign.features.augment.LABEL_FREE_RELATIONS`. A graph
channel with concept codes over them (:mod:`graphalign.nn.channels`) turns them
into a score: an image then ranks high the concepts its predictions point to.
"""

from __future__ import annotations

import functools
import logging
import re
from importlib import resources

import torch

from graphalign.errors import ConfigError
from graphalign.features.store import BuiltGraph
from graphalign.graph.schema import Node

logger = logging.getLogger(__name__)

__all__ = [
    "PREDICTION_RELATION",
    "imagenet_hypernyms",
    "wordnet_offset",
    "predicted_concepts",
    "imagenet_probabilities",
    "add_prediction_edges",
]

PREDICTION_RELATION = "predicted_as"
_OFFSET_IN_ID = re.compile(r"(\d{8})-n$")


@functools.lru_cache(maxsize=1)
def imagenet_hypernyms() -> tuple[dict[str, int], ...]:
    """For each ImageNet-1k class (logit order): WordNet 3.0 offset → distance, over the
    class itself (0) and every synset on its hypernym paths."""
    text = resources.files("graphalign.encoders").joinpath("data/imagenet_wordnet.tsv").read_text(encoding="utf-8")
    classes = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        index, _, ancestors = line.split("\t")
        if int(index) != len(classes):  # pragma: no cover - guards the shipped table
            raise RuntimeError(f"imagenet_wordnet.tsv: class {index} out of order")
        classes.append({offset: int(distance) for offset, distance in (item.split(":") for item in ancestors.split())})
    if len(classes) != 1000:  # pragma: no cover - guards the shipped table
        raise RuntimeError(f"imagenet_wordnet.tsv: expected 1000 classes, got {len(classes)}")
    return tuple(classes)


def wordnet_offset(node: Node) -> str | None:
    """A concept's WordNet 3.0 noun offset: its ``offset`` attribute, or an id ending in ``<8 digits>-n``."""
    offset = (node.attributes or {}).get("offset")
    if isinstance(offset, str) and len(offset) == 8 and offset.isdigit():
        return offset
    match = _OFFSET_IN_ID.search(node.id)
    return match.group(1) if match else None


def predicted_concepts(
    probabilities: torch.Tensor, concept_offsets: list[str | None], top_k: int = 3
) -> list[list[int]]:
    """For each image, the concepts (rows) nearest to its ``top_k`` classes in the WordNet hierarchy.

    Each class contributes the concepts at the smallest hypernym distance at which
    the graph has any; an image's list keeps the order of its classes, without repeats.

    Shapes:
        - probabilities: ``(num_images, 1000)``
    """
    if probabilities.dim() != 2 or probabilities.size(1) != 1000:
        raise ConfigError(f"expected ImageNet-1k probabilities of shape (N, 1000), got {tuple(probabilities.shape)}")
    if not 1 <= top_k <= 1000:
        raise ConfigError(f"top_k must be in [1, 1000], got {top_k}")
    rows_of: dict[str, list[int]] = {}
    for row, offset in enumerate(concept_offsets):
        if offset is not None:
            rows_of.setdefault(offset, []).append(row)
    nearest: list[list[int]] = []
    for distances in imagenet_hypernyms():
        found = [(d, rows_of[o]) for o, d in distances.items() if o in rows_of]
        best = min((d for d, _ in found), default=None)
        nearest.append(sorted(r for d, rows in found if d == best for r in rows))
    top = torch.topk(probabilities, top_k, dim=1).indices.tolist()
    return [list(dict.fromkeys(r for k in classes for r in nearest[k])) for classes in top]


def imagenet_probabilities(built: BuiltGraph) -> torch.Tensor:
    """ImageNet-1k probabilities of the graph's images, from their cached features.

    Works for graphs encoded with ``efficientnet-lite0`` or ``conse`` in ``concat``
    mode (the pooled EfficientNet features are kept); no image is decoded.

    Raises:
        ConfigError: For other image encoders.

    Shapes:
        - output: ``(num_images, 1000)``
    """
    from graphalign.encoders.conse import ConSEImageEncoder
    from graphalign.encoders.efficientnet_lite import EfficientNetLite0Encoder

    config = built.graph_config()
    encoder = config.build_encoder("image")
    if isinstance(encoder, ConSEImageEncoder) and encoder.mode == "concat":
        classifier = encoder.image_encoder
    elif isinstance(encoder, EfficientNetLite0Encoder):
        classifier = encoder
    else:
        raise ConfigError(
            f"ImageNet predictions need images encoded by efficientnet-lite0 or conse with mode='concat'; "
            f"this graph's image encoder is {config.image_encoder!r} {config.image_encoder_kwargs or ''}"
        )
    features = built.features["image"][:, : classifier.dim].float()
    return classifier.proba_from_features(features)


def add_prediction_edges(
    built: BuiltGraph, top_k: int = 3, relation: str = PREDICTION_RELATION, probabilities: torch.Tensor | None = None
) -> BuiltGraph:
    """A copy of ``built`` with ``relation`` edges from every image to the concepts its
    ``top_k`` ImageNet classes lead to (:func:`predicted_concepts`).

    Args:
        built: A graph whose concepts carry WordNet 3.0 offsets (:func:`wordnet_offset`).
        top_k: Classes per image.
        relation: The edge relation (label-free by default).
        probabilities: ``(num_images, 1000)`` class probabilities (default:
            :func:`imagenet_probabilities` of the graph's features).

    Raises:
        ConfigError: If no concept carries a WordNet offset, or the graph already
            has ``relation`` edges.
    """
    if any(e.relation == relation for e in built.graph.edges):
        raise ConfigError(f"the graph already has {relation!r} edges")
    concepts = list(built.graph.nodes("concept"))
    offsets = [wordnet_offset(node) for node in concepts]
    if not any(offsets):
        raise ConfigError(
            "no concept carries a WordNet 3.0 offset (an 'offset' attribute of 8 digits, or an id "
            "ending in '<offset>-n'): ImageNet predictions cannot be mapped onto this graph"
        )
    probabilities = imagenet_probabilities(built) if probabilities is None else probabilities
    images = built.index.ids["image"]
    if probabilities.size(0) != len(images):
        raise ConfigError(f"probabilities has {probabilities.size(0)} rows for {len(images)} images")
    targets = predicted_concepts(probabilities, offsets, top_k)
    triples = [(images[row], relation, concepts[c].id) for row, rows in enumerate(targets) for c in rows]
    logger.info(
        "added %d %s edges from %d images (top %d ImageNet classes)", len(triples), relation, len(images), top_k
    )
    return built.with_edges(triples)
