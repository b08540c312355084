"""Cold vs. warm `graphalign build`: how much the feature cache saves.

Runs, each in a fresh process and with a new, empty cache folder:

1. ``python -c "import graphalign"`` (interpreter + library start-up),
2. ``graphalign build DATA`` with the empty cache (cold: loads the models, encodes everything),
3. the same again (warm: every feature from the cache, no model loaded),

and prints a table with the ratio cold / warm.

Usage::

    python benchmarks/build_cache.py [DATA_DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    import os

    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})})
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"command failed: {' '.join(command)}\n{result.stderr}")
    return elapsed, result.stdout.strip().splitlines()[0] if result.stdout.strip() else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", default="tuxpaint_small", help="dataset folder or bundled dataset name")
    parser.add_argument("--repeat", type=int, default=3, help="warm runs and start-up runs to take the median of")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GRAPHALIGN_CACHE": str(Path(tmp) / "cache")}
        build = [sys.executable, "-m", "graphalign", "-q", "build", args.data, "-o", str(Path(tmp) / "graph")]
        startup = statistics.median(timed([sys.executable, "-c", "import graphalign"])[0] for _ in range(args.repeat))
        cold, cold_line = timed(build, env)
        warm_runs = [timed(build, env) for _ in range(args.repeat)]
        warm = statistics.median(t for t, _ in warm_runs)
    rows = [
        ("start-up (python -c 'import graphalign')", f"{startup:.2f}", ""),
        ("cold build (empty cache)", f"{cold:.2f}", cold_line),
        (f"warm build (median of {args.repeat})", f"{warm:.2f}", warm_runs[0][1]),
    ]
    print("| step | seconds | graphalign says |\n|---|---:|---|")
    for row in rows:
        print(f"| {' | '.join(row)} |")
    print(f"\ncold / warm = {cold / warm:.1f}x; warm build minus start-up = {warm - startup:.2f}s ({args.data})")


if __name__ == "__main__":
    main()
