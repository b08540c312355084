"""Plots of the quality benchmark: 2-D maps of the shared space and training curves."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from graphalign.errors import GraphAlignError
from graphalign.features.store import BuiltGraph

logger = logging.getLogger(__name__)

__all__ = ["plot_space_map", "plot_training_curves", "is_plot"]

SOFTWARE = "graphalign bench"
"""The ``Software`` text chunk of every PNG written here (how :func:`is_plot` knows them)."""


def is_plot(path: Path) -> bool:
    """Whether the PNG at ``path`` is one that this module wrote (its ``Software`` text chunk)."""
    with open(path, "rb") as handle:
        return b"tEXtSoftware\x00" + SOFTWARE.encode() in handle.read(1 << 12)


def _save(figure: Any, path: Path) -> None:
    """Writes ``figure`` as a PNG atomically, marked as graphalign's."""
    from graphalign.atomic import atomic_open

    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=110, metadata={"Software": SOFTWARE})


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise GraphAlignError("plots need matplotlib: pip install 'graphalign[plot]'") from error
    return plt


def _tsne(x: torch.Tensor, seed: int) -> torch.Tensor:
    try:
        from sklearn.manifold import TSNE
    except ImportError as error:
        raise GraphAlignError("maps need scikit-learn: pip install 'graphalign[plot]'") from error
    perplexity = max(2.0, min(30.0, (x.size(0) - 1) / 3))
    return torch.from_numpy(
        TSNE(2, perplexity=perplexity, init="pca", random_state=seed, metric="cosine").fit_transform(x.numpy())
    )


def plot_space_map(
    built: BuiltGraph, embeddings: dict[str, torch.Tensor], path: Path, title: str, seed: int = 0
) -> Path:
    """t-SNE of image embeddings, coloured by the image's top-level category attribute.

    Shapes:
        - embeddings["image"]: ``(num_images, d)``
    """
    plt = _pyplot()
    images = list(built.graph.nodes("image"))
    categories = [
        str(node.attributes.get("top_category", node.attributes.get("category", "?"))).split("/")[0] for node in images
    ]
    points = _tsne(embeddings["image"].float(), seed)
    names = sorted(set(categories))
    cmap = plt.get_cmap("tab20", max(len(names), 1))
    figure, axis = plt.subplots(figsize=(8, 7))
    for index, name in enumerate(names):
        mask = torch.tensor([c == name for c in categories])
        axis.scatter(points[mask, 0], points[mask, 1], s=10, color=cmap(index), label=name)
    axis.set_title(title)
    axis.set_xticks([])
    axis.set_yticks([])
    axis.legend(fontsize=7, markerscale=1.5, loc="center left", bbox_to_anchor=(1.0, 0.5))
    figure.tight_layout()
    _save(figure, path)
    plt.close(figure)
    return path


def plot_training_curves(histories: dict[str, list[dict[str, float]]], path: Path) -> Path:
    """Training loss and validation MRR per epoch, one line per run."""
    plt = _pyplot()
    figure, (loss_axis, mrr_axis) = plt.subplots(1, 2, figsize=(11, 4))
    for name, history in histories.items():
        epochs = [h["epoch"] for h in history]
        loss_axis.plot(epochs, [h["loss"] for h in history], label=name)
        if any("val_mrr" in h for h in history):
            mrr_axis.plot(
                [h["epoch"] for h in history if "val_mrr" in h],
                [h["val_mrr"] for h in history if "val_mrr" in h],
                label=name,
            )
    loss_axis.set(xlabel="epoch", ylabel="training loss", title="loss")
    mrr_axis.set(xlabel="epoch", ylabel="validation MRR", title="validation MRR (mean over directions)")
    mrr_axis.legend(fontsize=8)
    figure.tight_layout()
    _save(figure, path)
    plt.close(figure)
    return path
