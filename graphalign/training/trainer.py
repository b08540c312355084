"""The training loop: contrastive alignment of linked nodes with a heterogeneous GNN."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from graphalign.atomic import atomic_save_safetensors, atomic_write_json, read_safetensors, tensors_digest
from graphalign.checks import check_bool, check_float, check_int, plain_numbers
from graphalign.data.split import LABEL_FREE_RELATIONS, EdgeSplit, SplitConfig, split_graph
from graphalign.device import check_device_name, resolve_device
from graphalign.errors import CheckpointError, ConfigError, GraphValidationError, check_config_keys
from graphalign.evaluation.evaluator import LinkEvaluator
from graphalign.features.store import BuiltGraph
from graphalign.graph.convert import edge_index_dict, forward_relation, reverse_edge_type
from graphalign.graph.knowledge_graph import KnowledgeGraph
from graphalign.losses import LOSSES, build_loss
from graphalign.nn.channels import ChannelConfig, absent_relations
from graphalign.nn.directions import DirectedEmbeddings, Direction
from graphalign.nn.exemplars import EXEMPLAR_DIRECTION
from graphalign.nn.hetero_gnn import DEFAULT_CHANNEL_NAMES, DEFAULT_READOUTS, HeteroAligner, ModelConfig
from graphalign.nn.readouts import ChannelsReadout
from graphalign.outputs import write_marker
from graphalign.training import checkpoint as ckpt
from graphalign.training.calibration import fit_direction_scales, reset_calibration
from graphalign.training.distributed import resolve_distributed
from graphalign.training.exemplars import exemplar_term
from graphalign.training.sampler_config import FullSampling, build_sampling, resolve_sampling, sampler_spec
from graphalign.typing import EdgeType, NodeType

if TYPE_CHECKING:
    from graphalign.training.distributed import DistributedContext

logger = logging.getLogger(__name__)

__all__ = [
    "TrainConfig",
    "RunConfig",
    "LEGACY_TRAIN_KEYS",
    "upgrade_run_json",
    "TrainResult",
    "TensorGraph",
    "fit",
    "graph_edges",
    "model_edge_types",
    "message_passing_data",
    "directed_embeddings",
    "embed_nodes",
    "deterministic_algorithms",
]

_RANK_SEED_STRIDE = 1_000_003
"""Rank ``r`` of a distributed run seeds its neighbour sampler with ``seed + r * stride``."""


@runtime_checkable
class TensorGraph(Protocol):
    """A graph given directly as tensors, e.g. :class:`~graphalign.benchmark.synthetic.SyntheticGraph`.

    :func:`fit` trains on a :class:`BuiltGraph` or on any object with these
    members; it never needs per-node Python objects from one.

    Example:
        >>> from graphalign.benchmark.synthetic import make_synthetic_graph
        >>> isinstance(make_synthetic_graph(num_nodes=100), TensorGraph)
        True
    """

    features: dict[NodeType, Tensor]
    spaces: dict[NodeType, str]

    @property
    def feature_dims(self) -> dict[NodeType, int]: ...

    def edge_index_dict(self) -> dict[EdgeType, Tensor]:
        """Every edge by (forward) edge type, ``(2, E)`` rows."""
        ...

    def split(self, config: SplitConfig | None = None, seed: int = 0) -> EdgeSplit:
        """The edge split (as :func:`split_graph`)."""
        ...

    def save(self, folder: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Writes a graph folder that :meth:`BuiltGraph.load` reads (for run folders);
        ``overwrite`` replaces graphalign's own graph folder (see :meth:`BuiltGraph.save`)."""
        ...


GraphLike = BuiltGraph | TensorGraph
"""What :func:`fit` trains on."""


@dataclass
class TrainConfig:
    """Optimisation settings: what every training run needs.

    The defaults are the ``best`` preset's training (:mod:`graphalign.presets`):
    InfoNCE with every node of the target type as a negative, at most 40 epochs
    of at most 10 steps of 256 pairs, early stopping after 8 evaluations without
    a better validation MRR.

    Example:
        >>> TrainConfig(loss="triplet", loss_kwargs={"margin": 0.3}, epochs=5).loss
        'triplet'
        >>> TrainConfig(sampler={"name": "neighbor", "num_neighbors": [10, 5]}).sampling.num_neighbors
        [10, 5]

    Args:
        epochs: Maximum number of epochs. One epoch passes once over the
            supervision edges of the largest aligned edge type; every step takes
            one batch of each aligned edge type.
        batch_size: Supervision pairs per edge type and step (the global batch,
            over all processes, in distributed training).
        lr: Adam learning rate.
        weight_decay: AdamW weight decay.
        loss: A name from :data:`~graphalign.losses.LOSSES`.
        loss_kwargs: Its arguments.
        sampler: How steps see the graph: a dict with a ``name`` in
            :data:`~graphalign.training.sampler_config.SAMPLERS` and its arguments,
            ``{"name": "full"}`` (one forward over the whole graph per step),
            ``{"name": "neighbor", "num_neighbors": [15, 10]}`` (neighbour-sampled
            subgraphs) or ``{"name": "auto"}`` (the first on a graph of at most
            20,000 message-passing edges, else the second with fan-out [10, 5]);
            all take ``steps_per_epoch`` (at most this many steps an epoch),
            ``isolate_nodes`` and ``isolate_types``
            (:class:`~graphalign.training.sampler_config.FullSampling`).
            Completed with every argument's default. Default: ``auto``, epochs of
            at most 10 steps, 30% of images and texts cut off from message
            passing at every step (held-out and new ones have no edges).
        negatives: Extra negatives per step on top of the in-batch ones: ``0``
            none, ``k > 0`` that many random nodes of the target type, ``-1`` all
            nodes of the target type (full mode) or of the sampled subgraph.
        patience: Stop after this many evaluations without a better validation MRR.
        eval_every: Evaluate every this many epochs.
        grad_clip: Clip the gradient norm (``None``: off).
        seed: Seed of the split, the initialisation, shuffling and sampling.

    Runtime settings (device, progress bar, distributed, deterministic) are a
    :class:`RunConfig`; the relations the loss trains on are
    :attr:`SplitConfig.supervise <graphalign.data.split.SplitConfig.supervise>`.
    """

    epochs: int = 40
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    loss: str = "infonce"
    loss_kwargs: dict[str, Any] = field(default_factory=dict)
    sampler: dict[str, Any] = field(
        default_factory=lambda: {"name": "auto", "steps_per_epoch": 10, "isolate_nodes": 0.3}
    )
    negatives: int = -1
    patience: int = 8
    eval_every: int = 1
    grad_clip: float | None = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        plain_numbers(self)  # NumPy scalars as Python numbers (JSON, and the checks below)
        name = "TrainConfig"
        check_int(name, "epochs", self.epochs, low=0)
        check_int(name, "batch_size", self.batch_size, low=1)
        check_int(name, "eval_every", self.eval_every, low=1)
        check_int(name, "patience", self.patience, low=1)
        check_int(name, "negatives", self.negatives, low=-1)
        check_int(name, "seed", self.seed, low=0, high=2**63 - 1)
        check_float(name, "lr", self.lr, low=0.0, low_open=True)
        check_float(name, "weight_decay", self.weight_decay, low=0.0)
        check_float(name, "grad_clip", self.grad_clip, low=0.0, low_open=True, optional=True)
        self.sampler = sampler_spec(self.sampler)
        if not isinstance(self.loss_kwargs, dict):
            raise ConfigError(
                f"{name}.loss_kwargs must be a dict (a JSON object), got {self.loss_kwargs!r}",
                config=name,
                key="loss_kwargs",
            )
        if isinstance(self.loss, str):
            LOSSES.get(self.loss)  # an unknown name lists the valid ones
            try:  # unknown arguments get a did-you-mean
                LOSSES.check_kwargs(self.loss, self.loss_kwargs)
            except ConfigError as error:
                raise ConfigError(f"{name}.loss_kwargs: {error}", config=name, key="loss_kwargs") from None

    @property
    def sampling(self) -> FullSampling:
        """The settings of :attr:`sampler` as an object (:class:`FullSampling` or :class:`NeighborSampling`)."""
        return build_sampling(self.sampler)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; also reads the keys of :data:`LEGACY_TRAIN_KEYS`.

        Sampling settings of older ``run.json`` files (``mode``, ``num_neighbors``,
        ...) become :attr:`sampler`; their runtime settings (``device``, ...) are
        left out (read them with :func:`upgrade_run_json` and :meth:`RunConfig.from_dict`).

        Raises:
            ConfigError: On keys that are not fields, or values out of range.
        """
        train, _, split = _legacy_train_parts(dict(data))
        if split.get("supervise") is not None:
            raise ConfigError(
                f"TrainConfig: 'supervise' is a setting of SplitConfig now (SplitConfig.supervise="
                f"{split['supervise']!r}); read an older run.json with graphalign.training.upgrade_run_json",
                config="TrainConfig",
                key="supervise",
            )
        check_config_keys(cls, train, "TrainConfig")
        return cls(**train)


@dataclass
class RunConfig:
    """Runtime settings of :func:`fit`: where and how it runs, not what it trains.

    A resumed run takes ``device``, ``progress`` and ``distributed`` from the new
    call, and keeps its own ``deterministic``.

    Example:
        >>> RunConfig(device="cpu", progress=False).device
        'cpu'

    Args:
        device: ``"auto"``, ``"cpu"``, ``"cuda"``.
        progress: Show a progress bar.
        distributed: Data-parallel training over :mod:`torch.distributed`
            (see :mod:`graphalign.training.distributed`): every process trains
            on its shard of each global batch of ``batch_size`` pairs, and the
            result equals one process training on the same global batches.
            ``None``: on when launched by ``torchrun`` with more than one process.
        deterministic: Run training with ``torch.use_deterministic_algorithms``
            (``warn_only``), restored afterwards (default on: the same seed gives
            the same model). Off, with several CPU threads some sums over edges
            add up in a thread-dependent order, so two runs with the same seed can
            differ in the last bits and drift apart over training; on CUDA, also
            set ``CUBLAS_WORKSPACE_CONFIG`` (see PyTorch's reproducibility notes).
    """

    device: str = "auto"
    progress: bool = True
    distributed: bool | None = None
    deterministic: bool = True

    def __post_init__(self) -> None:
        check_bool("RunConfig", "progress", self.progress)
        check_bool("RunConfig", "deterministic", self.deterministic)
        check_bool("RunConfig", "distributed", self.distributed, optional=True)
        check_device_name(self.device, "RunConfig.device")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """Inverse of :meth:`to_dict`.

        Raises:
            ConfigError: On keys that are not fields, or values out of range.
        """
        check_config_keys(cls, data, "RunConfig")
        return cls(**data)


_SAMPLER_KEYS = ("mode", "num_neighbors", "steps_per_epoch", "isolate_nodes", "isolate_types")
_RUN_KEYS = ("device", "progress", "distributed", "deterministic")
LEGACY_TRAIN_KEYS = (*_SAMPLER_KEYS, *_RUN_KEYS, "supervise")
"""Keys of the ``train`` part of older ``run.json`` files, now in :attr:`TrainConfig.sampler`,
:class:`RunConfig` and :attr:`SplitConfig.supervise <graphalign.data.split.SplitConfig.supervise>`."""


def _legacy_train_parts(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """An older ``train`` dict split into the ``train``, ``run`` and ``split`` settings it held."""
    run = {key: data.pop(key) for key in _RUN_KEYS if key in data}
    split = {"supervise": data.pop("supervise")} if "supervise" in data else {}
    sampling = {key: data.pop(key) for key in _SAMPLER_KEYS if key in data}
    if sampling:
        if "sampler" in data:
            raise ConfigError(
                f"TrainConfig: give the sampling settings {sorted(sampling)} inside 'sampler', not beside it",
                config="TrainConfig",
                key="sampler",
            )
        name = sampling.pop("mode", "full")
        if name == "full":  # older files hold the (unused) fan-outs of full-graph training too
            sampling.pop("num_neighbors", None)
        data["sampler"] = {"name": name, **sampling}
    return data, run, split


def upgrade_run_json(saved: Mapping[str, Any]) -> dict[str, Any]:
    """A ``run.json`` dict with the settings of older files where they live now.

    The ``train`` part's runtime settings go to ``run`` and ``supervise`` to
    ``split`` (:data:`LEGACY_TRAIN_KEYS`); a file without ``run`` gets the
    defaults, a model without ``propagate`` none (it predates propagated features).
    """
    upgraded = dict(saved)
    train, run, split = _legacy_train_parts(dict(saved.get("train", {})))
    upgraded["train"] = train
    upgraded["run"] = {**run, **saved.get("run", {})}
    upgraded["split"] = {**split, **saved.get("split", {})}
    if "model" in saved and "propagate" not in saved["model"]:  # written before models read propagated features
        upgraded["model"] = {**saved["model"], "propagate": None}
    return upgraded


@dataclass
class TrainResult:
    """What :func:`fit` returns: the best model, how it was obtained, and on which graph.

    ``graphalign.Aligner(result)`` queries it at once, without a round trip
    through a run folder.

    Attributes:
        model: The best model (by validation MRR; the last one without validation links).
        loss: The loss module (holds the learned temperature).
        split: The edge split.
        history: One record per epoch (``epoch``, ``loss``, ``val_mrr``, ...).
        best_epoch: The epoch whose weights were kept (0: the untrained model).
        val_metrics: Validation metrics of the kept model (empty without validation links).
        test_metrics: Test metrics (empty without test links; keys such as ``image->concept/mrr``).
        run_dir: The run folder, if the run was saved.
        built: The graph it was trained on.
        model_config: The model's configuration.
        train_config: The training configuration.
        split_config: How the edges were split.
        run_config: The runtime settings it ran with.
        channel_scales: Per direction (``"concept->image"``), the graph channels' scales fitted on the
            validation links and the validation MRR before and after (:mod:`graphalign.training.calibration`);
            for ``image->concept``, also the weights, offset and semantic transfer of the nearest-exemplar
            term (``exemplar_weights``, ``exemplar_offset``, ``exemplar_transfer``).
    """

    model: HeteroAligner
    loss: nn.Module
    split: EdgeSplit
    history: list[dict[str, float]]
    best_epoch: int
    val_metrics: dict[str, float]
    test_metrics: dict[str, float]
    run_dir: Path | None = None
    built: GraphLike | None = None
    model_config: ModelConfig | None = None
    train_config: TrainConfig | None = None
    split_config: SplitConfig | None = None
    run_config: RunConfig | None = None
    channel_scales: dict[str, dict[str, Any]] = field(default_factory=dict)


def graph_edges(built: GraphLike) -> dict[EdgeType, Tensor]:
    """Every edge of a :class:`BuiltGraph` or :class:`TensorGraph` by (forward) edge type."""
    if isinstance(built, BuiltGraph):
        return edge_index_dict(built.graph, built.index)
    return built.edge_index_dict()


def make_split(built: GraphLike, config: SplitConfig, seed: int) -> EdgeSplit:
    """:func:`split_graph` for a :class:`BuiltGraph`, the graph's own ``split`` for a :class:`TensorGraph`."""
    if isinstance(built, BuiltGraph):
        return split_graph(built.graph, config, seed=seed)
    return built.split(config, seed=seed)


def model_edge_types(built: GraphLike) -> list[EdgeType]:
    """Every edge type of the graph and its reverse: the model's message-passing types."""
    types: list[EdgeType] = []
    for edge_type in graph_edges(built):
        types.extend([edge_type, reverse_edge_type(edge_type)])
    return types


def input_groups(built: GraphLike, model_config: ModelConfig) -> dict[NodeType, str]:
    """Node types whose features live in one feature space (same encoder) form one group."""
    return {t: built.spaces.get(t, t) for t in built.features}


def message_passing_data(built: GraphLike, split: EdgeSplit, inference: bool = False) -> Any:
    """``HeteroData`` with all node features and the message-passing edges of
    training, or with ``inference`` every training edge (:meth:`EdgeSplit.inference_edges`)."""
    import graphalign._pyg  # noqa: F401  (before PyG: imports it without its FutureWarning)

    # isort: split
    from torch_geometric.data import HeteroData

    data = HeteroData()
    for node_type, x in built.features.items():
        data[node_type].x = x
    edges = split.inference_edges() if inference else split.message_passing_edges()
    for edge_type, edge_index in edges.items():
        data[edge_type].edge_index = edge_index
    return data


@torch.no_grad()
def embed_nodes(
    model: HeteroAligner, built: GraphLike, split: EdgeSplit, *, data: Any = None, **forward_kwargs: Any
) -> DirectedEmbeddings:
    """Shared-space embedding of every node, computed with every training edge.

    The model runs in eval mode on ``message_passing_data(built, split, inference=True)``
    (held-out links stay hidden; :meth:`EdgeSplit.inference_edges`), with the
    features in float32: what evaluation, trained runs and queries embed with.

    Example:
        >>> z = embed_nodes(result.model, result.built, result.split)  # doctest: +SKIP
        >>> z["image"].shape  # doctest: +SKIP
        torch.Size([298, 1792])

    Args:
        model: The trained model (switched to eval mode).
        built: The graph it was trained on.
        split: Its edge split.
        data: That ``HeteroData`` already on the model's device, to reuse across
            calls (``None``: built from ``built`` and ``split``).
        **forward_kwargs: Passed on to the model's ``forward`` (e.g. ``with_channels``).

    Returns:
        Embeddings per node type, on the CPU, with the model's per-direction views
        (:class:`~graphalign.nn.directions.DirectedEmbeddings`).

    Shapes:
        Every ``z[t]`` is ``(num_nodes[t], out_dim)``.
    """
    if data is None:
        parameter = next(model.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        data = message_passing_data(built, split, inference=True).to(device)
    model.eval()
    x_dict = {t: x.float() for t, x in data.x_dict.items()}  # features stored in half precision
    z = model(x_dict, data.edge_index_dict, **forward_kwargs)  # {t: (N_t, out_dim)}
    if not forward_kwargs.get("readouts", True):
        return directed_embeddings({t: v.cpu() for t, v in z.items()}, {}, split)
    # the exemplar term keeps the features as stored (half precision), not a float copy
    return directed_embeddings(
        {t: v.cpu() for t, v in z.items()}, model.direction_multipliers(), split, model, data.x_dict
    )


def directed_embeddings(
    z: Mapping[NodeType, Tensor],
    multipliers: Mapping[Direction, Tensor],
    split: EdgeSplit,
    model: HeteroAligner | None = None,
    features: Mapping[NodeType, Tensor] | None = None,
) -> DirectedEmbeddings:
    """``z`` with the views of each direction (:mod:`graphalign.nn.directions`): the model's multipliers and
    which candidates ``split``'s training links link to the query's type; with ``model`` and the graph's
    input ``features``, also the model's exemplar term (:mod:`graphalign.nn.exemplars`).

    Shapes:
        - z[t]: ``(num_nodes[t], dim)``
        - multipliers[d]: ``(2, dim)``
    """
    with_term = model is not None and features is not None and model.exemplars is not None and model.exemplars.active
    edges = split.inference_edges(add_reverse=False) if multipliers or with_term else {}  # merged once
    term = exemplar_term(model, features, split, edges=edges) if with_term else None  # type: ignore[arg-type]
    linked = {(q, c): split.linked(q, c, z[c].size(0), edges) for q, c in multipliers if c in z}
    terms = {EXEMPLAR_DIRECTION: term} if term is not None else {}
    return DirectedEmbeddings(z, multipliers, linked, terms)


class _EdgeTypeCycler:
    """Endless shuffled batches of one edge type's supervision pairs."""

    def __init__(self, edges: Tensor, batch_size: int, generator: torch.Generator) -> None:
        self.edges, self.batch_size, self.generator = edges, batch_size, generator
        self._order = torch.empty(0, dtype=torch.long)
        self._position = 0

    def state(self) -> Tensor:
        """The permutation in use, with the position appended (for checkpoints)."""
        return torch.cat([self._order, torch.tensor([self._position])])

    def set_state(self, state: Tensor) -> None:
        self._order, self._position = state[:-1].clone(), int(state[-1])

    def next_index(self) -> Tensor:
        """Positions of the next batch in :attr:`edges` (a new permutation after each pass)."""
        if self._position >= self._order.numel():
            self._order = torch.randperm(self.edges.size(1), generator=self.generator)
            self._position = 0
        chosen = self._order[self._position : self._position + self.batch_size]  # (B,)
        self._position += self.batch_size
        return chosen

    def next(self) -> Tensor:
        """The next batch of pairs, ``(2, B)`` global rows."""
        return self.edges[:, self.next_index()]


def _default_channel_name(channel: ChannelConfig) -> str | None:
    """The name of ``channel`` where it is one of the default model's (whatever source types the graph
    has of it), else ``None``."""
    defaults = next(spec["channels"] for spec in DEFAULT_READOUTS if spec["name"] == "channels")
    for name, spec in zip(DEFAULT_CHANNEL_NAMES, defaults):
        default = ChannelConfig.from_dict(spec)
        ours, theirs = asdict(channel), asdict(default)
        for key in ("sources", "feature_slice"):  # the graph's source types; "shared" made concrete
            ours.pop(key), theirs.pop(key)
        if ours == theirs:
            return name
    return None


def _warn_missing_relations(model: HeteroAligner, edge_types: Sequence[EdgeType]) -> None:
    """Logs the graph channels that name relations the graph lacks: a warning where it has none of a
    channel's relations (the channel then spreads nowhere), an info line where it has some, or where the
    channel is one of the default model's (the default names relations that not every graph has, such as
    the ImageNet → WordNet ``predicted_as`` edges)."""
    readout = model.readouts["channels"] if "channels" in model.readouts else None
    channels = readout.graph_channels.channels if isinstance(readout, ChannelsReadout) else []
    configured = readout.graph_channels.configured if isinstance(readout, ChannelsReadout) else []
    present = ", ".join(sorted({forward_relation(edge_type[1]) for edge_type in edge_types}))
    for i, absent, none in absent_relations(channels, edge_types):
        name = _default_channel_name(channels[i])
        label = (
            f"the {name} channel" if name else f"graph channel {configured[i] + 1} ({'+'.join(channels[i].sources)})"
        )
        (logger.warning if none and name is None else logger.info)(
            "%s reads %s edges, which this graph lacks (its relations: %s)", label, ", ".join(absent), present
        )


class _Trainer:
    """Holds the state of one training run (used by :func:`fit`)."""

    def __init__(
        self,
        built: GraphLike,
        split: EdgeSplit,
        model_config: ModelConfig,
        config: TrainConfig,
        context: DistributedContext | None = None,
        *,
        run: RunConfig | None = None,
        supervise: list[str] | None = None,
    ) -> None:
        self.built, self.split, self.config, self.context = built, split, config, context
        self.device = context.device if context is not None else resolve_device((run or RunConfig()).device)
        torch.manual_seed(config.seed)
        self.generator = torch.Generator().manual_seed(config.seed)
        data = message_passing_data(built, split)
        self.model = HeteroAligner(
            built.feature_dims, model_edge_types(built), model_config, input_groups=input_groups(built, model_config)
        ).to(self.device)
        _warn_missing_relations(self.model, data.edge_types)
        self.sampling: FullSampling = resolve_sampling(config.sampling, data.num_edges, self._passes_messages())
        if config.sampler["name"] == "auto":
            steps = "neighbour-sampled steps" if self.sampling.samples_neighbors else "whole-graph steps"
            steps = steps if self._passes_messages() else "row steps: the model passes no messages in training"
            logger.info("sampler auto: %s (%d message-passing edges)", steps, data.num_edges)
        if not self.sampling.samples_neighbors:  # features stored in half precision are computed in float32
            for node_type in data.node_types:
                data[node_type].x = data[node_type].x.float()
        self.data = data.to(self.device)
        self.propagated: dict[NodeType, Tensor] = {}
        if self.model.propagation is not None:  # computed once: every step reads rows of it
            x_dict = {t: x.float() for t, x in self.data.x_dict.items()}
            self.model.propagation.fit(x_dict, seed=config.seed)
            self.propagated = self.model.propagation(x_dict, self.data.edge_index_dict)
        self.loss_fn = build_loss(config.loss, config.loss_kwargs).to(self.device)
        if context is not None:
            context.broadcast_parameters([self.model, self.loss_fn])
        params = list(self.model.parameters()) + list(self.loss_fn.parameters())
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        self.evaluator = LinkEvaluator(graph_edges(built), split)
        self.supervised = {et: e for et, e in split.edges["supervision"].items() if e.size(1) > 0}
        if supervise is not None:
            available = sorted({et[1] for et in self.supervised})
            missing = [relation for relation in supervise if relation not in available]
            if missing:
                raise GraphValidationError(
                    f"SplitConfig.supervise names {', '.join(map(repr, missing))}, with no supervision edges in "
                    f"this graph; relations with supervision edges: {', '.join(available) or 'none'}"
                )
            self.supervised = {et: e for et, e in self.supervised.items() if et[1] in supervise}
        if not self.supervised:
            raise GraphValidationError("no supervision edges: every aligned edge was held out")
        largest = max(e.size(1) for e in self.supervised.values())
        self.steps_per_epoch = math.ceil(largest / config.batch_size)
        if self.sampling.steps_per_epoch is not None:
            self.steps_per_epoch = max(1, min(self.steps_per_epoch, self.sampling.steps_per_epoch))
        self.cyclers = {et: _EdgeTypeCycler(e, config.batch_size, self.generator) for et, e in self.supervised.items()}
        self.sampler = None
        self.loaders: dict[EdgeType, Any] = {}
        if self.sampling.samples_neighbors:
            self._make_loaders(message_passing_data(built, split) if self.device.type != "cpu" else self.data)

    def _make_loaders(self, graph: Any) -> None:
        """One sampler, and one ``LinkNeighborLoader`` per aligned edge type over all its
        supervision pairs, built once; each step calls a loader with its batch's positions."""
        import graphalign._pyg  # noqa: F401  (before PyG: imports it without its FutureWarning)

        # isort: split
        from torch_geometric.loader import LinkNeighborLoader

        from graphalign.training.sampling import make_neighbor_sampler

        rank = self.context.rank if self.context is not None else 0
        num_neighbors = self.sampling.num_neighbors  # type: ignore[attr-defined]  (NeighborSampling)
        self.sampler = make_neighbor_sampler(graph, num_neighbors, seed=self.config.seed + _RANK_SEED_STRIDE * rank)
        for edge_type, edges in self.supervised.items():
            self.loaders[edge_type] = LinkNeighborLoader(
                graph,
                num_neighbors=num_neighbors,
                edge_label_index=(edge_type, edges),
                neighbor_sampler=self.sampler,
                neg_sampling=None,
                filter_per_worker=False,
            )

    # ------------------------------------------------------------------ state
    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.model, "loss": self.loss_fn}

    def rng_state(self) -> dict[str, Tensor]:
        """Every random state a resumed run needs (a collective call in distributed mode)."""
        state = {"torch": torch.get_rng_state(), "shuffle": self.generator.get_state()}
        for index, cycler in enumerate(self.cyclers.values()):
            state[f"cycler{index}"] = cycler.state()
        sampler_generator = getattr(self.sampler, "generator", None)
        if isinstance(sampler_generator, torch.Generator):
            state["sampler"] = sampler_generator.get_state()
        if self.context is not None:  # the per-rank streams: global RNG (dropout) and sampler
            for key in ("torch", "sampler"):
                if key in state:
                    for rank, rank_state in enumerate(self.context.all_gather_states(state[key])):
                        state[f"{key}.rank{rank}"] = rank_state
        return state

    def set_rng_state(self, state: dict[str, Tensor]) -> None:
        rank = self.context.rank if self.context is not None else 0
        torch.set_rng_state(state.get(f"torch.rank{rank}", state["torch"]))
        self.generator.set_state(state["shuffle"])
        for index, cycler in enumerate(self.cyclers.values()):
            if f"cycler{index}" in state:
                cycler.set_state(state[f"cycler{index}"])
        sampler_generator = getattr(self.sampler, "generator", None)
        sampler_state = state.get(f"sampler.rank{rank}", state.get("sampler"))
        if sampler_state is not None and isinstance(sampler_generator, torch.Generator):
            sampler_generator.set_state(sampler_state)

    # ------------------------------------------------------------------ steps
    def _negative_draw(self) -> Tensor | None:
        """The uniform floats that pick ``negatives = k > 0`` random candidates."""
        # Uniform floats, not randint: the stream advances by k whatever the
        # number of candidates, so distributed ranks stay in step.
        k = self.config.negatives
        return torch.rand(k, generator=self.generator) if k > 0 else None

    def _pair_loss(
        self,
        z_src: Tensor,
        z_dst: Tensor,
        pairs_local: Tensor,
        ids: Tensor,
        dst_ids: Tensor,
        shared_graph: bool,
        draw: Tensor | None = None,
    ) -> Tensor:
        """Loss of one edge type's batch.

        ``pairs_local`` index ``z_src``/``z_dst``; ``ids`` are the pairs' global rows
        and ``dst_ids`` the global row of every ``z_dst`` entry (for masking). In
        distributed training the pairs are this rank's shard: the pairs (and
        sampled negatives) of all ranks are gathered so that every rank computes
        the loss of the whole global batch. ``shared_graph``: ``z_dst`` is the
        same on every rank (full mode), so its negatives are too. ``draw``: the
        :meth:`_negative_draw` of this batch, if it was drawn already.
        """
        anchor, positive = z_src[pairs_local[0]], z_dst[pairs_local[1]]  # (B, d) each
        negatives = negative_ids = None
        k = self.config.negatives
        if k == -1:
            negatives, negative_ids = z_dst, dst_ids
        elif k > 0:
            draw = self._negative_draw() if draw is None else draw
            if z_dst.size(0) == 0:
                negatives, negative_ids = z_dst, dst_ids
            else:
                pick = (draw * z_dst.size(0)).long().clamp_(max=z_dst.size(0) - 1).to(z_dst.device)
                negatives, negative_ids = z_dst[pick], dst_ids[pick]
        if self.context is not None:
            d = anchor.size(1)
            both = self.context.all_gather(torch.cat([anchor, positive], dim=1))  # (B_global, 2d)
            anchor, positive = both[:, :d], both[:, d:]
            ids = self.context.all_gather(ids, dim=1)  # (2, B_global)
            if negatives is not None and shared_graph:
                negatives = self.context.replicated(negatives)
            elif negatives is not None:
                negatives = self.context.all_gather(negatives)
                negative_ids = self.context.all_gather(negative_ids)
        return self.loss_fn(
            anchor, positive, negatives, anchor_ids=ids[0], positive_ids=ids[1], negative_ids=negative_ids
        )

    def _isolation_draw(self) -> dict[NodeType, Tensor]:
        """Which nodes (by global row) to cut off at this step, per isolated node type."""
        p = self.sampling.isolate_nodes
        cut: dict[NodeType, Tensor] = {}
        if p == 0.0:
            return cut
        for node_type in self.sampling.isolate_types:
            if node_type in self.built.features:
                count = self.built.features[node_type].size(0)
                cut[node_type] = (torch.rand(count, generator=self.generator) < p).to(self.device)
        return cut

    def _isolate(
        self,
        edge_index_dict: dict[EdgeType, Tensor],
        n_id: dict[NodeType, Tensor] | None = None,
        cut: dict[NodeType, Tensor] | None = None,
    ) -> dict[EdgeType, Tensor]:
        """Drops every edge of a random ``isolate_nodes`` fraction of nodes (by global row).

        Label-free edges (:data:`~graphalign.features.augment.LABEL_FREE_RELATIONS`,
        e.g. kNN edges) stay: held-out and new nodes keep theirs at test time too.
        """
        if self.sampling.isolate_nodes == 0.0:
            return edge_index_dict
        cut = self._isolation_draw() if cut is None else cut
        out = {}
        for edge_type, edge_index in edge_index_dict.items():
            if forward_relation(edge_type[1]) in LABEL_FREE_RELATIONS:
                out[edge_type] = edge_index
                continue
            keep = torch.ones(edge_index.size(1), dtype=torch.bool, device=edge_index.device)
            for side, node_type in ((0, edge_type[0]), (1, edge_type[2])):
                if node_type in cut:
                    rows = edge_index[side] if n_id is None else n_id[node_type][edge_index[side]]
                    keep &= ~cut[node_type][rows]
            out[edge_type] = edge_index[:, keep]
        return out

    @staticmethod
    def _inputs(x_dict: dict[NodeType, Tensor]) -> dict[NodeType, Tensor]:
        """Features in float32 (storage may be half precision)."""
        return {t: x.float() for t, x in x_dict.items()}

    def _backward(self, loss: Tensor, epoch: int) -> None:
        if not torch.isfinite(loss):
            raise GraphValidationError(f"epoch {epoch}: the loss became {loss.item()}; lower the learning rate")
        if loss.requires_grad:  # a rank without pairs and a loss without parameters has nothing to differentiate
            loss.backward()

    def _passes_messages(self) -> bool:
        """Whether the model's training output depends on edges (layers, or channels in the loss)."""
        readout = self.model.readouts["channels"] if "channels" in self.model.readouts else None
        channels = readout.graph_channels if readout is not None else None
        in_loss = channels is not None and any(channels.channels[i].hops > 0 for i in channels.in_loss)
        return len(self.model.convs) > 0 or in_loss

    def _rows_step(self, epoch: int) -> Tensor:
        """A full step for a model without message passing (two towers): it embeds only
        the rows the loss reads (the batch, and all candidates of the target type when
        negatives are drawn from them), with the same loss as :meth:`_full_step`."""
        cut = self._isolation_draw()  # the random stream of a full step; cuts propagated features off
        drawn, draws = {}, {}
        for edge_type, cycler in self.cyclers.items():  # in the order of a full step's random draws
            pairs = cycler.next().to(self.device)  # (2, B) global rows
            drawn[edge_type] = self.context.shard(pairs) if self.context is not None else pairs
            draws[edge_type] = self._negative_draw()
        rows: dict[NodeType, list[Tensor]] = {}
        for (src, _, dst), pairs in drawn.items():
            rows.setdefault(src, []).append(pairs[0])
            if self.config.negatives != 0:
                rows.setdefault(dst, []).append(torch.arange(self.data[dst].num_nodes, device=self.device))
            else:
                rows.setdefault(dst, []).append(pairs[1])
        needed = {t: torch.unique(torch.cat(r)) for t, r in rows.items()}  # (N_t,) sorted global rows
        z = self.model(
            {t: self.data[t].x[r].float() for t, r in needed.items()},
            {},
            propagated=self._propagated_rows(needed, cut) if self.propagated else None,
        )
        losses = []
        for edge_type, pairs in drawn.items():
            src, _, dst = edge_type
            local = torch.stack([torch.searchsorted(needed[src], pairs[0]), torch.searchsorted(needed[dst], pairs[1])])
            losses.append(
                self._pair_loss(z[src], z[dst], local, pairs, needed[dst], shared_graph=True, draw=draws[edge_type])
            )
        loss = torch.stack(losses).mean()
        self._backward(loss, epoch)
        return loss.detach()

    def _propagated_rows(
        self, rows: Mapping[NodeType, Tensor], cut: Mapping[NodeType, Tensor] | None = None
    ) -> dict[NodeType, Tensor]:
        """The propagated features of ``rows`` (global rows per type); zeros for the nodes cut off at this step."""
        out = {}
        for node_type, index in rows.items():
            features = self.propagated[node_type][index]
            if cut and node_type in cut:
                features = features * (~cut[node_type][index]).unsqueeze(1)
            out[node_type] = features
        return out

    def _full_step(self, epoch: int) -> Tensor:
        """One forward over the whole graph, the mean loss over edge types, its backward."""
        if not self._passes_messages():
            return self._rows_step(epoch)
        cut = self._isolation_draw()
        propagated = None
        if self.propagated:
            everything = {t: torch.arange(x.size(0), device=self.device) for t, x in self.data.x_dict.items()}
            propagated = self._propagated_rows(everything, cut)
        z = self.model(self.data.x_dict, self._isolate(self.data.edge_index_dict, cut=cut), propagated=propagated)
        losses = []
        for edge_type, cycler in self.cyclers.items():
            pairs = cycler.next().to(self.device)  # (2, B) global rows
            if self.context is not None:
                pairs = self.context.shard(pairs)  # this rank's rows of the global batch
            src, _, dst = edge_type
            dst_ids = torch.arange(z[dst].size(0), device=self.device)
            losses.append(self._pair_loss(z[src], z[dst], pairs, pairs, dst_ids, shared_graph=True))
        loss = torch.stack(losses).mean()
        self._backward(loss, epoch)
        return loss.detach()

    def _minibatch_step(self, epoch: int) -> Tensor:
        """One sampled subgraph per edge type; the gradient of the mean loss is accumulated
        edge type by edge type, so only one subgraph's activations are alive at a time."""
        total = torch.zeros((), device=self.device)
        share = 1.0 / len(self.cyclers)
        for edge_type, cycler in self.cyclers.items():
            index = cycler.next_index()  # (B,) positions among the supervision pairs
            if self.context is not None:
                index = self.context.shard(index)
            cut = self._isolation_draw()
            src, _, dst = edge_type
            if index.numel() == 0:  # a short last batch can leave a rank without pairs
                empty = torch.zeros(0, self.model.train_out_dim, device=self.device)
                no_ids = torch.zeros(2, 0, dtype=torch.long, device=self.device)
                loss = self._pair_loss(empty, empty, no_ids, no_ids, no_ids[0], shared_graph=False)
            else:
                batch = self.loaders[edge_type](index).to(self.device)
                propagated = self._propagated_rows(batch.n_id_dict, cut) if self.propagated else None
                z = self.model(
                    self._inputs(batch.x_dict),
                    self._isolate(batch.edge_index_dict, batch.n_id_dict, cut),
                    propagated=propagated,
                )
                local = batch[edge_type].edge_label_index  # (2, B) local rows
                ids = torch.stack([batch[src].n_id[local[0]], batch[dst].n_id[local[1]]])
                loss = self._pair_loss(z[src], z[dst], local, ids, batch[dst].n_id, shared_graph=False)
            self._backward(loss * share, epoch)
            total += loss.detach() * share
        return total

    def train_epoch(self, epoch: int) -> float:
        self.model.train()
        step = self._minibatch_step if self.sampling.samples_neighbors else self._full_step
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        total = 0.0
        for _ in range(self.steps_per_epoch):
            self.optimizer.zero_grad(set_to_none=True)
            loss = step(epoch)  # forward and backward
            if self.context is not None:
                self.context.all_reduce_gradients(self.model.parameters(), self.loss_fn.parameters())
            if self.config.grad_clip:
                nn.utils.clip_grad_norm_(params, self.config.grad_clip)
            self.optimizer.step()
            total += float(loss)
        return total / self.steps_per_epoch

    @cached_property
    def inference_data(self) -> Any:
        """The graph of evaluation on the device: the node features already there, every training edge."""
        data = message_passing_data(self.built, self.split, inference=True)
        for node_type in data.node_types:
            data[node_type].x = self.data[node_type].x
        return data.to(self.device)

    @cached_property
    def inference_propagated(self) -> dict[NodeType, Tensor] | None:
        """The propagated features of evaluation (over every training edge), computed once."""
        propagation = self.model.propagation
        if propagation is None:
            return None
        data = self.inference_data
        return propagation({t: x.float() for t, x in data.x_dict.items()}, data.edge_index_dict)

    def embed(self) -> DirectedEmbeddings:
        """Every node's embedding with every training edge (:func:`embed_nodes`)."""
        return embed_nodes(
            self.model, self.built, self.split, data=self.inference_data, propagated=self.inference_propagated
        )

    def evaluate(self, part: str) -> dict[str, float]:
        return self.evaluator.evaluate(self.embed(), part=part)

    def final_metrics(
        self, parts: list[str], stored: Mapping[NodeType, Tensor] | None = None
    ) -> list[dict[str, float]]:
        """Metrics of the current weights on each of ``parts`` from one embedding of the graph: ``stored``
        (the embeddings :meth:`calibrate` read; the scales are views of them) or a new one."""
        z = (
            self.embed()
            if stored is None
            else directed_embeddings(
                stored, self.model.direction_multipliers(), self.split, self.model, self.inference_data.x_dict
            )
        )
        return [self.evaluator.evaluate(z, part=part) for part in parts]

    def calibrate(self) -> tuple[dict[str, dict[str, Any]], dict[NodeType, Tensor]]:
        """Fits the per-direction channel scales on the validation links (:mod:`graphalign.training.calibration`).

        Returns:
            The scales per direction with the validation MRR before and after, and the stored embeddings
            (every scale 1) they were fitted on.
        """
        reset_calibration(self.model)  # the stored embeddings are those with every scale 1, without the term
        z = self.embed()
        return {
            f"{fit.direction[0]}->{fit.direction[1]}": {
                "scales": list(fit.scales),
                "new_scales": list(fit.new_scales),
                "val_mrr_before": fit.before,
                "val_mrr_after": fit.after,
                **(
                    {
                        "exemplar_weights": list(fit.exemplar_weights),
                        "exemplar_offset": fit.exemplar_offset,
                        "exemplar_transfer": fit.exemplar_transfer,
                    }
                    if fit.exemplar_weights
                    else {}
                ),
            }
            for fit in fit_direction_scales(
                self.model, z, self.evaluator, part="val", features=self.inference_data.x_dict
            )
        }, dict(z)


def _has_edges(split: EdgeSplit, part: str) -> bool:
    return any(e.size(1) for e in split.edges[part].values())


@contextlib.contextmanager
def deterministic_algorithms(enabled: bool) -> Iterator[None]:
    """Turns on ``torch.use_deterministic_algorithms`` (``warn_only``) inside the block, if ``enabled``."""
    if not enabled:
        yield
        return
    previous, previous_warn_only = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=previous_warn_only)


def fit(
    built: GraphLike,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    split_config: SplitConfig | None = None,
    run_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    split: EdgeSplit | None = None,
    overwrite: bool = False,
    run: RunConfig | None = None,
) -> TrainResult:
    """Trains a :class:`HeteroAligner` on a built graph and evaluates it.

    Aligned edges are split without leakage (see :mod:`graphalign.data.split`);
    the model is trained with the contrastive loss on supervision edges, early
    stopped on validation MRR, and the best weights are evaluated on the test
    edges. With ``run_dir``, the run is saved there (configs, graph, split,
    best weights, a checkpoint every epoch, metrics).

    Under ``torchrun`` (or ``RunConfig.distributed=True``) training is data-parallel
    (:mod:`graphalign.training.distributed`): every rank calls :func:`fit` with the same
    arguments; rank 0 alone writes ``run_dir`` and evaluates; every rank returns the same
    result, and with ``resume`` reads the run folder (on a file system all of them see).

    Example:
        >>> built, _ = build_graph("tuxpaint_small")  # doctest: +SKIP
        >>> result = fit(built, run_dir="runs/demo")  # the best preset  # doctest: +SKIP
        >>> result.test_metrics["image->concept/mrr"]  # doctest: +SKIP
        0.42
        >>> fit(built, ModelConfig(conv="rgcn"), TrainConfig(epochs=20))  # its parts changed  # doctest: +SKIP

    Args:
        built: The graph with initial features: a :class:`BuiltGraph`, or a
            :class:`TensorGraph` such as a synthetic graph.
        model_config: Model hyper-parameters (default: the ``best`` preset's,
            :mod:`graphalign.presets`). Each config may also be a dict of its fields.
        train_config: Optimisation settings, seed included (default ``TrainConfig()``).
        split_config: How edges are split.
        run_dir: Where to save the run (optional): a new or empty folder, or
            graphalign's own run folder with ``overwrite`` or ``resume``.
        resume: Continue from ``run_dir``'s last checkpoint, if there is one; the
            configs and split are then read from the run folder, and ``built``
            must be the graph the run was started on.
        split: A ready-made :class:`EdgeSplit` (a benchmark protocol) instead of ``split_config``'s.
        overwrite: Replace graphalign's own run folder at ``run_dir``. A folder
            holding anything graphalign did not write is refused even then.
        run: Runtime settings (device, progress bar, distributed, deterministic).
            On resume, its device, progress bar and distributed setting replace the
            run's own (``None``: the run's own); ``train_config`` may raise the epochs.

    Returns:
        The trained model (best validation epoch), split, history and metrics.

    Raises:
        OutputError: If ``run_dir`` may not be written (checked before training;
            see :func:`graphalign.outputs.check_output_dir`).
        CheckpointError: If ``resume`` finds a run of another graph, or a broken run.
        ConfigError: On a ``built`` that is not a built graph (a path, a ``KnowledgeGraph``,
            a ``HeteroData``), a config of another type, or ``resume`` without ``run_dir``.
    """
    configs = _checked_arguments(built, (model_config, train_config, split_config, run), resume and run_dir is None)
    model_config, train_config, split_config, run = configs
    run_path = Path(run_dir) if run_dir is not None else None
    if run_path is not None:  # a resume continues graphalign's own run, so it may write there
        ckpt.check_run_output(run_path, overwrite=overwrite, resume=resume)
    resuming = bool(resume and run_path is not None and (run_path / ckpt.CHECKPOINT_FILE).is_file())
    given = split is not None
    if resuming:
        assert run_path is not None
        model_config, train_config, split_config, run, split = _resumed_setup(run_path, built, configs)
    else:
        model_config = model_config or ModelConfig()
        train_config = train_config or TrainConfig()
        split_config = split_config or SplitConfig()
        run = run or RunConfig()
        split = split if split is not None else make_split(built, split_config, train_config.seed)
    with deterministic_algorithms(run.deterministic):  # the resolved config (a resumed run keeps its own)
        loop = _FitLoop(built, split, model_config, train_config, split_config, run_path, run)
        loop.split_made = resuming or not given
        return loop.run(resuming)


def _checked_arguments(
    built: object, configs: tuple[Any, Any, Any, Any], resume_without_folder: bool
) -> tuple[ModelConfig | None, TrainConfig | None, SplitConfig | None, RunConfig | None]:
    """:func:`fit`'s graph checked, and its model, train, split and run configs as their classes.

    Raises:
        ConfigError: See :func:`fit`.
    """
    _check_graph_argument(built)
    if resume_without_folder:
        raise ConfigError("resume=True continues a saved run: pass its folder as run_dir")
    model, train, split, run = configs
    return (
        _config_argument("model_config", model, ModelConfig),
        _config_argument("train_config", train, TrainConfig),
        _config_argument("split_config", split, SplitConfig),
        _config_argument("run", run, RunConfig),
    )


def _check_graph_argument(built: object) -> None:
    """Refuses, with the call that makes one, what :func:`fit` cannot train on.

    Raises:
        ConfigError: On a path, a :class:`~graphalign.graph.KnowledgeGraph`, a PyG
            ``HeteroData`` or anything else that is not a built graph.
    """
    if isinstance(built, (BuiltGraph, TensorGraph)):
        return
    if isinstance(built, (str, os.PathLike)):
        hint = (
            f"load a built graph folder with ga.BuiltGraph.load({os.fspath(built)!r}), or build a dataset "
            f"folder with built, _ = ga.build_graph({os.fspath(built)!r})"
        )
    elif isinstance(built, KnowledgeGraph):
        hint = "give its nodes features first: built, _ = ga.build_graph(kg)"
    elif type(built).__name__ == "HeteroData":
        hint = (
            "a PyG HeteroData has no node ids or encoder spaces; build the graph with ga.build_graph, "
            "whose result holds one as .hetero_data"
        )
    else:
        hint = "build one with ga.build_graph"
    raise ConfigError(f"fit() trains on a built graph (BuiltGraph), got {type(built).__name__}: {hint}")


def _config_argument(name: str, value: Any, cls: type) -> Any:
    """``value`` as a ``cls``: itself, ``None`` (the default), or a dict of its fields (checked by ``from_dict``).

    Raises:
        ConfigError: On another type, e.g. a :class:`TrainConfig` given as ``model_config``.
    """
    if value is None or isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        return cls.from_dict(dict(value))
    slots = {ModelConfig: "model_config", TrainConfig: "train_config", SplitConfig: "split_config", RunConfig: "run"}
    where = f"; pass it as {slots[type(value)]}=" if type(value) in slots else ""
    raise ConfigError(f"{name} must be a {cls.__name__} (or a dict of its fields), got {type(value).__name__}{where}")


def _warn_kept_settings(run_path: Path, saved: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    """Warns of each setting given to a resumed :func:`fit` that differs from the run's own, which it keeps
    (``train_config.epochs`` alone is taken). A field left at its default counts as not given."""
    differ = []
    for key, config in given.items():
        if config is None:
            continue
        own = saved.get(key, {})
        default = json.loads(json.dumps(type(config)().to_dict()))  # a field at its default was not set
        for field_name, value in json.loads(json.dumps(config.to_dict())).items():
            if key == "train" and field_name == "epochs":
                continue
            if field_name in own and own[field_name] != value and value != default.get(field_name):
                differ.append(f"{key}.{field_name}={value!r} (the run's: {own[field_name]!r})")
    if differ:
        logger.warning(
            "%s: resuming keeps the run's own settings, so these given ones are not used: %s",
            run_path,
            "; ".join(differ),
        )


def _resumed_setup(
    run_path: Path, built: GraphLike, configs: tuple[Any, Any, Any, Any]
) -> tuple[ModelConfig, TrainConfig, SplitConfig, RunConfig, EdgeSplit]:
    """The configs and split of the run being resumed (``built`` must be its graph; ``configs``: the
    model, train, split and run configs given to :func:`fit`; a warning names those the run keeps)."""
    model_given, train_config, split_given, run = configs
    saved = upgrade_run_json(ckpt.read_run_config(run_path))
    _check_same_graph(run_path, saved, built)
    _warn_kept_settings(run_path, saved, {"model": model_given, "train": train_config, "split": split_given})
    model_config = ModelConfig.from_dict(saved["model"])
    epochs = {"epochs": train_config.epochs} if train_config is not None else {}
    resumed_train = TrainConfig.from_dict({**saved["train"], **epochs})
    resumed_run = RunConfig.from_dict({**saved["run"], **_overrides(run)})
    split_config = SplitConfig.from_dict(saved["split"])
    return model_config, resumed_train, split_config, resumed_run, _load_split(run_path, saved)


@dataclass
class _BestEpoch:
    """Early-stopping state: the best validation epoch so far, and the evaluations since.

    Checkpoints store it as the JSON object ``{"epoch", "mrr", "bad"}``.
    """

    epoch: int = -1
    """The epoch of the best weights (-1: none yet; 0: the untrained model)."""
    mrr: float = -1.0
    """Its validation MRR."""
    bad: int = 0
    """Evaluations since without a better validation MRR."""

    def update(self, epoch: int, mrr: float) -> bool:
        """Records a validation MRR; ``True`` if it is a new best (its weights are then to be kept)."""
        if mrr > self.mrr:
            self.epoch, self.mrr, self.bad = epoch, mrr, 0
            return True
        self.bad += 1
        return False

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "mrr": self.mrr, "bad": self.bad}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> _BestEpoch:
        return cls(epoch=state["epoch"], mrr=state["mrr"], bad=state["bad"])


class _FitLoop:
    """:func:`fit` once its configs and split are settled: epochs, validation and early
    stopping, checkpoints, the best weights and the final evaluation.

    In distributed training every rank runs it; rank 0 alone evaluates (the
    others receive its metrics) and writes the run folder.
    """

    def __init__(
        self,
        built: GraphLike,
        split: EdgeSplit,
        model_config: ModelConfig,
        train_config: TrainConfig,
        split_config: SplitConfig,
        run_path: Path | None,
        run: RunConfig,
    ) -> None:
        self.built, self.split, self.run_path = built, split, run_path
        self.model_config, self.config, self.split_config = model_config, train_config, split_config
        self.split_made = True  # made with split_config here (False: given ready-made)
        self.run_settings = run
        self.context: DistributedContext | None = None
        if resolve_distributed(run.distributed):
            from graphalign.training.distributed import setup_distributed

            self.context = setup_distributed(run.device)
        self.is_main = self.context is None or self.context.is_main
        self.writes = run_path is not None and self.is_main  # only rank 0 writes the run folder
        self.checkpoint_path = run_path / ckpt.CHECKPOINT_FILE if run_path is not None else None
        self.trainer = _Trainer(
            built, split, model_config, train_config, self.context, run=run, supervise=split_config.supervise
        )
        self.has_val = _has_edges(split, "val")
        self.start_epoch = 0
        self.history: list[dict[str, float]] = []
        self.best = _BestEpoch()
        self.best_state: dict[str, dict[str, Tensor]] | None = None  # the best weights in memory, without run_path

    def run(self, resuming: bool) -> TrainResult:
        if resuming:
            self.resume()
        elif self.writes:
            assert self.run_path is not None
            _start_run(
                self.run_path,
                self.built,
                self.split,
                self.model_config,
                self.config,
                self.split_config,
                self.trainer.model,
                self.run_settings,
            )
        if self.is_main:
            _warn_empty_parts(self.split, self.split_config if self.split_made else None)
        if self.has_val and not resuming:
            # Epoch 0: the untrained model is a candidate too (with a pretrained prior it can be strong).
            self.best = _BestEpoch(epoch=0, mrr=self.evaluate("val")["mrr"])
            self.keep_best(0)
        self.train_epochs()
        self.restore_best()
        return self.finish()

    def resume(self) -> None:
        """Weights, optimizer, random streams, history and early-stopping state from the last checkpoint."""
        assert self.checkpoint_path is not None
        restored = ckpt.load_training_checkpoint(self.checkpoint_path, self.trainer.modules(), self.trainer.optimizer)
        self.trainer.set_rng_state(restored.rng)
        self.start_epoch, self.history = restored.state["epoch"], restored.state["history"]
        self.best = _BestEpoch.from_dict(restored.state["best"])
        logger.info("resumed from %s at epoch %d", self.checkpoint_path, self.start_epoch)

    def evaluate(self, part: str) -> dict[str, float]:
        """Rank 0 evaluates; in distributed training the others receive its metrics."""
        metrics = self.trainer.evaluate(part) if self.is_main else {}
        return self.context.broadcast_object(metrics) if self.context is not None else metrics

    def keep_best(self, epoch: int) -> None:
        """Keeps the current weights as the best: in the run folder, or in memory without one."""
        if not self.is_main:  # rank 0 keeps the best weights and sends them to the others at the end
            return
        modules = self.trainer.modules()
        if self.run_path is not None:
            ckpt.save_weights(self.run_path / ckpt.MODEL_FILE, modules, {"epoch": str(epoch)})
        else:
            self.best_state = {
                name: {k: v.detach().clone() for k, v in module.state_dict().items()}
                for name, module in modules.items()
            }

    def out_of_patience(self) -> bool:
        """Whether validation has not improved for ``patience`` evaluations (never without validation links)."""
        return self.has_val and self.best.bad >= self.config.patience

    def train_epochs(self) -> None:
        """Epochs from :attr:`start_epoch` on, until the budget is spent or validation stops improving."""
        config = self.config
        stopped = self.out_of_patience()
        epochs = tqdm(
            range(self.start_epoch, config.epochs),
            desc="epochs",
            unit="epoch",
            disable=not (self.run_settings.progress and self.is_main),
            initial=self.start_epoch,
            total=config.epochs,
        )
        for epoch in epochs:
            if stopped:
                break
            record = self.train_epoch(epoch + 1)
            epochs.set_postfix(loss=f"{record['loss']:.3f}", val_mrr=f"{record.get('val_mrr', float('nan')):.3f}")
            stopped = self.out_of_patience()
            self.save_checkpoint(epoch + 1)
            if stopped and self.is_main:
                epochs.set_description(f"early stop at epoch {epoch + 1}")
        epochs.close()
        if stopped and self.is_main:
            logger.info(
                "early stopping at epoch %d of %d: validation MRR has not improved for %d evaluations; "
                "keeping epoch %d (val MRR %.4f)",
                len(self.history),
                config.epochs,
                config.patience,
                self.best.epoch,
                self.best.mrr,
            )

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """Trains epoch ``epoch`` (from 1), validates if it is due, and records it in the history."""
        started = time.perf_counter()
        loss = self.trainer.train_epoch(epoch)
        record: dict[str, float] = {"epoch": epoch, "loss": loss}
        temperature = getattr(self.trainer.loss_fn, "temperature", None)
        if isinstance(temperature, float):
            record["temperature"] = temperature
        if self.has_val and epoch % self.config.eval_every == 0:
            record["val_mrr"] = self.evaluate("val")["mrr"]
            if self.best.update(epoch, record["val_mrr"]):
                self.keep_best(epoch)
        record["seconds"] = time.perf_counter() - started
        self.history.append(record)
        if self.is_main:
            logger.info(
                "epoch %d/%d loss %.4f%s (%.1fs)",
                epoch,
                self.config.epochs,
                loss,
                f" val mrr {record['val_mrr']:.4f}" if "val_mrr" in record else "",
                record["seconds"],
            )
        return record

    def save_checkpoint(self, epoch: int) -> None:
        """The checkpoint after epoch ``epoch``: weights, optimizer, random streams and the state to resume."""
        if self.run_path is None:
            return
        state = {"epoch": epoch, "history": self.history, "best": self.best.to_dict(), "finished": False}
        rng = self.trainer.rng_state()  # every rank: gathers the per-rank streams
        if self.writes:
            assert self.checkpoint_path is not None
            ckpt.save_training_checkpoint(
                self.checkpoint_path, self.trainer.modules(), self.trainer.optimizer, state, rng
            )

    def restore_best(self) -> None:
        """Back to the best weights (by validation MRR); the last ones if nothing was validated."""
        modules = self.trainer.modules()
        if self.has_val and self.best.epoch >= 0:
            if self.writes:
                assert self.run_path is not None
                ckpt.load_weights(self.run_path / ckpt.MODEL_FILE, modules)
            elif self.best_state is not None:
                for name, module in modules.items():
                    module.load_state_dict(self.best_state[name])
            if self.context is not None:
                self.context.broadcast_parameters(list(modules.values()))
        elif self.writes:
            assert self.run_path is not None
            ckpt.save_weights(self.run_path / ckpt.MODEL_FILE, modules, {"epoch": str(len(self.history))})

    def finish(self) -> TrainResult:
        """Validation and test metrics of the kept weights (and ``metrics.json``), as a :class:`TrainResult`.

        First the per-direction channel scales are fitted on the validation links and saved with the weights.
        """
        channel_scales: dict[str, dict[str, Any]] = {}
        stored = None
        if self.has_val:
            if self.is_main:
                channel_scales, stored = self.trainer.calibrate()
                if self.writes:
                    assert self.run_path is not None
                    metadata = {"epoch": str(self.best.epoch if self.best.epoch >= 0 else len(self.history))}
                    ckpt.save_weights(self.run_path / ckpt.MODEL_FILE, self.trainer.modules(), metadata)
            if self.context is not None:
                self.context.broadcast_parameters(list(self.trainer.modules().values()))
        parts = [part for part, has in (("val", self.has_val), ("test", _has_edges(self.split, "test"))) if has]
        metrics = self.trainer.final_metrics(parts, stored) if self.is_main else []
        if self.context is not None:
            metrics = self.context.broadcast_object(metrics)
        by_part = dict(zip(parts, metrics))
        val_metrics, test_metrics = by_part.get("val", {}), by_part.get("test", {})
        best_epoch = self.best.epoch if self.has_val else len(self.history)
        if self.writes:
            assert self.run_path is not None
            metrics = {
                "best_epoch": best_epoch,
                "val": val_metrics,
                "test": test_metrics,
                "history": self.history,
                "split": self.split.counts(),
                "channel_scales": channel_scales,
            }
            atomic_write_json(self.run_path / ckpt.METRICS_FILE, metrics)
        return TrainResult(
            self.trainer.model,
            self.trainer.loss_fn,
            self.split,
            self.history,
            best_epoch,
            val_metrics,
            test_metrics,
            self.run_path,
            built=self.built,
            model_config=self.model_config,
            train_config=self.config,
            split_config=self.split_config,
            run_config=self.run_settings,
            channel_scales=channel_scales,
        )


def _warn_empty_parts(split: EdgeSplit, config: SplitConfig | None) -> None:
    """Says, before training, which held-out parts are empty and what to change (``config``: the settings
    the split was made with, ``None`` for a split given ready-made)."""
    counts = split.counts()
    if config is None:
        for part, consequence in (("val", "early stopping is off and the last epoch is kept"), ("test", "")):
            if counts[part] == 0:
                logger.warning("the given split has no %s links%s", part, f": {consequence}" if consequence else "")
        return
    if counts["val"] == 0:
        logger.warning(
            "no validation links: the split held out no image or text (val_fraction=%g of %s); early stopping is off "
            "and the last epoch is kept. Add more linked images/texts or raise "
            "SplitConfig.val_fraction (--val-fraction).",
            config.val_fraction,
            "/".join(config.heldout_node_types),
        )
    if counts["test"] == 0:
        logger.warning(
            "no test links: the split held out no image or text (test_fraction=%g), so nothing can be measured on "
            "held-out links and the test metrics stay empty. Add more linked images/texts or raise "
            "SplitConfig.test_fraction (--test-fraction).",
            config.test_fraction,
        )


def _overrides(run: RunConfig | None) -> dict[str, Any]:
    """On resume, the runtime settings of the new call (but ``deterministic``, which the run keeps)."""
    if run is None:
        return {}
    return {"device": run.device, "progress": run.progress, "distributed": run.distributed}


def _start_run(
    run_path: Path,
    built: GraphLike,
    split: EdgeSplit,
    model_config: ModelConfig,
    train_config: TrainConfig,
    split_config: SplitConfig,
    model: HeteroAligner,
    run: RunConfig,
) -> None:
    run_path.mkdir(parents=True, exist_ok=True)
    write_marker(run_path, ckpt.RUN_LAYOUT)  # first: from now on the folder is graphalign's own run
    for stale in (ckpt.CHECKPOINT_FILE, ckpt.MODEL_FILE, ckpt.METRICS_FILE):
        (run_path / stale).unlink(missing_ok=True)
    built.save(run_path / ckpt.GRAPH_SUBDIR, overwrite=True)
    atomic_save_safetensors(run_path / ckpt.SPLIT_FILE, split.to_tensors())
    config = run_config(model, split, model_config, train_config, split_config, run)
    ckpt.write_run_config(run_path, {**config, "graph_fingerprint": graph_fingerprint(built)})


def run_config(
    model: HeteroAligner,
    split: EdgeSplit,
    model_config: ModelConfig,
    train_config: TrainConfig,
    split_config: SplitConfig,
    run: RunConfig | None = None,
) -> dict[str, Any]:
    """What ``run.json`` holds: the configs and the model's shape, enough to rebuild it."""
    return {
        "model": model_config.to_dict(),
        "train": train_config.to_dict(),
        "split": split_config.to_dict(),
        "run": (run or RunConfig()).to_dict(),
        "in_dims": model.in_dims,
        "input_groups": model.input_groups,
        "edge_types": [list(e) for e in model.edge_types],
        "aligned_edge_types": [list(e) for e in split.aligned_edge_types],
    }


def graph_fingerprint(built: GraphLike, node_ids: bool = True) -> str:
    """SHA-256 over a graph's node ids per type, every edge and every feature tensor.

    A run stores it in ``run.json``; resuming refuses a graph with another one.

    Args:
        built: The graph.
        node_ids: Include the node ids of a :class:`BuiltGraph` (a
            :class:`TensorGraph` has none).
    """
    digest = hashlib.sha256()
    if node_ids and isinstance(built, BuiltGraph):
        for node_type in sorted(built.index.ids):
            digest.update(json.dumps([node_type, list(built.index.ids[node_type])]).encode())
    tensors = {f"x.{t}": x for t, x in built.features.items()}
    tensors.update({"edges." + "|".join(e): index for e, index in graph_edges(built).items()})
    digest.update(tensors_digest(tensors).encode())
    return digest.hexdigest()


def _check_same_graph(run_path: Path, saved: dict[str, Any], built: GraphLike) -> None:
    """Refuses to resume a run on a graph other than the one it was started on."""
    expected = saved.get("graph_fingerprint")
    node_ids = True
    if not isinstance(expected, str):  # a run.json without a fingerprint: compare with the run's copy of its graph
        node_ids = isinstance(built, BuiltGraph)
        expected = graph_fingerprint(BuiltGraph.load(run_path / ckpt.GRAPH_SUBDIR), node_ids=node_ids)
    if graph_fingerprint(built, node_ids=node_ids) != expected:
        raise CheckpointError(
            f"{run_path}: this run was trained on another graph (its nodes, edges or features differ); resuming it "
            f"on this one would mix two graphs: train into a new folder, or resume with the run's own graph "
            f"({run_path / ckpt.GRAPH_SUBDIR})"
        )


def _load_split(run_path: Path, saved: dict[str, Any]) -> EdgeSplit:
    flat, _ = read_safetensors(run_path / ckpt.SPLIT_FILE, "split")
    return EdgeSplit.from_tensors(flat, [tuple(e) for e in saved["aligned_edge_types"]])
