"""The main job end to end: build the graph, train, evaluate held-out links, query."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from graphalign.data.split import SplitConfig
from graphalign.datasets import query_images
from graphalign.features.build import build_graph
from graphalign.features.featurize import GraphConfig
from graphalign.features.store import check_graph_output
from graphalign.graph.convert import NodeIndex
from graphalign.nn.hetero_gnn import ModelConfig
from graphalign.query.aligner import Aligner, Neighbor
from graphalign.training.checkpoint import check_run_output
from graphalign.training.run import TrainedRun
from graphalign.training.trainer import RunConfig, TrainConfig, fit
from graphalign.typing import EdgeType

logger = logging.getLogger(__name__)

__all__ = ["DemoReport", "run_demo", "chance_mrr", "DEMO_TEXT_QUERIES"]

DEMO_TEXT_QUERIES = ("a big red fire engine", "a small animal with long ears", "something to eat for dessert")


def chance_mrr(num_candidates: int) -> float:
    """Expected MRR of a uniformly random ranking of ``num_candidates`` items."""
    return sum(1.0 / r for r in range(1, num_candidates + 1)) / max(num_candidates, 1)


@dataclass
class ExampleQuery:
    """One query of the demo and its answers."""

    query: str
    expected: list[str]
    answers: list[Neighbor]


@dataclass
class DemoReport:
    """Everything the demo measured (the CLI prints it)."""

    build_seconds: float
    train_seconds: float
    items_encoded: int
    items_cached: int
    counts: dict[str, Any]
    test_metrics: dict[str, float]
    chance: dict[str, float]
    best_epoch: int
    epochs_run: int
    examples: list[ExampleQuery] = field(default_factory=list)
    graph_dir: Path | None = None
    run_dir: Path | None = None


def _label_of(aligner: Aligner, node_id: str) -> str:
    return f"{aligner.graph.display_name(node_id)} ({node_id})"


def _chance_mrrs(index: NodeIndex) -> dict[str, float]:
    """The MRR of a random ranking, per evaluated direction."""
    return {
        "image->concept": chance_mrr(index.num_nodes("concept")),
        "text->image": chance_mrr(index.num_nodes("image")),
        "concept->image": chance_mrr(index.num_nodes("image")),
    }


def _heldout_examples(
    aligner: Aligner, index: NodeIndex, test_edges: dict[EdgeType, torch.Tensor], per_type: int = 3
) -> list[ExampleQuery]:
    """The first ``per_type`` held-out images (-> concept) and texts (-> image), with their answers."""
    examples: list[ExampleQuery] = []
    for (src, _, dst), edges in sorted(test_edges.items()):
        if (src, dst) not in (("image", "concept"), ("text", "image")) or edges.size(1) == 0:
            continue
        seen: set[int] = set()
        for column in range(edges.size(1)):
            row = int(edges[0, column])
            if row in seen:
                continue
            seen.add(row)
            query_id = index.id(src, row)
            targets = [index.id(dst, int(t)) for t in edges[1][edges[0] == row]]
            answers = aligner.neighbors(query_id, k=3, type=dst)
            examples.append(
                ExampleQuery(
                    f"held-out {src} {_label_of(aligner, query_id)} -> {dst}",
                    [_label_of(aligner, t) for t in targets],
                    answers,
                )
            )
            if len(seen) == per_type:
                break
    return examples


def _new_query_examples(aligner: Aligner, example_images: list[Path]) -> list[ExampleQuery]:
    """The demo's text queries and ``example_images``, each -> concept."""
    examples = [
        ExampleQuery(f"new text {text!r} -> concept", [], aligner.search(text=text, k=3, type="concept"))
        for text in DEMO_TEXT_QUERIES
    ]
    for path in example_images:
        examples.append(
            ExampleQuery(f"new image {Path(path).name} -> concept", [], aligner.search(image=path, k=3, type="concept"))
        )
    return examples


def run_demo(
    data_dir: str | os.PathLike[str],
    work_dir: str | os.PathLike[str],
    graph_config: GraphConfig | None = None,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    split_config: SplitConfig | None = None,
    run_config: RunConfig | None = None,
    example_images: list[Path] | None = None,
) -> DemoReport:
    """Builds, trains, evaluates and queries; returns a :class:`DemoReport`.

    Args:
        data_dir: A dataset folder or a bundled dataset's name (default in the CLI:
            ``tuxpaint_small``, the bundled Tux Paint + WordNet sample).
        work_dir: Where ``graph/`` and ``run/`` are written (graphalign's own
            folders there are replaced; anything else is refused).
        graph_config: Encoders and cache (default: ``GraphConfig()``, the ``best`` preset's).
        model_config: Model hyper-parameters (default: ``ModelConfig()``, the ``best`` preset's).
        train_config: Training settings (default: ``TrainConfig()``).
        split_config: Held-out fractions.
        run_config: Runtime settings of training (device, progress bar).
        example_images: New images (not in the graph) to query with; ``None``: the
            example query images that come with a bundled dataset
            (:func:`graphalign.datasets.query_images`), none for other folders.
    """
    work_dir = Path(work_dir)
    # The demo owns its graph/ and run/ folders and replaces them on every run; a folder there that
    # graphalign did not write (or one holding a user's files) is refused before any work.
    check_graph_output(work_dir / "graph", overwrite=True)
    check_run_output(work_dir / "run", overwrite=True)
    started = time.perf_counter()
    built, stats = build_graph(data_dir, graph_config or GraphConfig())
    graph_dir = built.save(work_dir / "graph", overwrite=True)
    build_seconds = time.perf_counter() - started
    started = time.perf_counter()
    result = fit(
        built, model_config, train_config, split_config, run_dir=work_dir / "run", overwrite=True, run=run_config
    )
    train_seconds = time.perf_counter() - started

    aligner = Aligner(TrainedRun.load(work_dir / "run"))
    examples = _heldout_examples(aligner, built.index, result.split.edges["test"])
    examples += _new_query_examples(aligner, query_images(data_dir) if example_images is None else example_images)
    return DemoReport(
        build_seconds=build_seconds,
        train_seconds=train_seconds,
        items_encoded=stats.total_encoded,
        items_cached=sum(stats.cached.values()),
        counts=built.graph.counts(),
        test_metrics=result.test_metrics,
        chance=_chance_mrrs(built.index),
        best_epoch=result.best_epoch,
        epochs_run=len(result.history),
        examples=examples,
        graph_dir=graph_dir,
        run_dir=work_dir / "run",
    )
