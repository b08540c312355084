"""The scripts in examples/ run as a user runs them: a fresh interpreter, another folder, an empty cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.offline_model
def test_quickstart_runs_from_another_folder(tmp_path: Path) -> None:
    env = {**os.environ, "GRAPHALIGN_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "image->concept: test MRR" in result.stdout and "concepts nearest to the held-out image" in result.stdout
    assert (tmp_path / "runs" / "quickstart" / "metrics.json").is_file()
