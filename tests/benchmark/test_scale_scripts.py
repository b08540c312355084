"""The scale benchmarks as users run them: separate processes on a tiny synthetic graph, both training modes."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "benchmarks"


def _run(script: str, *args: str) -> str:
    command = [sys.executable, str(SCRIPTS / script), "--sizes", "2000", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=True).stdout


def test_step_profile_times_every_stage_of_both_modes(tmp_path: Path) -> None:
    out = _run("step_profile.py", "--steps", "1", "--out", str(tmp_path))
    assert "**minibatch**" in out and "**propagated**" in out and "| message passing |" in out
    rows = list(csv.DictReader((tmp_path / "step_profile.csv").open()))
    assert {r["mode"] for r in rows} == {"minibatch", "propagated"}
    assert all(float(r["step_s"]) > 0 and float(r["feature gather"]) >= 0 for r in rows)


def test_scale_curve_runs_both_modes_side_by_side(tmp_path: Path) -> None:
    out = _run("scale_curve.py", "--max-steps", "1", "--out", str(tmp_path))
    assert "| 2,000 |" in out and "epoch: minibatch / propagated" in out
    rows = list(csv.DictReader((tmp_path / "scale_curve.csv").open()))
    assert sorted(r["mode"] for r in rows) == ["minibatch", "propagated"]
    propagated = next(r for r in rows if r["mode"] == "propagated")
    assert float(propagated["embed_s"]) > 0 and int(propagated["steps_timed"]) == int(propagated["steps"])
    assert (tmp_path / "scale_curve.png").is_file()
