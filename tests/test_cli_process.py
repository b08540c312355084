"""Every documented command, run as a user runs it: the ``graphalign`` executable in a separate process.

In-process tests (``main([...])``) share imports with the rest of the suite and
once hid an import cycle that crashed ``graphalign eval`` in every fresh process;
these tests start a new interpreter for each command, from a folder other than
the repository, with an empty feature cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

FAST = ["--text-encoder", "hashing-text", "--text-encoder-kwargs", '{"dim": 32}', "--image-encoder", "color-histogram"]
EXECUTABLE = Path(sys.executable).parent / "graphalign"


def graphalign(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Runs the installed ``graphalign`` command in ``cwd`` with its own feature cache."""
    env = {**os.environ, "GRAPHALIGN_CACHE": str(cwd / "feature-cache")}
    result = subprocess.run([str(EXECUTABLE), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, f"graphalign {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
        assert "Traceback" not in result.stderr
    return result


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, toy_dataset: Path) -> Path:
    """A user's folder with a graph folder and a run folder made by the commands themselves."""
    cwd = tmp_path_factory.mktemp("user")
    graphalign("-q", "build", str(toy_dataset), "-o", "graph", *FAST, cwd=cwd)
    graphalign("-q", "train", "graph", "-o", "run", "--epochs", "3", "--seed", "0", cwd=cwd)
    return cwd


def test_the_executable_is_installed() -> None:
    assert EXECUTABLE.is_file(), f"{EXECUTABLE} missing: install graphalign with pip first"


def test_version(tmp_path: Path) -> None:
    from graphalign import __version__

    assert graphalign("--version", cwd=tmp_path).stdout.strip() == f"graphalign {__version__}"


def test_build_writes_a_graph_folder(workdir: Path) -> None:
    assert (workdir / "graph" / "graph.json").is_file()


def test_info(workdir: Path) -> None:
    out = graphalign("info", "graph", cwd=workdir).stdout
    rows = [line.split() for line in out.splitlines()]
    assert ["image", "32", "64"] in rows
    assert "text encoder: hashing-text (cache identity" in out
    summary = json.loads(graphalign("info", "graph", "--json", cwd=workdir).stdout)
    assert summary["nodes"] == {"concept": 11, "text": 32, "image": 32}


def test_train_writes_a_run_and_says_what_it_measured(workdir: Path, tmp_path: Path) -> None:
    out = graphalign("train", str(workdir / "graph"), "-o", "run2", "--epochs", "2", "--seed", "1", cwd=tmp_path).stdout
    assert "test metrics (filtered ranking, held-out links):" in out
    assert "image->concept" in out
    metrics = json.loads((tmp_path / "run2" / "metrics.json").read_text())
    assert metrics["test"]["image->concept/mrr"] > 0
    fitted = metrics["channel_scales"]["image->concept"]  # the default model's channels, fitted on validation
    assert len(fitted["scales"]) == 4 and fitted["val_mrr_after"] >= fitted["val_mrr_before"]
    assert "graph channel scales fitted on the validation links (one per channel): " in out
    weights = fitted["exemplar_weights"]  # the nearest-exemplar term, weighted (or off) on validation
    assert len(weights) == 2 and all(w >= 0 for w in weights)
    assert isinstance(fitted["exemplar_offset"], float) and -0.5 <= fitted["exemplar_offset"] <= 0.1  # its grid
    assert fitted["exemplar_transfer"] in (0.0, 0.1, 0.2, 0.3, 0.5)  # the semantic transfer's weight, its grid
    assert "nearest-exemplar term of image->concept: " in out


def test_train_with_a_preset_in_a_fresh_process(workdir: Path, tmp_path: Path) -> None:
    graphalign("-q", "train", str(workdir / "graph"), "-o", "run3", "--preset", "towers", "--epochs", "1", cwd=tmp_path)
    saved = json.loads((tmp_path / "run3" / "run.json").read_text())
    assert saved["model"]["num_layers"] == 0 and [r["name"] for r in saved["model"]["readouts"]] == ["channels"]
    assert saved["train"]["epochs"] == 1 and saved["train"]["sampler"]["name"] == "full"


@pytest.mark.parametrize(
    ("flags", "exemplars", "propagate"),
    [
        (["--no-exemplars", "--no-propagate", "--layers", "1"], None, None),
        (
            ["--exemplar-hops", "1", "--transfer-top", "5", "--transfer-temperature", "0.1", "--propagate-hops", "1"]
            + ["--propagate-dim", "8"],
            {"hops": 1, "top": 5, "temperature": 0.1},
            {"hops": 1, "dim": 8},
        ),
    ],
)
def test_train_exemplar_and_propagation_flags_in_a_fresh_process(
    workdir: Path, tmp_path: Path, flags: list[str], exemplars: dict | None, propagate: dict | None
) -> None:
    out = graphalign("train", str(workdir / "graph"), "-o", "run4", "--epochs", "1", *flags, cwd=tmp_path).stdout
    saved = json.loads((tmp_path / "run4" / "run.json").read_text())["model"]
    assert saved["exemplars"] == exemplars and saved["propagate"] == propagate
    fitted = json.loads((tmp_path / "run4" / "metrics.json").read_text())["channel_scales"]["image->concept"]
    assert ("exemplar_weights" in fitted) == (exemplars is not None)
    assert ("nearest-exemplar term of image->concept: " in out) == (exemplars is not None)
    # the saved run loads and ranks in a fresh process with the same settings
    assert "image->concept" in graphalign("eval", "run4", cwd=tmp_path).stdout


def test_eval_in_a_fresh_process(workdir: Path) -> None:
    out = graphalign("eval", "run", cwd=workdir).stdout
    assert "test metrics of run (filtered ranking):" in out and "image->concept" in out
    metrics = json.loads(graphalign("eval", "run", "--json", cwd=workdir).stdout)
    saved = json.loads((workdir / "run" / "metrics.json").read_text())["test"]
    assert metrics["image->concept/mrr"] == pytest.approx(saved["image->concept/mrr"], abs=1e-6)


def test_query_by_node_text_and_image(workdir: Path, toy_dataset: Path) -> None:
    image_id = next(
        json.loads(line)["id"]
        for line in (toy_dataset / "nodes.jsonl").read_text().splitlines()
        if json.loads(line)["type"] == "image"
    )
    out = graphalign("query", "run", "--node", image_id, "--type", "concept", "-k", "3", cwd=workdir).stdout
    assert f"nearest to {image_id}" in out and len([ln for ln in out.splitlines() if " concept " in ln]) == 3
    found = json.loads(graphalign("query", "run", "--text", "a red square", "-k", "2", "--json", cwd=workdir).stdout)
    assert len(found["neighbors"]) == 2 and all(n["type"] == "concept" for n in found["neighbors"])
    image = next((toy_dataset / "images").rglob("*.png"))
    out = graphalign("query", "run", "--image", str(image), "--type", "image", "-k", "1", cwd=workdir).stdout
    assert "nearest image nodes to the new image" in out


def test_export_npz_and_projector_tsv(workdir: Path) -> None:
    out = graphalign("export", "run", "-o", "emb.npz", cwd=workdir).stdout
    assert "exported 75 vectors" in out
    with np.load(workdir / "emb.npz") as saved:
        assert saved["vectors"].shape[0] == 75 and saved["ids"].shape == (75,)
        assert sorted(set(saved["types"].tolist())) == ["concept", "image", "text"]
    graphalign("export", "run", "-o", "emb.tsv", "--type", "image", cwd=workdir)
    vectors = (workdir / "emb.tsv").read_text().splitlines()
    meta = (workdir / "emb-metadata.tsv").read_text().splitlines()
    assert len(vectors) == 32 and meta[0] == "id\ttype\tlabel" and len(meta) == 33
    assert all(line.split("\t")[1] == "image" for line in meta[1:])
    again = graphalign("export", "run", "-o", "emb.npz", cwd=workdir, check=False)
    assert again.returncode == 2 and again.stderr.startswith("error: ") and "Traceback" not in again.stderr


def test_ls_marks_defaults_and_extras(tmp_path: Path) -> None:
    out = graphalign("ls", cwd=tmp_path).stdout
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert "default text encoder" in lines["minilm"] and "default image encoder" in lines["conse"]
    assert "default" in lines["gatv2"] and "default" in lines["infonce"] and "default" in lines["exact"]
    assert "default" in lines["best"] and "default" in lines["imagenet_wordnet"] and "default" in lines["auto"]
    assert "default" not in lines["fast"] and "default" not in lines["efficientnet-lite0"]
    assert "needs graphalign[faiss]" in lines["faiss"] and "hf-text" not in lines


def test_demo_from_any_folder(tmp_path: Path) -> None:
    result = graphalign("demo", *FAST, "--epochs", "2", "--work-dir", "demo-run", cwd=tmp_path)
    assert "held-out test links" in result.stdout
    # what it trained: the best preset, no message-passing layer, propagated features, the exemplar term
    assert "(best preset + options: no layers, features propagated 2 hops, prior head, inherit + channels, " in (
        result.stdout
    )
    assert "exemplar term, infonce)" in result.stdout
    assert (tmp_path / "demo-run" / "run" / "metrics.json").is_file()


def test_no_command_prints_help_and_exits_2(tmp_path: Path) -> None:
    result = graphalign(cwd=tmp_path, check=False)
    assert result.returncode == 2 and "usage: graphalign" in result.stdout


def test_api_users_see_no_deprecation_warning(tmp_path: Path, toy_dataset: Path) -> None:
    code = (
        "import graphalign as ga\n"
        "from graphalign.features import GraphConfig\n"
        f"built, _ = ga.build_graph({str(toy_dataset)!r}, GraphConfig(text_encoder='hashing-text', "
        "image_encoder='color-histogram', progress=False, use_cache=False))\n"
        "result = ga.fit(built, train_config=ga.TrainConfig(epochs=1), run=ga.RunConfig(progress=False))\n"
        "print(ga.Aligner(result).neighbors(built.index.ids['image'][0], k=1, type='concept')[0].type)\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-W", "error::FutureWarning", "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "concept"
    assert "Warning" not in result.stderr


def test_dataset_build_writes_a_loadable_folder(tmp_path: Path) -> None:
    graphalign("dataset", "build", "tuxpaint_small", "-o", "data", cwd=tmp_path)
    assert (tmp_path / "data" / "nodes.jsonl").is_file() and (tmp_path / "data" / "edges.tsv").is_file()
    again = graphalign("dataset", "build", "tuxpaint_small", "-o", "data", cwd=tmp_path, check=False)
    assert again.returncode == 2 and again.stderr.startswith("error: ") and "Traceback" not in again.stderr


@pytest.mark.offline_model
def test_bench_writes_its_table(tmp_path: Path) -> None:
    args = ["--seeds", "0", "--epochs", "1", "--losses", "infonce", "--convs", "gatv2", "--presets", "fast"]
    out = graphalign("-q", "bench", "tuxpaint_small", *args, "--out", "out", cwd=tmp_path).stdout
    assert "# Quality benchmark on `tuxpaint_small`" in out and "| two towers |" in out
    assert "| graphalign (best preset) |" in out and "## Selection" in out
    assert "| ablation: graphalign (gnn preset) |" in out and "| graphalign (fast preset) |" in out
    assert (tmp_path / "out" / "quality-tuxpaint_small.md").is_file()
    assert (tmp_path / "out" / "quality-tuxpaint_small.csv").is_file()
    again = graphalign("-q", "bench", "tuxpaint_small", *args, "--out", "out", cwd=tmp_path).stdout
    assert "# Quality benchmark on `tuxpaint_small`" in again  # its own report is replaced


def test_bench_refuses_a_report_file_it_did_not_write(tmp_path: Path) -> None:
    out = tmp_path / "docs" / "results"
    out.mkdir(parents=True)
    (out / "quality-tuxpaint_small.md").write_text("my notes\n")
    (out / "quality-tuxpaint_small.csv").write_text("a,b\n1,2\n")
    result = graphalign("bench", "tuxpaint_small", "--seeds", "0", "--epochs", "1", cwd=tmp_path, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "error: docs/results/quality-tuxpaint_small.md: exists and was not written by graphalign bench; "
        "move it away or choose another output folder"
    )
    assert lines[1].startswith("docs/results/quality-tuxpaint_small.csv: exists and was not written")  # one report
    assert (out / "quality-tuxpaint_small.md").read_text() == "my notes\n"  # nothing lost
    assert (out / "quality-tuxpaint_small.csv").read_text() == "a,b\n1,2\n"


def test_train_refuses_a_channel_relation_the_graph_lacks(workdir: Path, tmp_path: Path) -> None:
    channels = ["--channel", "image@nosuchrel", "--channel", "concept@is_a,bogus"]
    result = graphalign("train", str(workdir / "graph"), "-o", "run", *channels, cwd=tmp_path, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[:2] == [
        "error: --channel 1: relation 'nosuchrel' is not in the graph",
        "--channel 2: relation 'bogus' is not in the graph",
    ]
    assert "the graph's relations: depicts, describes, is_a" in result.stderr
    assert not (tmp_path / "run").exists()


def test_serve_on_a_port_in_use_is_one_error_line(tmp_path: Path) -> None:
    import socket  # the port is checked before the serve extra is imported

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = graphalign("serve", "no-run-needed", "--port", str(port), cwd=tmp_path, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == f"error: 127.0.0.1:{port} is in use; choose another --port\n"
    assert result.stdout == ""


def test_a_missing_run_folder_and_a_file_say_what_they_are(workdir: Path, tmp_path: Path) -> None:
    missing = graphalign("eval", "nope", cwd=tmp_path, check=False)
    assert missing.returncode == 2
    assert missing.stderr == "error: nope: no such folder; give a run folder that `graphalign train` wrote\n"
    (tmp_path / "notes.txt").write_text("x")
    file = graphalign("query", "notes.txt", "--text", "a cat", cwd=tmp_path, check=False)
    assert file.returncode == 2 and "notes.txt: is a file, not a run folder" in file.stderr
    data = graphalign("build", "notes.txt", "-o", "graph", cwd=tmp_path, check=False)
    assert data.returncode == 2 and "notes.txt: is a file, not a dataset folder" in data.stderr


def test_help_shows_the_sampler_defaults_training_uses(tmp_path: Path) -> None:
    from graphalign.training.sampler_config import AutoSampling
    from graphalign.training.trainer import TrainConfig

    sampler = TrainConfig().sampler
    text = " ".join(graphalign("train", "--help", cwd=tmp_path).stdout.split())
    assert f"(default: {sampler['steps_per_epoch']}, TrainConfig.sampler)" in text
    assert f"(default: {sampler['isolate_nodes']}, TrainConfig.sampler)" in text
    fan_out = " ".join(map(str, AutoSampling().num_neighbors))
    assert f"fan-out per hop (-1: all) (default: {fan_out}, TrainConfig.sampler)" in text


def _copy_without(dataset: Path, dest: Path, node_type: str) -> Path:
    """A copy of ``dataset`` without its nodes of ``node_type`` and their edges."""
    shutil.copytree(dataset, dest)
    nodes = [json.loads(line) for line in (dest / "nodes.jsonl").read_text().splitlines() if line.strip()]
    dropped = {node["id"] for node in nodes if node["type"] == node_type}
    (dest / "nodes.jsonl").write_text("".join(json.dumps(node) + "\n" for node in nodes if node["id"] not in dropped))
    edges = [
        line
        for line in (dest / "edges.tsv").read_text().splitlines()
        if line.startswith("#") or not {line.split("\t")[0], line.split("\t")[-1]} & dropped
    ]
    (dest / "edges.tsv").write_text("\n".join(edges) + "\n")
    return dest


def test_query_a_new_text_in_a_graph_without_texts_or_without_concepts(toy_dataset: Path, tmp_path: Path) -> None:
    """Without text nodes, a new text is placed as a new concept (concepts are encoded by the text encoder);
    without concepts, the default ranks every node type instead of failing on the missing concepts."""
    for dropped, header in (("text", "nearest concept nodes to the new text"), ("concept", "nearest nodes to the new")):
        data = _copy_without(toy_dataset, tmp_path / f"no-{dropped}", dropped)
        graphalign("-q", "build", str(data), "-o", f"graph-{dropped}", *FAST, cwd=tmp_path)
        graphalign("-q", "train", f"graph-{dropped}", "-o", f"run-{dropped}", "--epochs", "2", cwd=tmp_path)
        found = graphalign("query", f"run-{dropped}", "--text", "a red square", "-k", "3", cwd=tmp_path).stdout
        assert found.startswith(header) and found.count("\n") == 6, found
    images = graphalign(
        "query", "run-text", "--text", "a red square", "--type", "image", "-k", "2", "--json", cwd=tmp_path
    )
    assert [n["type"] for n in json.loads(images.stdout)["neighbors"]] == ["image", "image"]
    hops = graphalign("query", "run-text", "--text", "a cat", "--graph-hops", "1", cwd=tmp_path, check=False)
    assert hops.returncode == 2
    assert hops.stderr == "error: --graph-hops lists the graph neighbours of a --node; a new text or image has none\n"


def test_the_explorer_map_does_not_block_training_again(workdir: Path, tmp_path: Path) -> None:
    """``serve`` caches its map in the run folder; ``train --overwrite`` and ``--resume`` know it as
    graphalign's own file (the map carries a fingerprint of the weights: retrained, it is computed again)."""
    shutil.copytree(workdir / "run", tmp_path / "run")
    script = (
        "import sys; from pathlib import Path; from graphalign.query import Aligner; "
        "from graphalign.serve.layout import load_or_compute_map; "
        "load_or_compute_map(Aligner.load(sys.argv[1]), Path(sys.argv[1]))"
    )
    subprocess.run([sys.executable, "-c", script, "run"], cwd=tmp_path, check=True, timeout=300)
    assert (tmp_path / "run" / "map.json").is_file()
    graph = str(workdir / "graph")
    graphalign("-q", "train", graph, "-o", "run", "--resume", "--epochs", "4", cwd=tmp_path)
    graphalign("-q", "train", graph, "-o", "run", "--overwrite", "--epochs", "1", cwd=tmp_path)


def test_a_run_whose_graph_was_replaced_is_refused(workdir: Path, toy_dataset: Path, tmp_path: Path) -> None:
    data = _copy_without(toy_dataset, tmp_path / "other", "text")
    graphalign("-q", "build", str(data), "-o", "other-graph", *FAST, cwd=tmp_path)
    shutil.copytree(workdir / "run", tmp_path / "run")
    shutil.rmtree(tmp_path / "run" / "graph")
    shutil.copytree(tmp_path / "other-graph", tmp_path / "run" / "graph")
    for command in (["eval", "run"], ["query", "run", "--text", "a cat"]):
        result = graphalign(*command, cwd=tmp_path, check=False)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.startswith(f"error: {Path('run') / 'graph'}: not the graph this run was trained on")


def test_train_refuses_a_misspelled_supervise_relation(workdir: Path, tmp_path: Path) -> None:
    args = ("train", str(workdir / "graph"), "-o", "run", "--supervise", "depicts", "describs")
    result = graphalign(*args, cwd=tmp_path, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "SplitConfig.supervise names 'describs', with no supervision edges in this graph" in result.stderr
    assert "relations with supervision edges: depicts, describes, is_a" in result.stderr


def test_resume_says_which_given_settings_it_keeps_its_own_for(workdir: Path, tmp_path: Path) -> None:
    graph = str(workdir / "graph")
    graphalign("-q", "train", graph, "-o", "run", "--epochs", "2", cwd=tmp_path)
    plain = graphalign("train", graph, "-o", "run", "--resume", "--epochs", "2", cwd=tmp_path)
    assert "note: a resumed run" not in plain.stderr  # nothing given that it does not take
    changed = graphalign("train", graph, "-o", "run", "--resume", "--epochs", "2", "--lr", "0.5", cwd=tmp_path)
    assert (
        "note: a resumed run keeps its own settings; not applied: train.lr 0.5 (the run keeps 0.002)" in changed.stderr
    )
    assert "resuming keeps the run's own settings" not in changed.stderr  # said once, by the command


def test_resume_into_a_folder_without_a_checkpoint_trains_with_the_given_settings(
    workdir: Path, tmp_path: Path
) -> None:
    fresh = graphalign(
        "train", str(workdir / "graph"), "-o", "new", "--resume", "--epochs", "1", "--lr", "0.123", cwd=tmp_path
    )
    assert "note: a resumed run" not in fresh.stderr  # nothing to resume: a new run of these settings
    assert json.loads((tmp_path / "new" / "run.json").read_text())["train"]["lr"] == 0.123


def test_quiet_and_verbose_also_after_the_command(workdir: Path, tmp_path: Path) -> None:
    info = graphalign("info", str(workdir / "graph"), "-q", cwd=tmp_path)
    assert info.stdout.startswith("node type") and info.stderr == ""
    trained = graphalign("train", str(workdir / "graph"), "-o", "run", "--epochs", "1", "-q", cwd=tmp_path)
    assert "epochs:" not in trained.stderr and "test metrics" in trained.stdout  # no progress bar, results print
    verbose = graphalign("info", str(workdir / "graph"), "-v", cwd=tmp_path)
    assert "INFO" in verbose.stderr


def test_train_without_test_links_says_so_instead_of_an_empty_table(tmp_path: Path) -> None:
    from PIL import Image

    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    Image.new("RGB", (8, 8), (200, 30, 30)).save(data / "images" / "cat.png")
    nodes = [
        {"id": "cat", "type": "concept", "name": "cat"},
        {"id": "img1", "type": "image", "path": "images/cat.png"},
        {"id": "t1", "type": "text", "text": "A red cat."},
    ]
    (data / "nodes.jsonl").write_text("".join(json.dumps(n) + "\n" for n in nodes))
    (data / "edges.tsv").write_text("img1\tdepicts\tcat\nt1\tdescribes\timg1\n")
    graphalign("-q", "build", "data", "-o", "graph", *FAST, cwd=tmp_path)
    out = graphalign("train", "graph", "-o", "run", "--epochs", "1", cwd=tmp_path).stdout
    table = out.split("test metrics (filtered ranking, held-out links):\n", 1)[1]
    assert table.startswith("  none: the split held out no links for this part (a graph with few images or texts)")


def test_bench_on_a_graph_without_texts_says_what_it_cannot_measure(toy_dataset: Path, tmp_path: Path) -> None:
    """A folder with images, concepts and ``depicts`` / ``is_a`` alone: the benchmark runs, the default's
    text channel is left out of the model and of its ablations, and the report names the protocols that have
    nothing to measure."""
    _copy_without(toy_dataset, tmp_path / "no-text", "text")
    args = ("--seeds", "0", "1", "--epochs", "1", "--out", "out")
    out = graphalign("-q", "bench", "no-text", *args, cwd=tmp_path).stdout
    assert "| graphalign (best preset) |" in out and "| ablation: graphalign, no text channel |" in out
    assert "Not measured on this graph (no held-out pairs on any seed, so left out of the tables): b:text->image" in out
    assert "b:text->image mrr" not in out
    assert (tmp_path / "out" / "quality-no-text.md").is_file()


def test_bench_refuses_a_graph_without_depicts_edges_and_repeated_seeds(toy_dataset: Path, tmp_path: Path) -> None:
    _copy_without(toy_dataset, tmp_path / "no-image", "image")
    result = graphalign("bench", "no-image", "--seeds", "0", "--out", "out", cwd=tmp_path, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(
        "error: the benchmark needs images linked to concepts by 'depicts' edges (image depicts concept); "
        "this graph has none (its edge types: "
    )
    twice = graphalign("bench", str(toy_dataset), "--seeds", "0", "0", cwd=tmp_path, check=False)
    assert twice.returncode == 2
    assert twice.stderr == "error: --seeds must be distinct (a seed given twice is one run counted twice), got [0, 0]\n"
    assert not (tmp_path / "out").exists() and not (tmp_path / "docs").exists()
