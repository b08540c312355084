"""A non-editable install ships the bundled data: `graphalign demo` runs from any folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv (on top of this interpreter's packages) holding a regular, non-editable install of graphalign.

    It installs from a copy of the source tree, so that the build leaves no
    ``build/`` or ``*.egg-info`` in the repository.
    """
    pytest.importorskip("setuptools")
    base = tmp_path_factory.mktemp("install")
    source = base / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "graphalign", source / "graphalign", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    venv = base / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True, timeout=120
    )
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if "no such option: --python" in install.stderr:
        pytest.skip("pip is older than 22.3 (no --python)")
    assert install.returncode == 0, install.stderr
    return venv


def test_the_installed_package_is_not_the_editable_one(installed_venv: Path, tmp_path: Path) -> None:
    code = "import graphalign, graphalign.datasets as d; print(graphalign.__file__); print(d.path('tuxpaint_small'))"
    out = subprocess.run(
        [str(installed_venv / "bin" / "python"), "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    module, data = (Path(line) for line in out.stdout.split())
    assert module.is_relative_to(installed_venv), module
    assert data.is_relative_to(installed_venv) and (data / "nodes.jsonl").is_file()
    assert len(list((data / "images").rglob("*.png"))) == 298


def test_demo_runs_from_another_folder(installed_venv: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "GRAPHALIGN_CACHE": str(tmp_path / "cache")}
    out = subprocess.run(
        [
            str(installed_venv / "bin" / "graphalign"),
            "-q",
            "demo",
            "--text-encoder",
            "hashing-text",
            "--image-encoder",
            "color-histogram",
            "--epochs",
            "2",
        ],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "graph: 408 concepts, 298 images, 1168 texts, 1911 edges (tuxpaint_small)" in out.stdout
    for name in ("firetruck.png", "kangaroo.png", "pizza.png"):
        assert f"new image {name} -> concept" in out.stdout
    assert (elsewhere / "runs" / "demo" / "run").is_dir()  # the default work dir, relative to the working folder
