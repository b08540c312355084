"""Output folders and user files (docs/reliability.md): graphalign never deletes or
overwrites what it did not write.

Every case writes a folder the way a user might have it, runs what a user would
run (``BuiltGraph.save``, ``fit(run_dir=...)``, the export, the feature cache, or
the CLI), and checks the clear error (or the success) and that every file that
was there before still has its bytes. The property tests generate the folder
contents, graphalign's own file names included.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphalign.encoders.cache as cache_module
from graphalign.cli import main
from graphalign.encoders import FeatureCache
from graphalign.errors import CheckpointError, ConfigError, OutputError
from graphalign.features import GraphConfig, build_graph
from graphalign.features.store import BuiltGraph
from graphalign.nn.hetero_gnn import ModelConfig
from graphalign.outputs import MARKER, check_output_dir, check_output_file
from graphalign.query.export import export_embeddings
from graphalign.testing import fast_graph_config, make_toy_graph
from graphalign.training.checkpoint import RUN_LAYOUT
from graphalign.training.trainer import TrainConfig, fit

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--text-encoder", "hashing-text", "--text-encoder-kwargs", '{"dim": 32}', "--image-encoder", "color-histogram"]
MODEL = ModelConfig(conv="sage", hidden_dim=8, out_dim=8, num_layers=1)
TRAIN = TrainConfig(epochs=1)
NOTES = b"my notes: do not lose me\n"


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every path under ``folder`` (links not followed): file bytes, link targets, ``"dir"``."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            found[key] = f"link:{os.readlink(path)}"
        elif path.is_dir():
            found[key] = "dir"
        else:
            found[key] = path.read_bytes()
    return found


def assert_kept(before: dict[str, bytes | str], folder: Path) -> None:
    """Every path of ``before`` is still there, unchanged."""
    after = snapshot(folder) if folder.is_dir() else {}
    changed = sorted(k for k, v in before.items() if after.get(k) != v)
    assert not changed, f"changed or deleted: {changed}"


@contextlib.contextmanager
def cwd(folder: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


@pytest.fixture
def graph_dir(toy_built, tmp_path) -> Path:
    """A graph folder graphalign wrote."""
    return toy_built.save(tmp_path / "graph")


# ------------------------------------------------------------------------------------------------ build
def test_build_into_a_folder_with_graph_json_and_user_files(toy_dataset, tmp_path, capsys):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "graph.json").write_text('{"mine": true}')
    (proj / "notes.txt").write_bytes(NOTES)
    before = snapshot(proj)
    for extra in ([], ["--overwrite"]):
        assert main(["-q", "build", str(toy_dataset), "-o", str(proj), *FAST, *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: ") and "notes.txt" in err and "never deletes" in err
        assert_kept(before, proj)


def test_build_cli_subprocess_refuses_a_user_folder(toy_dataset, tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "graph.json").write_text("{}")
    (proj / "notes.txt").write_bytes(NOTES)
    before = snapshot(proj)
    env = {**os.environ, "GRAPHALIGN_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-m", "graphalign", "build", str(toy_dataset), "-o", str(proj), *FAST],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "notes.txt" in lines[0], done.stderr
    assert_kept(before, proj)
    assert not (tmp_path / "cache").exists(), "refused before any encoding"


def test_build_onto_its_own_graph_needs_overwrite(toy_dataset, tmp_path, capsys):
    out = tmp_path / "g"
    assert main(["-q", "build", str(toy_dataset), "-o", str(out), *FAST]) == 0
    assert json.loads((out / MARKER).read_text()) == {"kind": "graph", "format": 1}
    assert main(["-q", "build", str(toy_dataset), "-o", str(out), *FAST]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert main(["-q", "build", str(toy_dataset), "-o", str(out), *FAST, "--overwrite"]) == 0
    (out / "notes.txt").write_bytes(NOTES)  # a user's file added to graphalign's folder
    before = snapshot(out)
    assert main(["-q", "build", str(toy_dataset), "-o", str(out), *FAST, "--overwrite"]) == 2
    assert "notes.txt" in capsys.readouterr().err
    assert_kept(before, out)


def test_output_that_is_a_file_is_refused_before_any_work(toy_dataset, tmp_path, capsys, monkeypatch):
    from graphalign.features import build

    target = tmp_path / "out.txt"
    target.write_bytes(NOTES)
    monkeypatch.setattr(build, "build_graph", lambda *a, **k: pytest.fail("encoded before checking the output"))
    assert main(["-q", "build", str(toy_dataset), "-o", str(target), *FAST]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(["-q", "train", str(toy_dataset), "-o", str(target), "--epochs", "1"]) == 2  # before loading the graph
    assert "is a file, not a folder" in capsys.readouterr().err
    assert target.read_bytes() == NOTES


def test_symlinked_output_folder_is_refused(toy_built, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = tmp_path / "link"
    link.symlink_to(elsewhere, target_is_directory=True)
    for overwrite in (False, True):
        with pytest.raises(OutputError, match="symbolic link"):
            toy_built.save(link, overwrite=overwrite)
        with pytest.raises(OutputError, match="symbolic link"):
            fit(toy_built, MODEL, TRAIN, run_dir=link, overwrite=overwrite)
    assert not any(elsewhere.iterdir())


def test_symlink_planted_in_a_graph_folder_is_refused(toy_built, graph_dir, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_bytes(NOTES)
    (graph_dir / "images").mkdir()
    (graph_dir / "images" / "x.png").symlink_to(outside / "precious.txt")
    before, kept = snapshot(graph_dir), snapshot(outside)
    with pytest.raises(OutputError, match="images/x.png"):
        toy_built.save(graph_dir, overwrite=True)
    assert_kept(before, graph_dir)
    assert_kept(kept, outside)


def test_current_folder_is_refused(toy_built, tmp_path):
    here = tmp_path / "here"
    here.mkdir()
    with cwd(here):
        with pytest.raises(OutputError, match="current folder"):
            toy_built.save(".")
        with pytest.raises(OutputError, match="current folder"):
            fit(toy_built, MODEL, TRAIN, run_dir=".")
    (here / "notes.txt").write_bytes(NOTES)
    with cwd(here):
        assert main(["-q", "build", str(tmp_path / "nope"), "-o", ".", *FAST]) == 2
    assert (here / "notes.txt").read_bytes() == NOTES


def test_graph_folder_of_another_kind_is_refused(toy_built, tmp_path):
    run = tmp_path / "run"
    fit(toy_built, MODEL, TRAIN, run_dir=run)
    before = snapshot(run)
    with pytest.raises(OutputError, match="graphalign run folder, not a graph folder"):
        toy_built.save(run, overwrite=True)
    assert_kept(before, run)


def test_folder_without_marker_written_by_graphalign_is_replaced_with_overwrite(toy_built, graph_dir):
    (graph_dir / MARKER).unlink()  # as written before markers existed: graph.json identifies it
    with pytest.raises(OutputError, match="pass --overwrite"):
        toy_built.save(graph_dir)
    toy_built.save(graph_dir, overwrite=True)
    assert (graph_dir / MARKER).is_file()


def test_replaced_graph_folder_keeps_foreign_files(toy_built, graph_dir, tmp_path):
    """Even if a file appears between the check and the swap, the old folder's foreign files stay."""
    from graphalign.features.store import GRAPH_LAYOUT
    from graphalign.outputs import remove_own_folder

    (graph_dir / "late.txt").write_bytes(NOTES)
    assert not remove_own_folder(graph_dir, GRAPH_LAYOUT)
    assert (graph_dir / "late.txt").read_bytes() == NOTES
    assert sorted(p.name for p in graph_dir.iterdir()) == ["late.txt"]


# ------------------------------------------------------------------------------------------------ train
def test_train_into_someone_elses_model_folder(toy_built, tmp_path, capsys):
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "model.safetensors").write_bytes(b"their weights")
    (hf / "metrics.json").write_text('{"theirs": 1}')
    before = snapshot(hf)
    for overwrite in (False, True):
        with pytest.raises(OutputError, match="not a graphalign run folder"):
            fit(toy_built, MODEL, TRAIN, run_dir=hf, overwrite=overwrite)
    graph = toy_built.save(tmp_path / "graph")
    assert main(["-q", "train", str(graph), "-o", str(hf), "--epochs", "1", "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert_kept(before, hf)


def test_train_onto_its_own_run_needs_overwrite(toy_built, tmp_path):
    run = tmp_path / "run"
    fit(toy_built, MODEL, TRAIN, run_dir=run)
    assert json.loads((run / MARKER).read_text()) == {"kind": "run", "format": 1}
    with pytest.raises(OutputError, match="pass --overwrite"):
        fit(toy_built, MODEL, TRAIN, run_dir=run)
    fit(toy_built, MODEL, TRAIN, run_dir=run, overwrite=True)
    (run / "graph" / "notes.txt").write_bytes(NOTES)
    before = snapshot(run)
    with pytest.raises(OutputError, match="graph/notes.txt"):
        fit(toy_built, MODEL, TRAIN, run_dir=run, overwrite=True)
    assert_kept(before, run)


def test_resume_on_another_graph_is_refused(toy_built, tmp_path, capsys):
    run = tmp_path / "run"
    fit(toy_built, MODEL, TrainConfig(epochs=1), run_dir=run)
    graph = make_toy_graph(tmp_path / "other", images_per_concept=6)
    graph.add_concept("c:extra", name="extra", description="one node more")
    other, _ = build_graph(graph, fast_graph_config())
    before = snapshot(run)
    with pytest.raises(CheckpointError, match="trained on another graph"):
        fit(other, None, TrainConfig(epochs=2), run_dir=run, resume=True)
    assert_kept(before, run)
    other_dir = other.save(tmp_path / "other-graph")
    assert main(["-q", "train", str(other_dir), "-o", str(run), "--epochs", "2", "--resume"]) == 2
    assert "trained on another graph" in capsys.readouterr().err
    # The same graph resumes; a run.json without a fingerprint is checked against the run's copy of its graph.
    saved = json.loads((run / "run.json").read_text())
    del saved["graph_fingerprint"]
    (run / "run.json").write_text(json.dumps(saved))
    with pytest.raises(CheckpointError, match="trained on another graph"):
        fit(other, None, TrainConfig(epochs=2), run_dir=run, resume=True)
    resumed = fit(toy_built, None, TrainConfig(epochs=2), run_dir=run, resume=True)
    assert [h["epoch"] for h in resumed.history] == [1, 2]


def test_resume_needs_graphalign_s_own_run(toy_built, tmp_path):
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "checkpoint.safetensors").write_bytes(b"theirs")
    before = snapshot(hf)
    with pytest.raises(OutputError, match="not a graphalign run folder"):
        fit(toy_built, MODEL, TRAIN, run_dir=hf, resume=True)
    assert_kept(before, hf)


# ------------------------------------------------------------------------------------------------ single files
def test_check_output_file(tmp_path):
    new = tmp_path / "new.npz"
    assert check_output_file(new) == new
    new.write_bytes(NOTES)
    with pytest.raises(OutputError, match="exists; pass --overwrite"):
        check_output_file(new)
    assert check_output_file(new, overwrite=True) == new
    with pytest.raises(OutputError, match="is a folder"):
        check_output_file(tmp_path, overwrite=True)
    link = tmp_path / "link.npz"
    link.symlink_to(new)
    with pytest.raises(OutputError, match="symbolic link"):
        check_output_file(link, overwrite=True)
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_output_file(new / "x.npz")
    assert new.read_bytes() == NOTES


# ------------------------------------------------------------------------------------------------ feature cache
def test_cache_folder_full_of_user_files(toy_built, tmp_path, monkeypatch):
    config = GraphConfig(
        text_encoder="hashing-text",
        text_encoder_kwargs={"dim": 16},
        image_encoder="color-histogram",
        progress=False,
        cache_dir=str(tmp_path / "probe"),
        cache_every=8,
    )
    build_graph(toy_built.graph, config)
    folders = [c.folder.name for c in FeatureCache.all_in(tmp_path / "probe")]
    user = tmp_path / "mine"
    for name in folders:  # user files inside the encoder folders too, some with the cache's own suffixes
        (user / name).mkdir(parents=True)
        for leftover in ("notes.txt", ".notes.tmp", "identity.json.bak", "shard.corrupt"):
            (user / name / leftover).write_bytes(NOTES)
            os.utime(user / name / leftover, (time.time() - 10 * 3600,) * 2)
    (user / "shard-x.safetensors.txt").write_bytes(NOTES)
    (user / "photos").mkdir()
    (user / "photos" / "cat.png").write_bytes(NOTES)
    before = snapshot(user)
    monkeypatch.setattr(cache_module, "MAX_SHARDS", 1)  # merge on every put
    config.cache_dir = str(user)
    _, stats = build_graph(toy_built.graph, config)
    assert stats.total_encoded > 0
    _, stats = build_graph(toy_built.graph, config)
    assert stats.total_encoded == 0
    assert_kept(before, user)


def test_cache_encoder_folder_that_is_a_symlink_is_refused(toy_built, tmp_path):
    config = GraphConfig(
        text_encoder="hashing-text",
        text_encoder_kwargs={"dim": 16},
        image_encoder="color-histogram",
        progress=False,
        cache_dir=str(tmp_path / "probe"),
    )
    build_graph(toy_built.graph, config)
    name = FeatureCache.all_in(tmp_path / "probe")[0].folder.name
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / name).symlink_to(outside, target_is_directory=True)
    config.cache_dir = str(tmp_path / "cache")
    with pytest.raises(OutputError, match="symbolic link"):
        build_graph(toy_built.graph, config)
    assert not any(outside.iterdir())


# ------------------------------------------------------------------------------------------------ properties
OWN_NAMES = [
    "graph.json",
    "run.json",
    "model.safetensors",
    "metrics.json",
    MARKER,
    "split.safetensors",
    "checkpoint.safetensors",
    "nodes.jsonl",
    "edges.tsv",
    "features.safetensors",
    ".graph.json.x1.tmp",
    "images/a.png",
    "graph/graph.json",
    f"graph/{MARKER}",
    "graph/features.safetensors",
    "graph/images/b.png",
    ".graph.tmp-1234/graph.json",
]
USER_NAMES = [
    "notes.txt",
    "graph/notes.txt",
    "images/notes.txt",
    "data/deep/table.csv",
    ".hidden",
    "graph/images/x.jpg",
    "model.bin",
]
CONTENTS = st.sampled_from(
    [
        b"",
        b"{}",
        b"not json",
        b'{"kind": "graph", "format": 1}',
        b'{"kind": "run", "format": 1}',
        b'{"format": "graphalign-graph", "version": 1}',
        b'{"format": "graphalign-run", "version": 1}',
    ]
)
FOLDERS = st.tuples(
    st.dictionaries(st.sampled_from(OWN_NAMES), CONTENTS, max_size=8),
    st.lists(st.sampled_from(USER_NAMES), min_size=1, max_size=3, unique=True),
)
PROPERTY = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def make_folder(root: Path, own: dict[str, bytes], user: list[str]) -> Path:
    folder = root / "out"
    folder.mkdir()
    for name, content in own.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    for name in user:
        path = folder / name
        if path.is_dir():
            path = path / "user.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(NOTES + name.encode())
    return folder


@PROPERTY
@given(contents=FOLDERS, overwrite=st.booleans())
def test_build_never_changes_a_folder_holding_a_user_file(toy_built, contents, overwrite):
    with tempfile.TemporaryDirectory() as root:
        folder = make_folder(Path(root), *contents)
        before = snapshot(folder)
        with pytest.raises(OutputError):
            toy_built.save(folder, overwrite=overwrite)
        assert_kept(before, folder)
        assert sorted(p.name for p in Path(root).iterdir()) == ["out"], "no staging or old folders left"


@PROPERTY
@given(contents=FOLDERS, overwrite=st.booleans(), resume=st.booleans())
def test_train_never_changes_a_folder_holding_a_user_file(toy_built, contents, overwrite, resume):
    with tempfile.TemporaryDirectory() as root:
        folder = make_folder(Path(root), *contents)
        before = snapshot(folder)
        with pytest.raises(OutputError):
            fit(toy_built, MODEL, TRAIN, run_dir=folder, overwrite=overwrite, resume=resume)
        assert_kept(before, folder)


@PROPERTY
@given(contents=FOLDERS, overwrite=st.booleans(), name=st.sampled_from(["emb.npz", "emb.tsv", "notes.txt", "graph"]))
def test_export_never_changes_a_user_file(toy_built, contents, overwrite, name):
    embeddings = {t: torch.zeros(x.size(0), 2) for t, x in toy_built.features.items()}
    with tempfile.TemporaryDirectory() as root:
        folder = make_folder(Path(root), *contents)
        target = folder / (name if name != "notes.txt" else "notes.tsv")
        if name == "notes.txt":
            target.write_bytes(NOTES)
        before = snapshot(folder)
        existing = [
            p for p in (target, target.with_name(f"{target.stem}-metadata.tsv")) if p.exists() or p.is_symlink()
        ]
        if target.suffix not in (".npz", ".tsv") or existing and not overwrite or target.is_dir():
            with pytest.raises((OutputError, ConfigError)):
                export_embeddings(embeddings, toy_built.index.ids, toy_built.graph, target, overwrite=overwrite)
            assert_kept(before, folder)
        else:  # a new file beside the user's files, or one the user asked to replace
            export_embeddings(embeddings, toy_built.index.ids, toy_built.graph, target, overwrite=overwrite)
            replaced = {str(p.relative_to(folder)) for p in existing}
            assert_kept({k: v for k, v in before.items() if k not in replaced}, folder)


@PROPERTY
@given(contents=FOLDERS)
def test_cache_never_changes_a_user_file(toy_built, contents, monkeypatch):
    monkeypatch.setattr(cache_module, "MAX_SHARDS", 1)
    with tempfile.TemporaryDirectory() as root:
        folder = make_folder(Path(root), *contents)
        before = snapshot(folder)
        config = GraphConfig(
            text_encoder="hashing-text",
            text_encoder_kwargs={"dim": 8},
            image_encoder="color-histogram",
            progress=False,
            cache_dir=str(folder),
            cache_every=16,
        )
        build_graph(toy_built.graph, config)
        assert_kept(before, folder)


def test_empty_folders_are_written(toy_built, tmp_path):
    (tmp_path / "g").mkdir()
    (tmp_path / "r").mkdir()
    assert check_output_dir(tmp_path / "r", RUN_LAYOUT) == "empty"
    toy_built.save(tmp_path / "g")
    fit(toy_built, MODEL, TRAIN, run_dir=tmp_path / "r")
    assert BuiltGraph.load(tmp_path / "g").feature_dims == toy_built.feature_dims
    assert (tmp_path / "r" / "model.safetensors").is_file()


def test_dataset_build_only_writes_a_new_or_empty_folder(tmp_path):
    from graphalign.datasets import build

    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    (folder / "nodes.jsonl").write_text("{}\n")
    before = snapshot(folder)
    with pytest.raises(OutputError, match="did not write"):
        build("tuxpaint_small", folder)
    assert_kept(before, folder)
    assert build("tuxpaint_small", tmp_path / "new") == tmp_path / "new"
    assert (tmp_path / "new" / "nodes.jsonl").is_file()


def test_every_case_is_documented():
    text = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    missing = [
        name
        for name in globals()
        if name.startswith("test_")
        and name != "test_every_case_is_documented"
        and f"`{name[len('test_') :]}`" not in text
    ]
    assert not missing, f"add these cases to docs/reliability.md (Output folders and user files): {missing}"


def test_check_own_file_replaces_only_what_its_writer_wrote(tmp_path: Path) -> None:
    from graphalign.outputs import check_own_file

    def ours(path: Path) -> bool:
        return path.read_text().startswith("# ours")

    assert check_own_file(tmp_path / "new.md", ours, "tool") == tmp_path / "new.md"  # absent: written
    (tmp_path / "ours.md").write_text("# ours\n")
    assert check_own_file(tmp_path / "ours.md", ours, "tool") == tmp_path / "ours.md"  # its own: replaced
    (tmp_path / "user.md").write_text("my notes\n")
    with pytest.raises(OutputError, match=r"user\.md: exists and was not written by tool; move it away"):
        check_own_file(tmp_path / "user.md", ours, "tool")
    (tmp_path / "folder.md").mkdir()
    with pytest.raises(OutputError, match="is a folder"):
        check_own_file(tmp_path / "folder.md", ours, "tool")
    (tmp_path / "link.md").symlink_to(tmp_path / "ours.md")
    with pytest.raises(OutputError, match="symbolic link"):
        check_own_file(tmp_path / "link.md", ours, "tool")
    assert (tmp_path / "user.md").read_text() == "my notes\n" and (tmp_path / "ours.md").read_text() == "# ours\n"


def test_a_folder_holding_graphalign_folders_of_other_kinds_says_so(tmp_path: Path) -> None:
    from graphalign.outputs import OutputLayout, check_output_dir, write_marker

    target = tmp_path / "project"
    (target / "graph").mkdir(parents=True)
    write_marker(target / "graph", OutputLayout("graph"))
    (target / "notes.txt").write_text("mine")
    with pytest.raises(OutputError) as caught:
        check_output_dir(target, OutputLayout("dataset", files=("nodes.jsonl",)))
    message = str(caught.value)
    assert "holds files graphalign did not write (notes.txt) and graphalign graph folders (graph)" in message
    (target / "notes.txt").unlink()
    with pytest.raises(OutputError, match=r"project: holds graphalign graph folders \(graph\); a dataset folder"):
        check_output_dir(target, OutputLayout("dataset", files=("nodes.jsonl",)))
