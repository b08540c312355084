"""The one-call entry point, graphalign.pipeline: from a dataset to a queryable model (build, train, evaluate).

As PyKEEN's ``pipeline``: components by name, their settings as keyword dicts.

Example:
    >>> import graphalign as ga
    >>> aligner = ga.pipeline("tuxpaint_small")  # the best preset  # doctest: +SKIP
    >>> aligner = ga.pipeline("tuxpaint_small", preset="fast", model="rgcn",
    ...                       training_kwargs={"epochs": 20, "seed": 0})  # doctest: +SKIP
    >>> aligner.metrics()["test"]["image->concept/mrr"]  # doctest: +SKIP
    0.19
    >>> aligner.search(text="a fire engine", type="image", k=3)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from graphalign.data.split import SplitConfig
from graphalign.features.build import build_graph
from graphalign.features.featurize import GraphConfig
from graphalign.features.store import BuiltGraph
from graphalign.graph.knowledge_graph import KnowledgeGraph
from graphalign.nn.hetero_gnn import ModelConfig
from graphalign.presets import DEFAULT_PRESET, Preset, get_preset
from graphalign.query.aligner import Aligner
from graphalign.training.trainer import RunConfig, TrainConfig, fit

__all__ = ["pipeline"]


def pipeline(
    dataset: str | os.PathLike[str] | KnowledgeGraph | BuiltGraph,
    *,
    preset: str | Preset = DEFAULT_PRESET,
    model: str | ModelConfig | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
    loss: str | None = None,
    loss_kwargs: Mapping[str, Any] | None = None,
    training_kwargs: Mapping[str, Any] | None = None,
    graph_kwargs: Mapping[str, Any] | None = None,
    split_kwargs: Mapping[str, Any] | None = None,
    run_kwargs: Mapping[str, Any] | None = None,
    run_dir: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
) -> Aligner:
    """Builds the graph (features from the encoders, cached), trains, evaluates, and returns the model to query.

    Args:
        dataset: A bundled dataset's name (``"tuxpaint_small"``), a dataset folder,
            a :class:`KnowledgeGraph`, or a :class:`BuiltGraph` (features already made).
        preset: A named configuration of :mod:`graphalign.presets` (``best``,
            ``fast``, ``towers``, ``plain``); the arguments below change it.
        model: A message-passing layer's name (``graphalign ls convs``) or a whole
            :class:`ModelConfig` (default: the preset's).
        model_kwargs: More :class:`ModelConfig` settings (``head``, ``readouts``, ``out_dim``, ...).
        loss: A loss's name (``graphalign ls losses``).
        loss_kwargs: Its arguments.
        training_kwargs: More :class:`TrainConfig` settings (``epochs``, ``lr``, ``seed``, ...).
        graph_kwargs: :class:`GraphConfig` settings (encoders, cache), when the graph is built here.
        split_kwargs: :class:`SplitConfig` settings.
        run_kwargs: :class:`RunConfig` settings (``device``, ``progress``, ...).
        run_dir: Save the run there (new, empty, or graphalign's own with ``overwrite``).
        overwrite: Replace a run folder graphalign wrote.

    Returns:
        An :class:`Aligner` on the trained model, with its metrics (``aligner.metrics()``).

    Raises:
        ConfigError: On an unknown name or setting (the message lists the valid ones).
    """
    chosen = get_preset(preset)
    graph_settings = {**chosen.fields("graph"), **(graph_kwargs or {})}
    built = (
        dataset if isinstance(dataset, BuiltGraph) else build_graph(dataset, GraphConfig.from_dict(graph_settings))[0]
    )
    base = (
        model.to_dict()
        if isinstance(model, ModelConfig)
        else {**chosen.fields("model"), **({"conv": model} if model else {})}
    )
    model_config = ModelConfig.from_dict({**base, **(model_kwargs or {})})
    named = [f"model={model!r}"] if isinstance(model, str) else []
    named += [f"model_kwargs[{key!r}]" for key in ("conv", "conv_kwargs") if key in (model_kwargs or {})]
    chosen.require_layers(model_config, named, "add model_kwargs={'num_layers': 2}, or use preset='gnn'")
    train: dict[str, Any] = {**chosen.fields("train"), **(training_kwargs or {})}
    if loss is not None:
        train["loss"] = loss
    if loss_kwargs is not None:
        train["loss_kwargs"] = dict(loss_kwargs)
    result = fit(
        built,
        model_config,
        TrainConfig.from_dict(train),
        SplitConfig.from_dict({**chosen.fields("split"), **(split_kwargs or {})}),
        run_dir=run_dir,
        overwrite=overwrite,
        run=RunConfig.from_dict(dict(run_kwargs or {})),
    )
    return Aligner(result)
