"""Loading a trained run folder: graph, split, model, and embeddings."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from graphalign.data.split import EdgeSplit, SplitConfig
from graphalign.device import resolve_device
from graphalign.errors import CheckpointError, ConfigError, GraphAlignError
from graphalign.features.store import BuiltGraph
from graphalign.losses import build_loss
from graphalign.nn.hetero_gnn import HeteroAligner, ModelConfig
from graphalign.training import checkpoint as ckpt
from graphalign.training.trainer import (
    RunConfig,
    TrainConfig,
    TrainResult,
    _load_split,
    embed_nodes,
    graph_fingerprint,
    run_config,
    upgrade_run_json,
)
from graphalign.typing import NodeType

logger = logging.getLogger(__name__)

__all__ = ["TrainedRun"]


def _config_from_file(cls: type, config: dict[str, Any], key: str, path: Path) -> Any:
    """``cls.from_dict(config[key])``; a bad value is a CheckpointError naming the file and key."""
    try:
        return cls.from_dict(config[key])
    except (ConfigError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: key {key!r}: {error}") from None


def _check_in_dims(in_dims: dict[str, Any], feature_dims: dict[str, int], path: Path) -> None:
    """The model's input sizes in ``run.json`` must be those of the graph's features."""
    for node_type, dim in in_dims.items():
        if node_type not in feature_dims:
            raise CheckpointError(
                f"{path}: key 'in_dims': node type {node_type!r} has no features in the run's graph "
                f"(it has {sorted(feature_dims)})"
            )
        if isinstance(dim, bool) or not isinstance(dim, int) or dim != feature_dims[node_type]:
            raise CheckpointError(
                f"{path}: key 'in_dims.{node_type}' is {dim!r}, but the run's graph has "
                f"{feature_dims[node_type]}-dimensional {node_type} features"
            )


def _check_model_size(config: dict[str, Any], edge_types: list[Any], model_config: ModelConfig, weights: Path) -> None:
    """Refuses a ``run.json`` whose model would hold more numbers than its weights file.

    The model is first built on the ``meta`` device, which allocates nothing, so
    an edited ``hidden_dim`` of a billion costs no memory.
    """
    try:
        with torch.device("meta"):
            model = HeteroAligner(config["in_dims"], edge_types, model_config, input_groups=config.get("input_groups"))
    except (GraphAlignError, TypeError, ValueError, KeyError, RuntimeError, NotImplementedError) as error:
        raise CheckpointError(
            f"{weights.parent / ckpt.RUN_FILE}: the model it describes cannot be built "
            f"({type(error).__name__}: {error})"
        ) from None
    needed = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    try:
        available = weights.stat().st_size
    except OSError:
        return  # load_weights reports the missing file
    if needed > available:
        from graphalign.atomic import read_safetensors

        read_safetensors(weights, "weights")  # a file that is no weights file at all is reported as such (it is small)
        raise CheckpointError(
            f"{weights.parent / ckpt.RUN_FILE}: key 'model' describes a model of {needed:,} bytes of "
            f"weights, but {weights.name} holds {available:,} bytes"
        )


@dataclass
class TrainedRun:
    """A trained run loaded from its folder (no pickle: JSON and safetensors only).

    Example:
        >>> run = TrainedRun.load("runs/demo")  # doctest: +SKIP
        >>> run.embeddings()["image"].shape  # doctest: +SKIP
        torch.Size([298, 1792])

    Attributes:
        run_dir: The folder (``None`` for a result that was never saved).
        built: The graph the model was trained on.
        split: The edge split.
        model: The best model, in eval mode.
        loss: The loss module (holds the learned temperature).
        config: The content of ``run.json``.
        saved_metrics: The metrics of an unsaved result (a saved run reads ``metrics.json``).
    """

    run_dir: Path | None
    built: BuiltGraph
    split: EdgeSplit
    model: HeteroAligner
    loss: nn.Module
    config: dict[str, Any]
    saved_metrics: dict[str, Any] | None = None

    @classmethod
    def load(cls, run_dir: str | os.PathLike[str], device: str | None = "cpu") -> TrainedRun:
        """Loads a run folder written by :func:`~graphalign.training.trainer.fit`.

        Raises:
            CheckpointError: If anything is missing or does not fit.
        """
        run_dir = Path(run_dir)
        path = run_dir / ckpt.RUN_FILE
        try:  # the settings of older files where they live now
            config = upgrade_run_json(ckpt.read_run_config(run_dir))
        except ConfigError as error:
            raise CheckpointError(f"{path}: key 'train': {error}") from None
        model_config = _config_from_file(ModelConfig, config, "model", path)
        train = _config_from_file(TrainConfig, config, "train", path)
        _config_from_file(SplitConfig, config, "split", path)
        _config_from_file(RunConfig, config, "run", path)
        built = BuiltGraph.load(run_dir / ckpt.GRAPH_SUBDIR)
        expected = config.get("graph_fingerprint")
        if (  # a run trained on a tensor graph (no node ids) has a fingerprint without them
            isinstance(expected, str)
            and graph_fingerprint(built) != expected
            and graph_fingerprint(built, node_ids=False) != expected
        ):
            raise CheckpointError(
                f"{run_dir / ckpt.GRAPH_SUBDIR}: not the graph this run was trained on (its nodes, edges or "
                f"features differ from the fingerprint in {path}); put the run's own graph back, or train again"
            )
        _check_in_dims(config["in_dims"], built.feature_dims, path)
        split = _load_split(run_dir, config)
        edge_types = [tuple(e) for e in config["edge_types"]]
        _check_model_size(config, edge_types, model_config, run_dir / ckpt.MODEL_FILE)
        try:
            in_dims, groups = config["in_dims"], config.get("input_groups")
            model = HeteroAligner(in_dims, edge_types, model_config, input_groups=groups)  # type: ignore[arg-type]
            loss = build_loss(train.loss, train.loss_kwargs)
        except (GraphAlignError, TypeError, ValueError, KeyError) as error:
            raise CheckpointError(
                f"{path}: the model it describes cannot be built ({type(error).__name__}: {error})"
            ) from None
        ckpt.load_weights(run_dir / ckpt.MODEL_FILE, {"model": model, "loss": loss})
        model = model.to(resolve_device(device)).eval()
        return cls(run_dir=run_dir, built=built, split=split, model=model, loss=loss, config=config)

    @classmethod
    def from_result(cls, result: TrainResult) -> TrainedRun:
        """The run of a :class:`TrainResult` in memory, as :meth:`load` would give it back from its folder.

        Raises:
            GraphAlignError: If the result was trained on something other than a :class:`BuiltGraph`.
        """
        if not isinstance(result.built, BuiltGraph):
            raise GraphAlignError("only a result trained on a BuiltGraph (ga.build_graph) can be queried")
        model_config = result.model_config or result.model.config
        config = run_config(
            result.model,
            result.split,
            model_config,
            result.train_config or TrainConfig(),
            result.split_config or SplitConfig(),
            result.run_config,
        )
        metrics = {
            "best_epoch": result.best_epoch,
            "val": result.val_metrics,
            "test": result.test_metrics,
            "history": result.history,
            "split": result.split.counts(),
        }
        return cls(
            run_dir=result.run_dir,
            built=result.built,
            split=result.split,
            model=result.model.eval(),
            loss=result.loss,
            config=config,
            saved_metrics=metrics,
        )

    @property
    def model_config(self) -> ModelConfig:
        return self.model.config

    @property
    def train_config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.config["train"])

    @property
    def split_config(self) -> SplitConfig:
        return SplitConfig.from_dict(self.config["split"])

    @property
    def run_config(self) -> RunConfig:
        """The runtime settings it was trained with."""
        return RunConfig.from_dict(self.config["run"])

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def embeddings(self) -> dict[NodeType, torch.Tensor]:
        """Shared-space embedding of every node, computed with every training
        edge (held-out links stay hidden; :func:`~graphalign.training.trainer.embed_nodes`). Cached."""
        if not hasattr(self, "_embeddings"):
            self._embeddings = embed_nodes(self.model, self.built, self.split)
        return self._embeddings

    def metrics(self) -> dict[str, Any]:
        """The ``metrics.json`` written at the end of training (``{}`` where there is none).

        Raises:
            CheckpointError: If the file is not a JSON object (edited or damaged), naming it.
        """
        if self.saved_metrics is not None:
            return self.saved_metrics
        path = self.run_dir / ckpt.METRICS_FILE if self.run_dir is not None else None
        if path is None or not path.is_file():
            return {}
        try:
            metrics = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise CheckpointError(f"{path}: not valid JSON ({error}); train the run again to rewrite it") from None
        if not isinstance(metrics, dict):
            raise CheckpointError(f"{path}: expected a JSON object of metrics, got {type(metrics).__name__}")
        return metrics
