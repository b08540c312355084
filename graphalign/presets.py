"""Named presets: whole configurations by name, the same in Python and on the command line.

A preset is a set of departures from the config dataclasses' defaults, per
config (``graph``: :class:`~graphalign.features.featurize.GraphConfig`,
``model``: :class:`~graphalign.nn.hetero_gnn.ModelConfig`, ``train``:
:class:`~graphalign.training.trainer.TrainConfig`, ``split``:
:class:`~graphalign.data.split.SplitConfig`). The defaults themselves are the
``best`` preset, so ``graphalign train``, ``ga.fit(built)`` and
``ga.pipeline(dataset)`` with no options all train it:

* ``best``: the default. ConSE + EfficientNet image features and ImageNet →
  WordNet edges at build time; every node's features beside the same features
  propagated 2 hops over the graph once without parameters (128 principal
  components per encoder), a per-type MLP with the prior head, inheritance and
  the prior, text, concept and hierarchy channels, and the nearest-exemplar
  term of image → concept rankings (its weights, offset and semantic transfer fitted on the validation
  links); InfoNCE
  against every node of the target type. Training steps read one row per node they need, so
  their cost follows the supervision pairs, not the neighbourhoods. Chosen by
  the rule of ``docs/benchmarks.md`` (validation MRR averaged over the
  headline protocols and the benchmarked datasets).
* ``fast``: the same parts, narrower (width 128), at most 10 epochs: a first
  look in seconds.
* ``gnn``: the same parts with message passing in training instead of
  propagated features: 2 residual GATv2 layers (neighbour-sampled subgraphs
  above 20,000 message-passing edges).
* ``towers``: the two-tower baseline: no message passing and no propagated
  features (a per-type MLP), the prior head and the prior channel (which reads
  no edge); no exemplar term (it reads the graph's links and hierarchy).
* ``plain``: a 2-layer GATv2 on the image encoder's own features, no prior and
  no readouts or exemplar term: what message passing learns alone.

Example:
    >>> from graphalign.presets import get_preset
    >>> get_preset("fast").settings["train"]["epochs"]
    10
    >>> graph, model, train, split = get_preset("towers").configs()  # doctest: +SKIP
    >>> model.num_layers  # doctest: +SKIP
    0

This module imports no torch until a preset's settings are read (the command
line lists the presets in ``--help``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphalign.errors import ConfigError

__all__ = ["Preset", "PRESETS", "DEFAULT_PRESET", "get_preset", "preset_names", "CONFIG_NAMES"]

CONFIG_NAMES = ("graph", "model", "train", "split")
"""The configs a preset may set, in the order :meth:`Preset.configs` returns them."""

DEFAULT_PRESET = "best"
"""The preset of the config dataclasses' defaults."""


@dataclass(frozen=True)
class Preset:
    """A named configuration: departures from the config dataclasses' defaults.

    Args:
        name: What it is called (``--preset NAME``).
        summary: One line on what it is for.
        make_settings: Returns, per config name (:data:`CONFIG_NAMES`), the
            fields it sets (a function, so that a preset can read the library's
            own part specs when it is used, not when the command line starts).
    """

    name: str
    summary: str
    make_settings: Callable[[], dict[str, dict[str, Any]]] = field(default=dict, repr=False)

    @property
    def settings(self) -> dict[str, dict[str, Any]]:
        """Per config name, the fields this preset sets."""
        return self.make_settings()

    def fields(self, config: str) -> dict[str, Any]:
        """A copy of the fields this preset sets in ``config`` (``"graph"``, ``"model"``, ...)."""
        return copy.deepcopy(self.settings.get(config, {}))

    def configs(self, **overrides: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
        """The preset as ``(GraphConfig, ModelConfig, TrainConfig, SplitConfig)``.

        Args:
            **overrides: Per config name, fields that replace the preset's
                (``model={"conv": "rgcn"}``).

        Raises:
            ConfigError: On an unknown config name or field.
        """
        from graphalign.data.split import SplitConfig
        from graphalign.features.featurize import GraphConfig
        from graphalign.nn.hetero_gnn import ModelConfig
        from graphalign.training.trainer import TrainConfig

        unknown = sorted(set(overrides) - set(CONFIG_NAMES))
        if unknown:
            raise ConfigError(
                f"preset {self.name!r}: unknown config {unknown[0]!r}; configs: {', '.join(CONFIG_NAMES)}"
            )
        classes = (GraphConfig, ModelConfig, TrainConfig, SplitConfig)
        return tuple(  # type: ignore[return-value]
            cls.from_dict({**self.fields(name), **overrides.get(name, {})}) for name, cls in zip(CONFIG_NAMES, classes)
        )

    def require_layers(self, model: Any, named: list[str], hint: str) -> None:
        """Refuse a message-passing layer named for a model without layers.

        Args:
            model: The :class:`ModelConfig` built from this preset and the user's settings.
            named: How the user named the layer (``["--conv"]``, ``["model='rgcn'"]``); empty when
                no layer was named.
            hint: What to do instead, in the caller's terms (flags or Python arguments).

        Raises:
            ConfigError: When a layer is named and ``model`` has no message-passing layers.
        """
        if named and model.num_layers == 0:
            reads = " (it reads propagated features)" if model.propagate is not None else ""
            raise ConfigError(
                f"{' and '.join(named)} set the message-passing layer, but the {self.name!r} preset has none"
                f"{reads}: {hint}"
            )


def _fast() -> dict[str, dict[str, Any]]:
    return {"model": {"hidden_dim": 128}, "train": {"epochs": 10, "patience": 3}}


def _gnn() -> dict[str, dict[str, Any]]:
    return {"model": {"num_layers": 2, "propagate": None}}


def _towers() -> dict[str, dict[str, Any]]:
    from graphalign.nn.hetero_gnn import DEFAULT_READOUTS

    channels = next(spec for spec in DEFAULT_READOUTS if spec["name"] == "channels")["channels"]
    prior = [channel for channel in channels if channel["hops"] == 0]  # the channel that reads no edge
    return {
        "model": {
            "num_layers": 0,
            "propagate": None,
            "readouts": [{"name": "channels", "channels": copy.deepcopy(prior)}],
            "exemplars": None,
        },
        "train": {"sampler": {"name": "full", "steps_per_epoch": 10, "isolate_nodes": 0.3}},
    }


def _plain() -> dict[str, dict[str, Any]]:
    return {
        "graph": {"image_encoder": "efficientnet-lite0", "image_encoder_kwargs": {}, "augmenters": []},
        "model": {
            "num_layers": 2,
            "propagate": None,
            "out_dim": 128,
            "head": "plain",
            "readouts": [],
            "exemplars": None,
        },
    }


_PRESETS = [
    Preset(
        "best",
        "propagated features (2 hops, no parameters) + per-type MLP + prior head + inheritance + "
        "prior/text/concept/hierarchy channels + nearest-exemplar term, InfoNCE",
    ),
    Preset("fast", "a first look: the best preset's parts, width 128, at most 10 epochs", _fast),
    Preset("gnn", "message passing in training: the best preset's parts with 2 GATv2 layers, no propagation", _gnn),
    Preset(
        "towers",
        "two towers: no message passing, prior head + prior channel, no exemplar term (the non-graph baseline)",
        _towers,
    ),
    Preset(
        "plain",
        "message passing alone: EfficientNet image features, GATv2, plain head, no readouts or exemplar term",
        _plain,
    ),
]

PRESETS: dict[str, Preset] = {preset.name: preset for preset in _PRESETS}
"""Every preset by name."""


def preset_names() -> list[str]:
    """The presets' names, the default first."""
    return list(PRESETS)


def get_preset(name: str | Preset) -> Preset:
    """The preset called ``name`` (a :class:`Preset` is returned as is).

    Raises:
        ConfigError: On an unknown name (the message lists the presets).
    """
    if isinstance(name, Preset):
        return name
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    return PRESETS[name]
