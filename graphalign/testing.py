"""Tiny graphs, datasets and models for tests and examples (no downloads).

* :func:`make_toy_dataset` writes a small, learnable multimodal dataset: leaf
  concepts in a two-level hierarchy, each depicted by coloured images (one colour
  per concept) and described by texts. With the ``color-histogram`` and
  ``hashing-text`` encoders, alignment on it is learnable in seconds.
* :func:`save_tiny_bert` and :func:`save_tiny_clip` save randomly initialised
  transformers models (with tokenizer / image processor) that load through the
  same ``from_pretrained`` path as real ones.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from graphalign.features.featurize import GraphConfig
from graphalign.graph.io import save_dataset
from graphalign.graph.knowledge_graph import KnowledgeGraph

__all__ = [
    "TOY_CONCEPTS",
    "fast_graph_config",
    "make_toy_graph",
    "make_toy_dataset",
    "save_tiny_bert",
    "save_tiny_clip",
    "TINY_VOCAB",
]

TOY_CONCEPTS: dict[str, dict[str, tuple[int, int, int]]] = {
    "animal": {"cat": (200, 40, 40), "dog": (40, 200, 40), "horse": (40, 40, 200), "bird": (200, 200, 40)},
    "vehicle": {"car": (200, 40, 200), "bus": (40, 200, 200), "boat": (120, 60, 10), "plane": (250, 250, 250)},
}
"""Category → leaf concept → the RGB colour of its images."""


def fast_graph_config(dim: int = 64, use_cache: bool = False) -> GraphConfig:
    """Features in milliseconds: ``hashing-text`` of ``dim`` and ``color-histogram`` encoders, no progress bar.

    Example:
        >>> fast_graph_config().image_encoder
        'color-histogram'
    """
    return GraphConfig(
        text_encoder="hashing-text",
        text_encoder_kwargs={"dim": dim},
        image_encoder="color-histogram",
        progress=False,
        use_cache=use_cache,
    )


TEXT_TEMPLATES = ("a picture of a {name}", "this is a {name}", "a drawing of one {name}", "look, a {name}")


def make_toy_graph(
    folder: str | os.PathLike[str],
    images_per_concept: int = 4,
    texts_per_image: int = 1,
    seed: int = 0,
    size: int = 16,
) -> KnowledgeGraph:
    """Builds the toy graph, writing its images under ``folder/images``.

    Returns:
        A graph rooted at ``folder`` with concepts ``c:<name>``, images
        ``i:<name>:<k>`` and texts ``t:<name>:<k>:<j>``.
    """
    from PIL import Image

    rng = random.Random(seed)
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    graph = KnowledgeGraph(folder)
    graph.add_concept("c:entity", name="entity", description="anything that exists")
    for category, leaves in TOY_CONCEPTS.items():
        graph.add_concept(f"c:{category}", name=category, description=f"a kind of {category}")
        graph.add_edge(f"c:{category}", "is_a", "c:entity")
        for name in leaves:
            graph.add_concept(f"c:{name}", name=name, description=f"a {name}, which is a {category}")
            graph.add_edge(f"c:{name}", "is_a", f"c:{category}")
    for category, leaves in TOY_CONCEPTS.items():
        for name, colour in leaves.items():
            for k in range(images_per_concept):
                jitter = tuple(max(0, min(255, c + rng.randint(-25, 25))) for c in colour)
                image = Image.new("RGB", (size, size), jitter)
                for _ in range(size):  # a little noise
                    xy = (rng.randrange(size), rng.randrange(size))
                    image.putpixel(xy, tuple(rng.randrange(256) for _ in range(3)))
                relative = f"images/{name}_{k}.png"
                image.save(folder / relative)
                image_id = f"i:{name}:{k}"
                graph.add_image(image_id, path=relative, attributes={"category": category})
                graph.add_edge(image_id, "depicts", f"c:{name}")
                for j in range(texts_per_image):
                    text_id = f"t:{name}:{k}:{j}"
                    template = TEXT_TEMPLATES[(k + j) % len(TEXT_TEMPLATES)]
                    graph.add_text(text_id, text=template.format(name=name), language="en")
                    graph.add_edge(text_id, "describes", image_id)
    return graph


def make_toy_dataset(folder: str | os.PathLike[str], **kwargs: int) -> Path:
    """Writes the toy graph as a dataset folder (``nodes.jsonl``, ``edges.tsv``, images)."""
    graph = make_toy_graph(folder, **kwargs)
    return save_dataset(graph, folder)


TINY_VOCAB = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    *"abcdefghijklmnopqrstuvwxyz",
    "##s",
    "the",
    "a",
    "dog",
    "cat",
    "red",
    "car",
]


def _save_tiny_tokenizer(folder: Path) -> None:
    from transformers import BertTokenizerFast

    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(TINY_VOCAB) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True).save_pretrained(folder)


def save_tiny_bert(folder: str | os.PathLike[str], hidden_size: int = 16, seed: int = 0) -> Path:
    """Saves a randomly initialised 1-layer BERT and its tokenizer to ``folder``."""
    import torch
    from transformers import BertConfig, BertModel

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(TINY_VOCAB),
        hidden_size=hidden_size,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=2 * hidden_size,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(folder)
    _save_tiny_tokenizer(folder)
    return folder


def save_tiny_clip(folder: str | os.PathLike[str], projection_dim: int = 8, seed: int = 0) -> Path:
    """Saves a randomly initialised tiny CLIP model, tokenizer and image processor."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    tower = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2)
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(TINY_VOCAB),
            max_position_embeddings=32,
            bos_token_id=2,
            eos_token_id=3,
            pad_token_id=0,
            **tower,
        ),
        vision_config=dict(image_size=32, patch_size=8, **tower),
        projection_dim=projection_dim,
    )
    CLIPModel(config).save_pretrained(folder)
    _save_tiny_tokenizer(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder
