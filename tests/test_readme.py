"""The README's Python example, executed verbatim as a user would run it.

The code is read from README.md (every ``python`` block of the "Python"
section), so the example and this test cannot drift apart. It runs in a fresh
interpreter, in an empty folder, with an empty feature cache and the real
packaged encoders.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_python_example() -> str:
    """Every ``python`` block of the README's "Python" section, in order, as one script."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, "README.md: no python block in the Python section"
    return "\n".join(blocks)


def test_the_example_uses_the_public_api_only() -> None:
    code = readme_python_example()
    assert code.startswith("import graphalign as ga\n")
    assert "ga.fit(" in code and "ga.Aligner(" in code and "test_metrics" in code


@pytest.mark.offline_model
def test_the_readme_python_example_runs_and_prints_a_metric(tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(readme_python_example(), encoding="utf-8")
    env = {**os.environ, "GRAPHALIGN_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200
    )
    assert result.returncode == 0, result.stderr[-4000:]
    metric = re.search(r"image->concept MRR on held-out images: (\d\.\d{3})", result.stdout)
    assert metric, result.stdout
    assert 0.0 < float(metric.group(1)) <= 1.0
    assert "Neighbor(id=" in result.stdout and "GraphNeighbor(id=" in result.stdout
    assert (tmp_path / "runs" / "mine" / "metrics.json").is_file()
    assert (tmp_path / "runs" / "mine-embeddings.tsv").is_file()
    assert (tmp_path / "runs" / "mine-embeddings-metadata.tsv").is_file()
