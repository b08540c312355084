"""benchmarks/calibration_views.py as users run it: a separate process on the bundled data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "calibration_views.py"


@pytest.mark.offline_model
def test_calibration_views_prints_both_calibrations(tmp_path: Path) -> None:
    env = {**os.environ, "GRAPHALIGN_CACHE": str(tmp_path / "feature-cache")}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "tuxpaint_small", "--seeds", "0", "--epochs", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    table = result.stdout.split("MRR, mean of seeds [0]")[1]
    rows = [line for line in table.splitlines() if line.startswith("| one view") or line.startswith("| a view")]
    assert len(rows) == 2
    for row in rows:
        cells = [float(c) for c in row.strip("|").split("|")[1:]]
        assert len(cells) == 9 and all(0.0 < v <= 1.0 for v in cells)  # validation mean + 4 val + 4 test protocols
