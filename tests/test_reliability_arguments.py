"""Out-of-range arguments and budgets (docs/reliability.md, "Arguments and budgets").

Every subcommand is driven with bad values: in-process through
:func:`graphalign.cli.main` (fast), and a subset as separate processes (what
users run). Each must print exactly one ``error: ...`` line on stderr, no
traceback, and exit with status 2. The Python API raises
:class:`~graphalign.errors.ConfigError` from the config dataclasses.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from graphalign.cli import _configs, _graph_config, build_parser, main
from graphalign.errors import ConfigError, EncoderError

FAST = ["--text-encoder", "hashing-text", "--image-encoder", "color-histogram"]
NO_CUDA = not torch.cuda.is_available()


@pytest.fixture(scope="module")
def folders(toy_built, tmp_path_factory):
    """A graph folder, a run folder (one epoch) and a dataset folder, shared by the module; do not mutate."""
    from graphalign.nn.hetero_gnn import ModelConfig
    from graphalign.testing import make_toy_dataset
    from graphalign.training.trainer import TrainConfig, fit

    root = tmp_path_factory.mktemp("arguments")
    graph = toy_built.save(root / "graph")
    fit(
        toy_built,
        ModelConfig(hidden_dim=16, out_dim=8, num_layers=1),
        TrainConfig(epochs=1),
        run_dir=root / "run",
    )
    data = make_toy_dataset(root / "data", images_per_concept=1)
    long = root / "long.png"
    Image.new("RGB", (200_000, 2), (200, 30, 30)).save(long)
    return {"graph": graph, "run": root / "run", "data": data, "long": long, "root": root}


def _tampered(folders: dict[str, Path], tmp: Path, kind: str, edit) -> Path:
    """A copy of the graph or run folder whose graph.json / run.json is changed by ``edit(dict)``."""
    copy = tmp / kind
    shutil.copytree(folders[kind], copy)
    path = copy / ("graph.json" if kind == "graph" else "run.json")
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    return copy


def _expect_error(capsys, argv: list[str], match: str) -> str:
    """Runs the CLI in-process; checks exit 2, one ``error:`` line naming ``match``, no traceback."""
    try:
        status = main(argv)
    except SystemExit as stop:  # argparse's own errors
        status = stop.code
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    assert match in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------------------------------------------ in-process cases
def _cases(f: dict[str, Path], tmp: Path) -> list[tuple[list[str], str]]:
    a_file = f["data"] / "nodes.jsonl"
    out_graph, out_run = str(tmp / "g"), str(tmp / "r")
    build = ["build", str(f["data"]), "-o", out_graph, *FAST]
    train = ["train", str(f["graph"]), "-o", out_run, "--epochs", "1"]
    cases = [
        (build + ["--encode-batch-size", "0"], "--encode-batch-size: GraphConfig.batch_size must be an integer >= 1"),
        (build + ["--image-encoder-kwargs", '{"bogus": 1}'], "encoder 'color-histogram' has no argument 'bogus'"),
        (build + ["--text-encoder-kwargs", '{"dims": 8}'], "did you mean 'dim'?"),
        (build + ["--device", "tpu"], "--device: GraphConfig.device must be auto, cpu, cuda, cuda:N or mps"),
        (build + ["--cache-dir", str(a_file)], "is a file, not a folder"),
        (build + ["--predictions", "-1"], "--predictions must be an integer >= 0"),
        (build + ["--knn", "image:0"], "K >= 1"),
        (build + ["--encode-batch-size", "x"], "argument --encode-batch-size: invalid int value"),
        (train[:-2] + ["--lr", "-1"], "--lr: TrainConfig.lr must be a number > 0, got -1.0"),
        (train[:-2] + ["--epochs", "-1"], "--epochs: TrainConfig.epochs must be an integer >= 0"),
        (train + ["--patience", "0"], "--patience: TrainConfig.patience must be an integer >= 1"),
        (train + ["--batch-size", "0"], "--batch-size: TrainConfig.batch_size"),
        (train + ["--negatives", "-2"], "--negatives: TrainConfig.negatives must be an integer >= -1"),
        (train + ["--mode", "neighbor", "--num-neighbors", "0"], "--num-neighbors: TrainConfig.sampler.num_neighbors"),
        (train + ["--steps-per-epoch", "0"], "--steps-per-epoch: TrainConfig.sampler.steps_per_epoch"),
        (train + ["--seed", "-1"], "--seed: TrainConfig.seed must be an integer >= 0"),
        (train + ["--isolate-nodes", "1"], "--isolate-nodes: TrainConfig.sampler.isolate_nodes"),
        (train + ["--train-device", "gpu"], "--train-device: RunConfig.device must be"),
        (train + ["--loss-kwargs", '{"temprature": 0.1}'], "did you mean 'temperature'?"),
        (train + ["--dropout", "1.5"], "--dropout: ModelConfig.dropout must be a number >= 0 and < 1"),
        (train + ["--hidden-dim", "0"], "--hidden-dim: ModelConfig.hidden_dim"),
        (train + ["--out-dim", "100000000"], "--out-dim: ModelConfig.out_dim must be an integer >= 1 and <= 65536"),
        (train + ["--layers", "1000"], "--layers: ModelConfig.num_layers"),
        (
            train + ["--head", "prior", "--head-kwargs", '{"scale": -1}'],
            "--head-kwargs: ModelConfig.head_kwargs: head prior.scale must be a number > 0, got -1",
        ),
        (
            train + ["--head", "plain", "--head-kwargs", '{"scale": 0.2}'],
            "--head-kwargs: ModelConfig.head_kwargs: head 'plain' has no",
        ),
        (train + ["--head", "prior", "--head-kwargs", '{"scal": 0.2}'], "did you mean 'scale'?"),
        (train + ["--head", "priors"], "unknown head 'priors'; choose one of: plain, prior"),
        (train + ["--prior-scale", "0.2"], "unrecognized arguments: --prior-scale"),
        (train + ["--conv-kwargs", '{"head": 2}'], "did you mean 'heads'?"),
        (train + ["--conv", "rgcn"], "--conv set the message-passing layer, but the 'best' preset has none"),
        (train + ["--conv-kwargs", '{"heads": 2}'], "add --layers N, or use --preset gnn"),
        (train + ["--inherit", "--inherit-hops", "0"], "inheritance needs hops >= 1"),
        (train + ["--val-fraction", "2"], "--val-fraction: SplitConfig.val_fraction"),
        (train + ["--val-fraction", "0.5", "--test-fraction", "0.5"], "val_fraction + test_fraction must be below 1"),
        (train + ["--lr", "nan"], "TrainConfig.lr must be a number > 0, got nan"),
        (["query", str(f["run"]), "--node", "c:cat", "-k", "-1"], "-k: Aligner.k must be an integer >= 1, got -1"),
        (["query", str(f["run"]), "--text", "a cat", "-k", "0"], "-k: Aligner.k must be an integer >= 1, got 0"),
        (["query", str(f["run"]), "--node", "c:cat", "--graph-hops", "-1"], "--graph-hops: Aligner.hops"),
        (["query", str(f["run"]), "--node", "c:cat", "--index", "exakt"], "Did you mean 'exact'?"),
        (["query", str(f["run"]), "--image", str(f["long"])], "aspect ratio of 100,000:1, above the limit of 1000:1"),
        (
            ["demo", "--data", str(f["data"]), "--work-dir", str(tmp / "demo"), "--epochs", "-1"],
            "--epochs: TrainConfig.epochs",
        ),
        (
            ["demo", "--data", str(f["data"]), "--work-dir", str(tmp / "demo"), "--encode-batch-size", "0"],
            "--encode-batch-size",
        ),
        (["bench", str(f["data"]), "--epochs", "0"], "--epochs must be an integer >= 1"),  # a row untrained
        (["bench", str(f["data"]), "--seeds", "-1"], "--seeds must be an integer >= 0"),
        (["bench", str(f["data"]), "--num-neighbors", "0"], "--num-neighbors takes fan-outs >= 1 or -1"),
        (["train", str(f["graph"]), "-o", str(tmp / "r"), "--preset", "bset"], "invalid choice: 'bset'"),
        (["bench", str(f["data"]), "--losses", "infonc"], "Did you mean 'infonce'?"),
        (["ls", "bogus"], "argument family: invalid choice: 'bogus'"),
    ]
    if NO_CUDA:
        cases += [
            (build + ["--device", "cuda", "--no-cache"], "no CUDA device here; use --device cpu"),
            (train + ["--train-device", "cuda"], "no CUDA device here"),
        ]
    return cases


def test_every_subcommand_refuses_out_of_range_values(folders, tmp_path, capsys):
    for argv, match in _cases(folders, tmp_path):
        _expect_error(capsys, argv, match)
    assert not (tmp_path / "g").exists() and not (tmp_path / "r").exists() and not (tmp_path / "demo").exists()


def test_files_with_out_of_range_values_name_the_file_and_key(folders, tmp_path, capsys):
    graph = _tampered(folders, tmp_path, "graph", lambda d: d["config"].update(batch_size=0))
    _expect_error(capsys, ["info", str(graph)], "graph.json: key 'config': GraphConfig.batch_size")
    run = _tampered(folders, tmp_path / "a", "run", lambda d: d["train"].update(lr=-1))
    _expect_error(capsys, ["eval", str(run)], "run.json: key 'train': TrainConfig.lr must be a number > 0")
    run = _tampered(folders, tmp_path / "b", "run", lambda d: d["model"].update(hidden_dim=60_000))
    _expect_error(capsys, ["query", str(run), "--node", "c:cat"], "run.json: key 'model' describes a model of")
    run = _tampered(folders, tmp_path / "c", "run", lambda d: d["in_dims"].update(image=10**9))
    _expect_error(capsys, ["eval", str(run)], "run.json: key 'in_dims.image' is 1000000000")


# ------------------------------------------------------------------------------------------ separate processes
def test_subcommands_as_separate_processes(folders, tmp_path):
    f = folders
    graph = _tampered(f, tmp_path, "graph", lambda d: d["config"].update(device="tpu"))
    run = _tampered(f, tmp_path / "x", "run", lambda d: d["split"].update(val_fraction=3))
    cases = [
        (
            [
                "build",
                str(f["data"]),
                "-o",
                str(tmp_path / "g"),
                *FAST,
                "--image-encoder-kwargs",
                '{"bins": 4, "sise": 8}',
            ],
            "did you mean 'size'?",
        ),
        (["info", str(graph)], "graph.json: key 'config': GraphConfig.device"),
        (["train", str(f["graph"]), "-o", str(tmp_path / "r"), "--lr", "-1"], "--lr: TrainConfig.lr"),
        (["eval", str(run)], "run.json: key 'split': SplitConfig.val_fraction"),
        (["query", str(f["run"]), "--node", "c:cat", "-k", "-1"], "-k: Aligner.k"),
        (["query", str(f["run"]), "--image", str(f["long"])], "above the limit of 1000:1"),
        (["demo", "--data", str(f["data"]), "--work-dir", str(tmp_path / "d"), "--patience", "0"], "--patience"),
        (["bench", str(f["data"]), "--batch-size", "0"], "--batch-size must be an integer >= 1"),
        (["ls", "bogus"], "invalid choice"),
    ]
    env = {**os.environ, "GRAPHALIGN_CACHE": str(tmp_path / "cache")}
    for argv, match in cases:
        done = subprocess.run(
            [sys.executable, "-m", "graphalign", *argv], capture_output=True, text=True, env=env, timeout=300
        )
        assert done.returncode == 2, (argv, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        lines = [line for line in done.stderr.splitlines() if "error:" in line]
        assert len(lines) == 1 and match in lines[0], (argv, done.stderr)


# ------------------------------------------------------------------------------------------------- Python API
@pytest.mark.parametrize(
    ("factory", "kwargs", "match"),
    [
        ("model", {"dropout": 1.5}, "ModelConfig.dropout must be a number >= 0 and < 1"),
        ("model", {"hidden_dim": 10**9}, "ModelConfig.hidden_dim must be an integer >= 1 and <= 65536"),
        ("model", {"conv_kwargs": {"head": 2}}, "did you mean 'heads'?"),
        ("model", {"head": "prior", "head_kwargs": {"scal": 0.2}}, "ModelConfig.head_kwargs: .*did you mean 'scale'"),
        ("model", {"readouts": [{"name": "inherit", "hops": 0}]}, "ModelConfig.readouts: .*hops >= 1"),
        (
            "model",
            {"head": "prior", "head_kwargs": {"scale": -1}},
            "ModelConfig.head_kwargs: .*scale must be a number > 0",
        ),
        ("model", {"readouts": [{"name": "inherit"}, {"name": "inherit", "hops": 2}]}, "a readout is given twice"),
        ("train", {"lr": -1}, "TrainConfig.lr must be a number > 0"),
        ("train", {"epochs": 2.5}, "TrainConfig.epochs must be an integer >= 0"),
        ("train", {"loss_kwargs": {"margn": 0.1}, "loss": "triplet"}, "did you mean 'margin'?"),
        ("run", {"device": "gpu"}, "RunConfig.device must be auto, cpu, cuda, cuda:N or mps"),
        ("split", {"val_fraction": float("inf")}, "SplitConfig.val_fraction"),
        ("split", {"heldout_node_types": ("video",)}, "SplitConfig.heldout_node_types must be one of"),
        ("graph", {"batch_size": 0}, "GraphConfig.batch_size"),
        ("graph", {"concept_template": "{nam}"}, "GraphConfig.concept_template may use only"),
    ],
)
def test_config_dataclasses_raise_config_error(factory, kwargs, match):
    from graphalign.cli import _config_class

    with pytest.raises(ConfigError, match=match) as caught:
        _config_class(factory)(**kwargs)
    assert caught.value.config is not None or "kwargs" in str(caught.value) or "template" in str(caught.value)


def test_registry_build_checks_kwargs_with_did_you_mean():
    from graphalign.encoders import ENCODERS
    from graphalign.losses import LOSSES
    from graphalign.nn.convs import CONVS
    from graphalign.query.index import INDEXES

    with pytest.raises(ConfigError, match=r"encoder 'hashing-text' has no argument 'dims' .*did you mean 'dim'\?"):
        ENCODERS.build("hashing-text", {"dims": 8})
    with pytest.raises(ConfigError, match="did you mean 'temperature'"):
        LOSSES.build("infonce", {"temprature": 0.1})
    with pytest.raises(ConfigError, match="did you mean 'block_size'"):
        INDEXES.build("exact", {"blocksize": 10})
    with pytest.raises(ConfigError, match="did you mean 'num_bases'"):
        CONVS.check_kwargs("rgcn", {"num_base": 2})
    with pytest.raises(ConfigError, match="must be a dict"):
        ENCODERS.build("hashing-text", [1])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="cannot build encoder 'hashing-text'"):
        ENCODERS.build("hashing-text", {"dim": "eight"})


def test_devices_are_checked():
    from graphalign.device import resolve_device

    with pytest.raises(ConfigError, match="must be auto, cpu, cuda, cuda:N or mps"):
        resolve_device("xyz")
    assert resolve_device("cpu") == torch.device("cpu")
    if NO_CUDA:
        with pytest.raises(ConfigError, match="no CUDA device here; use --device cpu"):
            resolve_device("cuda")


def test_aligner_checks_k_type_and_hops(folders):
    from graphalign.query.aligner import Aligner

    aligner = Aligner.load(folders["run"])
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ConfigError, match="Aligner.k must be an integer >= 1"):
            aligner.neighbors("c:cat", k=bad)
    with pytest.raises(ConfigError, match="Aligner.k"):
        aligner.search(text="a cat", k=0)
    with pytest.raises(ConfigError, match="Aligner.hops must be an integer >= 0"):
        aligner.graph_neighbors("c:cat", hops=-1)
    with pytest.raises(ConfigError, match="type must be a node type"):
        aligner.neighbors("c:cat", type=5)  # type: ignore[arg-type]
    assert len(aligner.neighbors("c:cat", k=10**12, type="concept")) == 10  # all the other concepts, nothing more


# ------------------------------------------------------------------------------------------------- image budgets
def test_elongated_and_oversized_images_are_refused_before_decoding(tmp_path, monkeypatch):
    from graphalign.image_io import check_image_header, image_limits, open_image_rgb

    long = tmp_path / "long.png"
    Image.new("RGB", (20_000, 2)).save(long)
    with pytest.raises(EncoderError, match=r"long.png: image is 20000x2 pixels, an aspect ratio of 10,000:1"):
        open_image_rgb(long)
    assert "GRAPHALIGN_MAX_IMAGE_ASPECT" in check_image_header(long)
    with pytest.raises(EncoderError, match="aspect ratio"):
        open_image_rgb(Image.new("RGB", (5000, 2)))  # in memory too
    monkeypatch.setenv("GRAPHALIGN_MAX_IMAGE_ASPECT", "20000")
    assert open_image_rgb(long).size == (20_000, 2)
    monkeypatch.setenv("GRAPHALIGN_MAX_IMAGE_PIXELS", "1000")
    with pytest.raises(EncoderError, match="40,000 pixels, above the limit of 1,000"):
        open_image_rgb(long)
    monkeypatch.setenv("GRAPHALIGN_MAX_IMAGE_BYTES", "10")
    with pytest.raises(EncoderError, match=r"bytes, above the limit of 10 bytes \(set \$GRAPHALIGN_MAX_IMAGE_BYTES"):
        open_image_rgb(long)
    monkeypatch.setenv("GRAPHALIGN_MAX_IMAGE_BYTES", "lots")
    with pytest.raises(ConfigError, match=r"\$GRAPHALIGN_MAX_IMAGE_BYTES must be a number >= 1"):
        image_limits()


def test_build_refuses_an_elongated_image_on_its_line(folders, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(folders["data"], data)
    first_image = next(p for p in sorted((data / "images").iterdir()))
    Image.new("RGB", (200_000, 2)).save(first_image, format="PNG")
    line = _expect_error(capsys, ["build", str(data), "-o", str(tmp_path / "g"), *FAST], "above the limit of 1000:1")
    assert "nodes.jsonl:" in line
    assert not (tmp_path / "g").exists()


def test_image_files_above_the_byte_limit_are_not_hashed(folders, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRAPHALIGN_MAX_IMAGE_BYTES", "50")
    assert main(["build", str(folders["data"]), "-o", str(tmp_path / "g"), *FAST]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 8 problems:") and "Traceback" not in err  # every image, each on its nodes.jsonl line
    assert "nodes.jsonl:" in err and "bytes, above the limit of 50 bytes (set $GRAPHALIGN_MAX_IMAGE_BYTES" in err


# ------------------------------------------------------------------------------------------------- help and defaults
def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                yield from ((f"{name} {n}", s) for n, s in _subparsers(sub))


def test_every_option_has_help_and_shows_its_default():
    parser = build_parser()
    commands = dict(_subparsers(parser))
    assert {"build", "info", "train", "eval", "query", "demo", "bench", "ls"} <= set(commands)
    for name, sub in commands.items():
        sub.format_help()  # renders every help string
        formatter = sub._get_formatter()
        for action in sub._actions:
            if (
                isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
                or action.help == argparse.SUPPRESS
            ):
                continue
            assert action.help and action.help.strip(), f"{name} {action.option_strings or action.dest}: no help"
            flag = isinstance(
                action, (argparse._StoreTrueAction, argparse._StoreFalseAction)
            )  # on/off: the help says what it does
            if getattr(action, "config_field", None) is not None or (
                action.option_strings and not flag and action.default not in (None, False, [], argparse.SUPPRESS)
            ):
                assert "default:" in formatter._get_help_string(action), f"{name} {action.option_strings}"
    query = commands["query"].format_help()
    from graphalign.cli import INDEX_NAMES
    from graphalign.query.index import INDEXES

    assert list(INDEX_NAMES) == INDEXES.main_names()  # the help's list is the registry's
    assert "one of exact, faiss, usearch" in " ".join(query.split())


def test_train_defaults_are_the_dataclass_defaults():
    from graphalign.data.split import SplitConfig
    from graphalign.features.featurize import GraphConfig
    from graphalign.nn.hetero_gnn import ModelConfig
    from graphalign.training.trainer import RunConfig, TrainConfig

    args = build_parser().parse_args(["train", "g", "-o", "r"])
    model, train, split, run = _configs(args)
    assert (model, train, split, run) == (ModelConfig(), TrainConfig(), SplitConfig(), RunConfig())
    args = build_parser().parse_args(["build", "d", "-o", "g"])
    assert _graph_config(args) == GraphConfig()
    help_text = " ".join(build_parser()._subparsers._group_actions[0].choices["train"].format_help().split())
    for flag, value in (
        ("--head", ModelConfig().head),
        ("--head-kwargs", ModelConfig().head_kwargs),
        ("--out-dim", ModelConfig().out_dim),
        ("--negatives", TrainConfig().negatives),
        ("--lr", TrainConfig().lr),
    ):
        assert f"(default: {value}" in help_text[help_text.index(flag + " ") :], flag


def test_demo_trains_the_best_preset_and_takes_every_option():
    from graphalign.features.featurize import GraphConfig
    from graphalign.nn.hetero_gnn import ModelConfig
    from graphalign.training.trainer import TrainConfig

    args = build_parser().parse_args(["demo"])
    model, train, _, _ = _configs(args)
    assert (model, train, _graph_config(args)) == (ModelConfig(), TrainConfig(), GraphConfig(progress=True))
    args = build_parser().parse_args(["demo", "--epochs", "3", "--preset", "fast"])
    model, train, _, _ = _configs(args)
    assert train.epochs == 3 and model.hidden_dim == 128
    assert dataclasses.fields(ModelConfig)  # the dataclass is the source of every default


def test_help_defaults_read_without_importing_equal_the_dataclasses():
    """``--help`` reads defaults from the dataclasses' source (no torch); they must equal ``dataclasses.fields``."""
    from graphalign.cli import CONFIG_CLASSES, _config_class, _source_defaults

    for config, (module, name) in CONFIG_CLASSES.items():
        real = {
            f.name: f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            for f in dataclasses.fields(_config_class(config))
        }
        assert _source_defaults(module, name) == real, config
