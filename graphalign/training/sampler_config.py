"""How training steps see the graph: the ``sampler`` part of :class:`~graphalign.training.trainer.TrainConfig`.

A sampler is chosen by name plus its arguments, as one dict
(``{"name": "neighbor", "num_neighbors": [15, 10]}``), like the readouts of a
:class:`~graphalign.nn.hetero_gnn.ModelConfig`:

* ``full``: one forward over the whole graph per step (:class:`FullSampling`);
* ``neighbor`` (alias ``minibatch``): neighbour-sampled subgraphs around each
  batch of supervision edges, PyG ``LinkNeighborLoader`` (:class:`NeighborSampling`);
* ``auto`` (the default): ``full`` on a small graph, ``neighbor`` on a large
  one, decided from the graph trained on (:class:`AutoSampling`).

Example:
    >>> sampler_spec({"name": "minibatch", "num_neighbors": [5, 5]})["name"]
    'neighbor'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from graphalign.checks import check_choice, check_float, check_int, plain_numbers
from graphalign.errors import ConfigError
from graphalign.registry import Registry
from graphalign.typing import NODE_TYPES

__all__ = [
    "SAMPLERS",
    "FullSampling",
    "NeighborSampling",
    "AutoSampling",
    "sampler_spec",
    "build_sampling",
    "resolve_sampling",
]

SAMPLERS: Registry[Any] = Registry("sampler")
"""How steps see the graph, by name: ``full``, ``neighbor`` (alias ``minibatch``) and ``auto``."""

_WHERE = "TrainConfig.sampler"


@SAMPLERS.register("full")
@dataclass
class FullSampling:
    """One forward over the whole graph per step.

    Example:
        >>> FullSampling(isolate_nodes=0.3).isolate_nodes
        0.3

    Args:
        steps_per_epoch: Optimiser steps per epoch; ``None``: one pass over the
            largest aligned edge type. Cap it on graphs where one edge type dwarfs
            the others (e.g. tens of thousands of translations).
        isolate_nodes: At every step, cut this fraction of the nodes of
            ``isolate_types`` off from message passing (all their edges but label-free kNN ones), so the
            model learns to place nodes that have no edges, as held-out and new
            images and texts are at test time.
        isolate_types: Node types that :attr:`isolate_nodes` applies to.
    """

    steps_per_epoch: int | None = None
    isolate_nodes: float = 0.0
    isolate_types: tuple[str, ...] = ("image", "text")

    samples_neighbors = False
    """Whether steps run on neighbour-sampled subgraphs (else on the whole graph)."""

    def __post_init__(self) -> None:
        plain_numbers(self)  # NumPy scalars as Python numbers (JSON, and the checks below)
        check_int(_WHERE, "steps_per_epoch", self.steps_per_epoch, low=1, optional=True)
        check_float(_WHERE, "isolate_nodes", self.isolate_nodes, low=0.0, high=1.0, high_open=True)
        if isinstance(self.isolate_types, str):
            self.isolate_types = (self.isolate_types,)
        self.isolate_types = tuple(self.isolate_types)
        for node_type in self.isolate_types:
            check_choice(_WHERE, "isolate_types", node_type, NODE_TYPES)


@SAMPLERS.register("neighbor", "minibatch")
@dataclass
class NeighborSampling(FullSampling):
    """Neighbour-sampled subgraphs around each batch of supervision edges (PyG ``LinkNeighborLoader``).

    Example:
        >>> NeighborSampling(num_neighbors=[10, 5]).num_neighbors
        [10, 5]

    Args:
        num_neighbors: Neighbours sampled per hop (-1: all).
        steps_per_epoch: As for :class:`FullSampling`.
        isolate_nodes: As for :class:`FullSampling`.
        isolate_types: As for :class:`FullSampling`.
    """

    num_neighbors: list[int] = field(default_factory=lambda: [15, 10])

    samples_neighbors = True

    def __post_init__(self) -> None:
        super().__post_init__()
        fan_outs = self.num_neighbors
        if isinstance(fan_outs, (str, bytes)) or not isinstance(fan_outs, (list, tuple)) or not fan_outs:
            raise ConfigError(
                f"{_WHERE}.num_neighbors must be a non-empty list (one fan-out per hop), got {fan_outs!r}",
                config=_WHERE,
                key="num_neighbors",
            )
        self.num_neighbors = list(fan_outs)
        for fan_out in self.num_neighbors:
            if isinstance(fan_out, bool) or not isinstance(fan_out, int) or not (fan_out >= 1 or fan_out == -1):
                raise ConfigError(
                    f"{_WHERE}.num_neighbors: each fan-out must be an integer >= 1 or -1 (all), got {fan_out!r}",
                    config=_WHERE,
                    key="num_neighbors",
                )


@SAMPLERS.register("auto")
@dataclass
class AutoSampling(NeighborSampling):
    """Whole-graph steps on a small graph, neighbour-sampled ones on a large one.

    :meth:`resolve` decides from the graph trained on: :class:`FullSampling`
    while its message-passing edges number at most ``max_full_edges`` (a
    whole-graph step then takes well under a second on a CPU), otherwise
    :class:`NeighborSampling` with ``num_neighbors``.

    Example:
        >>> AutoSampling(max_full_edges=100).resolve(1000).num_neighbors
        [10, 5]

    Args:
        num_neighbors: Fan-out per hop when the graph is large.
        max_full_edges: Most message-passing edges for whole-graph steps.
        steps_per_epoch, isolate_nodes, isolate_types: As for :class:`FullSampling`.
    """

    num_neighbors: list[int] = field(default_factory=lambda: [10, 5])
    max_full_edges: int = 20_000

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int(_WHERE, "max_full_edges", self.max_full_edges, low=0)

    def resolve(self, num_edges: int) -> FullSampling:
        """The sampling for a graph with ``num_edges`` message-passing edges."""
        shared = {"steps_per_epoch": self.steps_per_epoch, "isolate_nodes": self.isolate_nodes}
        shared["isolate_types"] = self.isolate_types
        if num_edges <= self.max_full_edges:
            return FullSampling(**shared)
        return NeighborSampling(num_neighbors=list(self.num_neighbors), **shared)


def resolve_sampling(sampling: FullSampling, num_edges: int, passes_messages: bool = True) -> FullSampling:
    """``sampling`` made concrete for a graph with ``num_edges`` message-passing edges (``auto`` decides;
    for a model that passes no messages in training, whole-graph steps, which then read only rows)."""
    if not isinstance(sampling, AutoSampling):
        return sampling
    return sampling.resolve(num_edges if passes_messages else 0)


def build_sampling(spec: Mapping[str, Any]) -> FullSampling:
    """The sampling settings of a sampler dict (``{"name": ..., **arguments}``).

    Raises:
        ConfigError: On an unknown name (listing the valid ones), an unknown
            argument (with a did-you-mean), or a value out of range.
    """
    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
        raise ConfigError(
            f"{_WHERE} must be a dict with a 'name' (one of {', '.join(SAMPLERS.main_names())}), got {spec!r}",
            config="TrainConfig",
            key="sampler",
        )
    kwargs = {k: v for k, v in spec.items() if k != "name"}
    try:
        SAMPLERS.check_kwargs(spec["name"], kwargs)
    except (ConfigError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) else error
        raise ConfigError(f"{_WHERE}: {message}", config="TrainConfig", key="sampler") from None
    return SAMPLERS.get(spec["name"])(**kwargs)


def sampler_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A sampler dict checked and completed: its main name and every argument (JSON types)."""
    sampling = build_sampling(spec)
    name = next(n for n in SAMPLERS.main_names() if SAMPLERS.get(n) is type(sampling))
    values = asdict(sampling)
    values["isolate_types"] = list(values["isolate_types"])
    return {"name": name, **values}
