"""``python docs/screenshots.py RUN``, the README's screenshot command, run as a separate process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PIL import Image

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "screenshots.py"


def test_screenshots_script_writes_the_three_pictures(toy_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "images"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(toy_run), "--query", "a picture of a cat", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}/explorer-{{search,node,map}}.png" in result.stdout
    for name in ("search", "node", "map"):
        with Image.open(out / f"explorer-{name}.png") as picture:
            assert picture.size[0] >= 1000 and picture.size[1] >= 500  # the whole window, not a blank stub
            colours = picture.convert("RGB").getcolors(maxcolors=1 << 16)
            assert colours is None or len(colours) > 20  # a rendered page, not one flat colour
