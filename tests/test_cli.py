from __future__ import annotations

import json
import subprocess
import sys

import pytest

from graphalign.cli import main
from graphalign.nn import ModelConfig

FAST = ["--text-encoder", "hashing-text", "--text-encoder-kwargs", '{"dim": 32}', "--image-encoder", "color-histogram"]


def test_build_then_info(toy_dataset, tmp_path, capsys):
    out = tmp_path / "graph"
    assert main(["-q", "build", str(toy_dataset), "-o", str(out), *FAST]) == 0
    assert "32 from cache" not in capsys.readouterr().out
    assert (
        main(["-q", "build", str(toy_dataset), "-o", str(out), *FAST]) == 2
    )  # graphalign's own graph: needs --overwrite
    assert "pass --overwrite" in capsys.readouterr().err
    assert main(["-q", "build", str(toy_dataset), "-o", str(out), *FAST, "--overwrite"]) == 0
    assert "0 items encoded, 75 from cache" in capsys.readouterr().out
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    rows = [line.split() for line in text.splitlines()]
    assert ["image", "32", "64"] in rows and ["image|depicts|concept", "32"] in rows
    assert main(["info", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["nodes"] == {"concept": 11, "text": 32, "image": 32}


def test_build_adds_knn_edges(toy_dataset, tmp_path, capsys):
    out = tmp_path / "graph"
    assert main(["-q", "build", str(toy_dataset), "-o", str(out), *FAST, "--knn", "image:3", "--knn", "text:1"]) == 0
    capsys.readouterr()
    assert main(["info", str(out), "--json"]) == 0
    edges = json.loads(capsys.readouterr().out)["edges"]
    assert edges["image|similar_to|image"] == 3 * 32 and edges["text|similar_to|text"] == 32


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["build", "DATA", "-o", "X", *FAST, "--knn", "image"],
            "error: --knn 'image': expected TYPE:K or TYPE:K:TARGET",
        ),
        (
            ["build", "DATA", "-o", "X", *FAST, "--knn", "image:2:concept"],
            "error: kNN edges from 'image' to 'concept' need features in one space",
        ),
        (["build", "NOPE", "-o", "X", *FAST], "error: NOPE: dataset folder not found"),
        (["info", "NOPE"], "error: NOPE: not a graphalign graph folder"),
        (
            ["build", "DATA", "-o", "X", "--text-encoder", "bert9000"],
            "error: unknown encoder 'bert9000'; choose one of:",
        ),
    ],
)
def test_user_errors_are_one_line_without_traceback(argv, expected, toy_dataset, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [str(toy_dataset) if a == "DATA" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(expected), err
    assert "Traceback" not in err


def test_bad_line_is_reported_by_the_cli(tmp_path, capsys):
    data = tmp_path / "d"
    data.mkdir()
    (data / "nodes.jsonl").write_text(
        '{"id": "a", "type": "concept", "name": "a"}\n{"id": "b", "type": "concep", "name": "b"}\n'
    )
    assert main(["build", str(data), "-o", str(tmp_path / "g"), *FAST]) == 2
    err = capsys.readouterr().err
    assert f"{data / 'nodes.jsonl'}:2: node 'b': unknown node type 'concep'" in err
    assert not (tmp_path / "g").exists()


def test_ls_lists_encoders(capsys):
    assert main(["ls", "encoders"]) == 0
    assert "efficientnet-lite0" in capsys.readouterr().out
    assert main(["ls", "heads"]) == 0
    out = capsys.readouterr().out
    assert "plain" in out and "prior" in out
    assert main(["ls", "readouts"]) == 0
    out = capsys.readouterr().out
    assert "channels" in out and "inherit" in out


def test_python_dash_m_works():
    result = subprocess.run([sys.executable, "-m", "graphalign", "ls"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "minilm" in result.stdout


@pytest.fixture(scope="module")
def built_graph_dir(tmp_path_factory):
    from graphalign.testing import make_toy_dataset

    root = tmp_path_factory.mktemp("cli-flow")
    data = make_toy_dataset(root / "data", images_per_concept=5)
    assert main(["-q", "build", str(data), "-o", str(root / "graph"), *FAST, "--cache-dir", str(root / "cache")]) == 0
    return root / "graph"


@pytest.mark.parametrize(
    ("conv", "loss"), [("gat", "infonce"), ("rgcn", "triplet"), ("gatv2", "triplet"), ("rgcn", "infonce")]
)
def test_train_eval_query_flow(built_graph_dir, tmp_path, capsys, conv, loss):
    run = tmp_path / "run"
    argv = [
        "-q",
        "train",
        str(built_graph_dir),
        "-o",
        str(run),
        "--preset",
        "gnn",
        "--conv",
        conv,
        "--loss",
        loss,
        "--epochs",
        "8",
        "--batch-size",
        "16",
        "--seed",
        "1",
        "--hidden-dim",
        "32",
        "--out-dim",
        "16",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"conv='{conv}'" in out and "image->concept" in out
    assert main(["eval", str(run), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    saved = json.loads((run / "metrics.json").read_text())["test"]
    assert metrics == pytest.approx(saved)
    assert main(["eval", str(run)]) == 0
    assert "mean MRR over directions" in capsys.readouterr().out

    assert main(["query", str(run), "--node", "i:cat:0", "--type", "concept", "-k", "3", "--graph-hops", "1"]) == 0
    out = capsys.readouterr().out
    assert "nearest to i:cat:0" in out and "graph neighbours within 1 hop" in out and "depicts" in out
    assert main(["query", str(run), "--text", "a picture of a zebra", "--type", "image", "-k", "2", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert len(answer["neighbors"]) == 2 and all(n["type"] == "image" for n in answer["neighbors"])
    from PIL import Image

    image = tmp_path / "new.png"
    Image.new("RGB", (12, 12), (30, 30, 30)).save(image)
    assert main(["query", str(run), "--image", str(image), "-k", "2"]) == 0
    assert "nearest concept nodes to the new image" in capsys.readouterr().out


def test_train_with_graph_channels_then_query(built_graph_dir, tmp_path, capsys):
    run = tmp_path / "run"
    argv = [
        "-q",
        "train",
        str(built_graph_dir),
        "-o",
        str(run),
        "--epochs",
        "3",
        "--batch-size",
        "16",
        "--hidden-dim",
        "16",
        "--out-dim",
        "8",
        "--channel",
        "image@depicts,is_a:weight=1.5,hops=2",
        "--channel",
        '{"sources": ["text"], "hops": 1}',
    ]
    assert main(argv) == 0
    from graphalign.nn import ModelConfig

    model = json.loads((run / "run.json").read_text())["model"]
    # the channels given replace the default ones; the default inheritance stays
    assert [r["name"] for r in model["readouts"]] == ["inherit", "channels"] and "channels" not in model
    saved = ModelConfig.from_dict(model).readout("channels")["channels"]
    assert (
        [c["sources"] for c in saved] == [["image"], ["text"]] and saved[0]["weight"] == 1.5 and saved[0]["hops"] == 2
    )
    capsys.readouterr()
    assert main(["query", str(run), "--node", "i:cat:0", "--type", "concept", "-k", "2", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["neighbors"]) == 2
    from PIL import Image

    image = tmp_path / "new.png"
    Image.new("RGB", (12, 12), (200, 30, 30)).save(image)
    assert main(["query", str(run), "--image", str(image), "-k", "2", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["neighbors"]) == 2


@pytest.mark.parametrize(
    "spec, message",
    [
        ("image:weight", "KEY=VALUE"),
        ("image:hops=x", "hops='x' is not a number"),
        ("image:decay=2", "decay in (0, 1]"),
        ("image:center=maybe", "is not 0 or 1"),
    ],
)
def test_bad_channel_spec_is_a_usage_error(built_graph_dir, tmp_path, capsys, spec, message):
    argv = ["-q", "train", str(built_graph_dir), "-o", str(tmp_path / "run"), "--epochs", "1", "--channel", spec]
    with pytest.raises(SystemExit):
        main(argv)
    assert message in capsys.readouterr().err


def test_identity_channel_spec_parses_ints_and_flags(built_graph_dir, tmp_path):
    run = tmp_path / "run"
    argv = [
        "-q",
        "train",
        str(built_graph_dir),
        "-o",
        str(run),
        "--epochs",
        "1",
        "--hidden-dim",
        "16",
        "--out-dim",
        "8",
        "--channel",
        "concept@depicts:codes=16,center=0,hops=1,weight=0.5",
    ]
    assert main(argv) == 0
    from graphalign.nn import ModelConfig

    model = ModelConfig.from_dict(json.loads((run / "run.json").read_text())["model"])
    saved = model.readout("channels")["channels"][0]
    assert (
        saved["codes"] == 16 and saved["center"] is False and saved["hops"] == 1 and saved["relations"] == ["depicts"]
    )


def test_build_predictions_need_wordnet_concepts(toy_dataset, tmp_path, capsys):
    argv = [
        "-q",
        "build",
        str(toy_dataset),
        "-o",
        str(tmp_path / "g"),
        "--text-encoder",
        "hashing-text",
        "--image-encoder",
        "color-histogram",
        "--predictions",
        "3",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "no concept carries a WordNet 3.0 offset" in err and "Traceback" not in err
    assert not (tmp_path / "g").exists()


def test_channel_on_an_unknown_node_type_is_a_one_line_error(built_graph_dir, tmp_path, capsys):
    argv = [
        "-q",
        "train",
        str(built_graph_dir),
        "-o",
        str(tmp_path / "run"),
        "--epochs",
        "1",
        "--channel",
        "video@depicts",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "unknown source node type 'video'" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_train_resume_and_bad_run_dir(built_graph_dir, tmp_path, capsys):
    run = tmp_path / "run"
    base = ["-q", "train", str(built_graph_dir), "-o", str(run), "--hidden-dim", "16", "--out-dim", "8"]
    assert main([*base, "--epochs", "2"]) == 0
    assert main([*base, "--epochs", "4", "--resume"]) == 0
    assert [h["epoch"] for h in json.loads((run / "metrics.json").read_text())["history"]] == [1, 2, 3, 4]
    capsys.readouterr()
    assert main(["eval", str(tmp_path)]) == 2
    assert "not a graphalign run folder" in capsys.readouterr().err
    assert main(["query", str(run), "--node", "nope"]) == 2
    assert "unknown node id 'nope'" in capsys.readouterr().err


def test_demo_in_process(toy_dataset, tmp_path, capsys):
    argv = [
        "-q",
        "demo",
        "--data",
        str(toy_dataset),
        "--work-dir",
        str(tmp_path / "w"),
        "--epochs",
        "3",
        "--hidden-dim",
        "16",
        "--out-dim",
        "8",
        *FAST,
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "held-out test links" in out and "image->concept: MRR" in out and "for a random ranking" in out
    assert "new text 'a big red fire engine' -> concept" in out
    assert (tmp_path / "w" / "run" / "model.safetensors").is_file()


@pytest.mark.offline_model
def test_bench_writes_table_and_csv(toy_dataset, tmp_path, capsys):
    out = tmp_path / "results"
    argv = [
        "-q",
        "bench",
        str(toy_dataset),
        "--seeds",
        "0",
        "--epochs",
        "2",
        "--eval-every",
        "2",
        "--knn",
        "--losses",
        "infonce",
        "--out",
        str(out),
        "--cache-dir",
        str(tmp_path / "c"),
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    name = toy_dataset.resolve().name
    assert "## graphalign vs. the best non-graph method" in text and "| no training (ConSE) |" in text
    assert "| graphalign (best preset) |" in text and "| two towers |" in text
    assert "| ablation: graphalign + kNN image->concept edges |" in text
    # one training run, several rows: the best preset, its learned part alone and without each channel
    assert "| ablation: graphalign, learned part alone |" in text and "| two towers, learned part alone |" in text
    assert "| ablation: graphalign, no concept channel |" in text and "rgcn" not in text and "(triplet)" not in text
    assert "gnn preset" not in text  # message passing in training is a row only with --convs
    assert "## Selection: validation MRR averaged over the headline protocols" in text
    assert "--seeds 0 --epochs 2 --eval-every 2 --knn`" in text  # --losses / --convs as by default: not shown
    assert "| relative | 95% interval | per seed | seeds won | target | met |" in text
    assert "| ablation: graphalign, channel scales not fitted |" in text
    assert (out / f"quality-{name}.md").read_text().startswith(f"# Quality benchmark on `{name}`")
    rows = (out / f"quality-{name}.csv").read_text().splitlines()
    assert rows[0].startswith("method,protocol,subset,seed_index,mrr") and len(rows) > 20
    assert any(",val:" in row for row in rows)  # the selection rule's queries


def test_deterministic_flag_reaches_the_train_config(tmp_path):
    from graphalign.cli import _configs, build_parser

    parser = build_parser()
    for extra, expected in (([], True), (["--deterministic"], True), (["--no-deterministic"], False)):
        args = parser.parse_args(["train", str(tmp_path), "-o", str(tmp_path / "run"), *extra])
        assert _configs(args)[3].deterministic is expected


def test_inherit_flags_reach_the_model_config(tmp_path):
    from graphalign.cli import _configs, build_parser

    parser = build_parser()
    train = ["train", str(tmp_path), "-o", str(tmp_path / "run")]
    default = _configs(parser.parse_args(train))[0]
    assert default.readout("inherit") == ModelConfig().readout("inherit") and default.readouts == ModelConfig().readouts
    assert _configs(parser.parse_args([*train, "--no-inherit"]))[0].readout("inherit") is None
    args = parser.parse_args([*train, "--inherit-weight", "0.5", "--inherit-hops", "2"])
    inherit = _configs(args)[0].readout("inherit")
    assert inherit is not None and inherit["weight"] == 0.5 and inherit["hops"] == 2
    # --channel replaces the default channels; inheritance stays first.
    model = _configs(parser.parse_args([*train, "--channel", "image@depicts:hops=1"]))[0]
    assert [r["name"] for r in model.readouts] == ["inherit", "channels"]
    assert [c["sources"] for c in model.readout("channels")["channels"]] == [["image"]]
    assert _configs(parser.parse_args([*train, "--no-channels", "--no-inherit"]))[0].readouts == []


def test_head_flags_reach_the_model_config(tmp_path):
    from graphalign.cli import _configs, build_parser

    parser = build_parser()
    args = parser.parse_args(["train", str(tmp_path), "-o", str(tmp_path / "run")])
    assert (_configs(args)[0].head, _configs(args)[0].head_kwargs) == ("prior", {})
    args = parser.parse_args(["train", str(tmp_path), "-o", str(tmp_path / "run"), "--head", "plain"])
    assert (_configs(args)[0].head, _configs(args)[0].head_kwargs) == ("plain", {})
    args = parser.parse_args(
        ["train", str(tmp_path), "-o", str(tmp_path / "run"), "--head", "prior", "--head-kwargs", '{"scale": 0.3}']
    )
    assert (_configs(args)[0].head, _configs(args)[0].head_kwargs) == ("prior", {"scale": 0.3})
    for gone in ("--prior-residual", "--prior-scale"):
        with pytest.raises(SystemExit):
            parser.parse_args(["train", str(tmp_path), "-o", str(tmp_path / "run"), gone])


def test_bench_schedule_options_change_every_trained_method():
    from graphalign.cli import _bench_schedule, build_parser

    parser = build_parser()
    assert _bench_schedule(parser.parse_args(["bench", "data"])) == {}  # each preset as it is
    args = parser.parse_args(["bench", "data", "--epochs", "3", "--mode", "neighbor", "--num-neighbors", "5", "2"])
    assert _bench_schedule(args) == {"epochs": 3, "sampler": {"name": "neighbor", "num_neighbors": [5, 2]}}


def test_ls_families_match_the_registries():
    from graphalign.cli import REGISTRY_FAMILIES, _registries

    assert tuple(sorted(_registries())) == REGISTRY_FAMILIES


def test_train_says_when_the_untrained_model_is_kept(toy_dataset, tmp_path, capsys):
    assert main(["-q", "build", str(toy_dataset), "-o", str(tmp_path / "g"), *FAST]) == 0
    assert main(["-q", "train", str(tmp_path / "g"), "-o", str(tmp_path / "r"), "--epochs", "0"]) == 0
    out = capsys.readouterr().out
    assert "best epoch 0 of 0 (the untrained model: no epoch improved its validation MRR" in out


def test_tables_align_wide_characters(capsys):
    from graphalign.cli import _print_table

    _print_table([("1", "猫の絵", "x"), ("2", "cat", "y")], ("#", "label", "z"))
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == "1  猫の絵  x" and lines[3] == "2  cat     y"  # 猫の絵 takes 6 columns, as 'label' pads to
