"""The calibration benchmarks as users run them: separate processes on the bundled data.

``benchmarks/calibration_views.py`` (one view per direction against a view per
candidate state) and ``benchmarks/exemplar_term.py`` (the nearest-exemplar
term fitted in each of its variants), one seed and one epoch each, sharing one
feature cache.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def feature_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("feature-cache")


def _run(script: str, *args: str, cwd: Path, cache: Path) -> str:
    """Runs ``benchmarks/<script>`` on the bundled data (seed 0, one epoch); its stdout."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "tuxpaint_small", "--seeds", "0", "--epochs", "1", *args],
        cwd=cwd,
        env={**os.environ, "GRAPHALIGN_CACHE": str(cache)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.offline_model
def test_calibration_views_prints_both_calibrations(tmp_path: Path, feature_cache: Path) -> None:
    out = _run("calibration_views.py", cwd=tmp_path, cache=feature_cache)
    table = out.split("MRR, mean of seeds [0]")[1]
    rows = [line for line in table.splitlines() if line.startswith("| one view") or line.startswith("| a view")]
    assert len(rows) == 2
    for row in rows:
        cells = [float(c) for c in row.strip("|").split("|")[1:]]
        assert len(cells) == 9 and all(0.0 < v <= 1.0 for v in cells)  # validation mean + 4 val + 4 test protocols


@pytest.mark.offline_model
def test_exemplar_term_prints_each_variants_fit_against_the_baselines(tmp_path: Path, feature_cache: Path) -> None:
    baselines = ROOT / "docs" / "results" / "quality-tuxpaint_small.csv"
    out = _run("exemplar_term.py", "--baselines", str(baselines), cwd=tmp_path, cache=feature_cache)
    settings = dict(re.findall(r"seed 0, ([^:]+): weights, offset, transfer \(([^)]*)\)", out))
    variants = ["off", "two weights", "two weights and the offset", "weights, offset and transfer (default)"]
    assert list(settings) == variants
    values = {name: [float(v) for v in setting.split(",")] for name, setting in settings.items()}
    assert values["off"] == [0.0, 0.0, 0.0, 0.0]
    assert values["two weights"][2:] == [0.0, 0.0] and values["two weights and the offset"][3] == 0.0  # their grids
    table = out.split("mean of seeds [0]")[1]
    rows = [line for line in table.splitlines() if line.startswith(("| off", "| two weights", "| weights"))]
    assert len(rows) == 4
    for row in rows:
        cells = row.strip("|").split("|")[1:]
        assert len(cells) == 8  # val a, val a rel, val c, val c rel, a, a rel, c, c rel
        assert all(0.0 < float(cells[i]) <= 1.0 for i in (0, 2, 4, 6)), cells
        assert all(re.fullmatch(r" [+-]\d+\.\d% \(\d/1\) ", cells[i]) for i in (1, 3, 5, 7)), cells
