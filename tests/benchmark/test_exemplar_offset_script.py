"""benchmarks/exemplar_offset.py as users run it: a separate process on the bundled data."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "exemplar_offset.py"


@pytest.mark.offline_model
def test_exemplar_offset_prints_both_fits_against_the_baselines(tmp_path: Path) -> None:
    env = {**os.environ, "GRAPHALIGN_CACHE": str(tmp_path / "feature-cache")}
    baselines = ROOT / "docs" / "results" / "quality-tuxpaint_small.csv"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "tuxpaint_small", "--seeds", "0", "--epochs", "1", "--baselines", str(baselines)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    without = re.search(r"seed 0, two weights: weights and offset \(([^)]*)\)", result.stdout)
    assert without is not None and float(without.group(1).split(",")[-1]) == 0.0  # no offset in that fit
    assert "seed 0, two weights and the offset: weights and offset (" in result.stdout
    table = result.stdout.split("mean of seeds [0]")[1]
    rows = [line for line in table.splitlines() if line.startswith("| two weights")]
    assert len(rows) == 2
    for row in rows:
        cells = row.strip("|").split("|")[1:]
        assert len(cells) == 8  # val a, val a rel, val c, val c rel, a, a rel, c, c rel
        assert all(0.0 < float(cells[i]) <= 1.0 for i in (0, 2, 4, 6)), cells
        assert all(re.fullmatch(r" [+-]\d+\.\d% \(\d/1\) ", cells[i]) for i in (1, 3, 5, 7)), cells
