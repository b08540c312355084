"""Named datasets (graphalign.datasets.base): names, bundled paths, loading by name from any folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import graphalign as ga
from graphalign import datasets
from graphalign.errors import DataFormatError, DatasetError, RegistryError


def test_names_and_bundled_path() -> None:
    assert datasets.names() == ["openclipart_wordnet", "tuxpaint_small", "tuxpaint_wordnet"]
    folder = datasets.path("tuxpaint_small")
    assert folder.is_dir() and folder.is_relative_to(Path(datasets.__file__).parent)
    for name in ("nodes.jsonl", "edges.tsv", "stats.json", "LICENSE-tuxpaint-stamps.txt", "LICENSE-wordnet.txt"):
        assert (folder / name).is_file(), name
    assert ga.datasets is datasets


def test_path_of_a_recipe_says_how_to_build_it() -> None:
    with pytest.raises(DatasetError, match="graphalign dataset build tuxpaint_wordnet -o DIR"):
        datasets.path("tuxpaint_wordnet")


def test_unknown_name_lists_the_names() -> None:
    with pytest.raises(RegistryError, match="tuxpaint_small, tuxpaint_wordnet.*Did you mean 'tuxpaint_small'"):
        datasets.path("tuxpaint_smal")


def test_resolve_prefers_an_existing_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert datasets.resolve("tuxpaint_small") == datasets.path("tuxpaint_small")
    assert datasets.resolve(tmp_path) == tmp_path
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tuxpaint_small").mkdir()
    assert datasets.resolve("tuxpaint_small") == Path("tuxpaint_small")  # a local folder shadows the name


def test_resolve_errors_name_the_bundled_datasets() -> None:
    with pytest.raises(
        DataFormatError, match=r"^nope: dataset folder not found \(nor the name of a bundled dataset: tuxpaint_small\)$"
    ):
        datasets.resolve("nope")
    with pytest.raises(DataFormatError, match="not bundled but built by a recipe"):
        ga.load_dataset("tuxpaint_wordnet")


def test_query_images_come_with_the_bundled_sample() -> None:
    images = datasets.query_images("tuxpaint_small")
    assert [p.name for p in images] == ["firetruck.png", "kangaroo.png", "pizza.png"]
    assert all(p.is_file() for p in images)
    assert datasets.query_images(datasets.path("tuxpaint_small")) == images
    assert datasets.query_images("tuxpaint_wordnet") == []
    graph_images = {Path(n.path).name for n in ga.load_dataset("tuxpaint_small", check_images=False).nodes("image")}
    assert not graph_images & {p.name for p in images}  # new images, not in the graph


def test_query_images_of_another_folder_are_none(toy_dataset: Path) -> None:
    assert datasets.query_images(toy_dataset) == []


def test_build_copies_a_bundled_dataset(tmp_path: Path) -> None:
    out = datasets.build("tuxpaint_small", tmp_path / "copy")
    assert out == tmp_path / "copy"
    assert (out / "nodes.jsonl").read_bytes() == (datasets.path("tuxpaint_small") / "nodes.jsonl").read_bytes()
    assert len(list((out / "images").rglob("*.png"))) == 298


def test_load_by_name_from_another_folder(tmp_path: Path) -> None:
    code = (
        "import json, graphalign as ga; g = ga.load_dataset('tuxpaint_small'); "
        "print(json.dumps({'root': str(g.root), 'counts': g.counts()}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(result["root"]) == datasets.path("tuxpaint_small")
    assert result["counts"]["nodes"] == {"concept": 408, "text": 1168, "image": 298}


def test_ls_and_dataset_path_on_the_command_line(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "graphalign"]
    out = subprocess.run(
        [*run, "dataset", "path", "tuxpaint_small"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert Path(out.stdout.strip()) == datasets.path("tuxpaint_small")
    out = subprocess.run(
        [*run, "dataset", "path", "tuxpaint_wordnet"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 2 and out.stderr.startswith("error: dataset 'tuxpaint_wordnet' is not bundled")


def test_ls_datasets_names_the_default_and_what_the_recipe_needs(capsys: pytest.CaptureFixture[str]) -> None:
    from graphalign.cli import main

    assert main(["ls", "datasets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "datasets:"
    rows = {line.split()[0]: line for line in lines[1:]}
    assert "default of demo" in rows["tuxpaint_small"]
    assert "needs Debian packages tuxpaint-stamps-default, wordnet-base" in rows["tuxpaint_wordnet"]
    assert "needs Debian packages openclipart-svg, wordnet-base" in rows["openclipart_wordnet"]
