"""Named presets: the same configurations in Python and on the command line; `best` is the defaults."""

from __future__ import annotations

import subprocess
import sys

import pytest

from graphalign.cli import _configs, _given, build_parser
from graphalign.data.split import SplitConfig
from graphalign.errors import ConfigError
from graphalign.features.featurize import GraphConfig
from graphalign.nn.hetero_gnn import ModelConfig
from graphalign.presets import DEFAULT_PRESET, PRESETS, get_preset, preset_names
from graphalign.training.trainer import RunConfig, TrainConfig


def test_best_is_the_config_classes_defaults() -> None:
    assert DEFAULT_PRESET == "best" and preset_names()[0] == "best"
    assert get_preset("best").configs() == (GraphConfig(), ModelConfig(), TrainConfig(), SplitConfig())


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_builds_its_configs(name: str) -> None:
    preset = get_preset(name)
    graph, model, train, split = preset.configs()
    for config_name, config in zip(("graph", "model", "train", "split"), (graph, model, train, split)):
        for key, value in preset.fields(config_name).items():
            if isinstance(value, (int, float, str)):
                assert getattr(config, key) == value
    assert preset.summary


def test_presets_say_what_they_are() -> None:
    _, fast, fast_train, _ = get_preset("fast").configs()
    assert fast.hidden_dim == 128 and fast_train.epochs == 10 and fast.readouts == ModelConfig().readouts
    _, best, best_train, _ = get_preset("best").configs()
    assert best.num_layers == 0 and best.propagate == {"hops": 2, "dim": 128} and best_train.sampler["name"] == "auto"
    _, towers, towers_train, _ = get_preset("towers").configs()
    assert towers.num_layers == 0 and towers.propagate is None and towers.head == "prior"
    assert [r["name"] for r in towers.readouts] == ["channels"] and towers_train.sampler["name"] == "full"
    assert all(c["hops"] == 0 for c in towers.readout("channels")["channels"])  # reads no edge
    graph, plain, _, _ = get_preset("plain").configs()
    assert graph.image_encoder == "efficientnet-lite0" and graph.augmenters == []
    assert plain.head == "plain" and plain.readouts == [] and plain.num_layers == 2 and plain.propagate is None
    _, gnn, _, _ = get_preset("gnn").configs()
    assert gnn.num_layers == 2 and gnn.conv == "gatv2" and gnn.propagate is None
    assert gnn.readouts == ModelConfig().readouts and gnn.head == ModelConfig().head


def test_overrides_and_unknown_names() -> None:
    _, model, train, _ = get_preset("gnn").configs(model={"conv": "rgcn"}, train={"epochs": 2})
    assert model.conv == "rgcn" and model.num_layers == 2 and train.epochs == 2
    with pytest.raises(ConfigError, match="unknown preset 'bset'; presets: best, fast, gnn, towers, plain"):
        get_preset("bset")
    with pytest.raises(ConfigError, match="unknown config 'optimizer'"):
        get_preset("best").configs(optimizer={})
    with pytest.raises(ConfigError, match="epoch"):
        get_preset("best").configs(train={"epoch": 3})


@pytest.mark.parametrize("name", [None, *PRESETS])
def test_cli_preset_gives_the_python_preset(name: str | None) -> None:
    argv = ["train", "g", "-o", "r"] + ([] if name is None else ["--preset", name])
    args = build_parser().parse_args(argv)
    _, model, train, split = get_preset(name or DEFAULT_PRESET).configs()
    cli_model, cli_train, cli_split, run = _configs(args)
    assert (cli_model, cli_train, cli_split) == (model, train, split)
    assert run == RunConfig(progress=True)


def test_cli_options_change_the_preset() -> None:
    args = build_parser().parse_args(
        ["train", "g", "-o", "r", "--preset", "gnn", "--conv", "rgcn", "--no-inherit", "--mode", "neighbor"]
    )
    model, train, _, _ = _configs(args)
    assert model.conv == "rgcn" and model.num_layers == 2  # the option and the preset
    assert [r["name"] for r in model.readouts] == ["channels"]
    assert train.sampler["name"] == "neighbor" and train.sampler["isolate_nodes"] == 0.3  # shared keys kept
    args = build_parser().parse_args(["train", "g", "-o", "r", "--no-channels", "--inherit-hops", "2"])
    model, _, _, _ = _configs(args)
    assert model.readouts == [{**ModelConfig().readouts[0], "hops": 2}]
    model, _, _, _ = _configs(build_parser().parse_args(["train", "g", "-o", "r", "--propagate-hops", "1"]))
    assert model.propagate == {"hops": 1, "dim": 128} and model.num_layers == 0
    model, _, _, _ = _configs(build_parser().parse_args(["train", "g", "-o", "r", "--no-propagate"]))
    assert model.propagate is None
    model, _, _, _ = _configs(build_parser().parse_args(["train", "g", "-o", "r", "--no-exemplars"]))
    assert model.exemplars is None and ModelConfig().exemplars == {"hops": 2, "top": 10, "temperature": 0.05}
    model, _, _, _ = _configs(build_parser().parse_args(["train", "g", "-o", "r", "--exemplar-hops", "1"]))
    assert model.exemplars == {"hops": 1, "top": 10, "temperature": 0.05}
    args = build_parser().parse_args(["train", "g", "-o", "r", "--transfer-top", "3", "--transfer-temperature", "0.2"])
    model, _, _, _ = _configs(args)
    assert model.exemplars == {"hops": 2, "top": 3, "temperature": 0.2}
    model, _, _, _ = _configs(build_parser().parse_args(["train", "g", "-o", "r", "--preset", "towers"]))
    assert model.exemplars is None  # the non-graph baseline has no term
    args = build_parser().parse_args(["train", "g", "-o", "r", "--preset", "gnn", "--propagate-dim", "64"])
    model, _, _, _ = _configs(args)
    assert model.num_layers == 2 and model.propagate == {"hops": 2, "dim": 64}
    args = build_parser().parse_args(["build", "d", "-o", "g", "--preset", "plain"])
    assert _given(args, "graph")["image_encoder"] == "efficientnet-lite0"


def test_cli_help_names_the_presets_and_loads_no_torch() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from graphalign.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "    main(['train', '--help'])\n"
        "assert 'torch' not in sys.modules, 'torch loaded'\n"
        "print(out.getvalue())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "--preset {best,fast,gnn,towers,plain}" in result.stdout
    assert "default: prior, ModelConfig.head" in " ".join(result.stdout.split())


@pytest.mark.parametrize(("name", "reads"), [("best", True), ("towers", False)])
def test_a_layer_named_for_a_preset_without_layers_is_refused(name: str, reads: bool) -> None:
    preset = get_preset(name)
    model = preset.configs()[1]
    preset.require_layers(model, [], "add --layers N")  # nothing named: nothing to refuse
    refusal = rf"--conv set the message-passing layer, but the '{name}' preset has none"
    with pytest.raises(ConfigError, match=refusal) as e:
        preset.require_layers(model, ["--conv"], "add --layers N")
    assert str(e.value).endswith(": add --layers N")
    assert ("it reads propagated features" in str(e.value)) == reads
    get_preset("gnn").require_layers(get_preset("gnn").configs()[1], ["--conv"], "add --layers N")  # has layers
