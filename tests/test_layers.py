"""The package's architecture: layers that only look down, and modules that import alone.

:data:`LAYERS` is the one place the layer order is written down. A module may
import modules of its own layer and of the layers below it, never of a layer
above, whether at the top of the file or inside a function. Every module must
also import alone in a fresh interpreter: an in-process test suite, where other
modules are already imported, hides import cycles.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "graphalign"

LAYERS: list[set[str]] = [
    # utilities that know nothing of graphs
    {"typing", "errors", "registry", "checks", "atomic", "outputs", "image_io", "digest", "device", "rng", "_pyg"},
    {"graph", "datasets"},  # records, validation, on-disk format; bundled datasets by name
    {"encoders"},  # pretrained encoders and their cache
    {"features"},  # the featurised graph: records + encoders
    {"data"},  # tensors and the leakage-free split
    {"losses", "nn"},  # contrastive losses, message passing and the model
    {"evaluation"},  # filtered ranking
    {"training"},  # the fit loop, checkpoints, trained runs
    {"query"},  # neighbours, search, export
    # named configurations, one-call entry (pipeline) and applications on the public API
    {"presets", "entry", "demo", "benchmark", "testing", "serve"},
    {"cli", "__main__"},  # the command line
]
"""Top-level parts of :mod:`graphalign` (sub-package or module), lowest layer first."""


def _part(module: str) -> str:
    """``graphalign.nn.convs`` -> ``nn``."""
    return module.split(".")[1]


def _layer(module: str) -> int:
    part = _part(module)
    for level, parts in enumerate(LAYERS):
        if part in parts:
            return level
    raise AssertionError(f"{module}: part {part!r} is in no layer of LAYERS; add it where it belongs")


def _modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(relative.parts)
        names.append(name[: -len(".__init__")] if name.endswith(".__init__") else name)
    return names


def _imported(path: Path, module: str) -> set[str]:
    """Every graphalign module ``path`` imports, anywhere in the file (TYPE_CHECKING blocks included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                found.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                found.add(node.module)
    return {name for name in found if name.startswith("graphalign.")}


MODULES = _modules()


def test_every_part_has_a_layer() -> None:
    for module in MODULES:
        if module != "graphalign":
            _layer(module)


@pytest.mark.parametrize("module", [m for m in MODULES if m != "graphalign"])
def test_imports_only_look_down(module: str) -> None:
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    if not path.is_file():
        path = PACKAGE.parent / module.replace(".", "/") / "__init__.py"
    own = _layer(module)
    upward = sorted(name for name in _imported(path, module) if _layer(name) > own)
    assert not upward, f"{module} (layer {own}) imports higher layers: {upward}"


def _import_alone(module: str) -> tuple[str, int, str]:
    # -W error: importing any module shows no FutureWarning (PyG goes through graphalign._pyg first)
    command = [sys.executable, "-W", "error::FutureWarning", "-c", f"import {module}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    return module, result.returncode, result.stderr[-2000:]


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_import_alone, MODULES))
    failed = [f"{module}:\n{err}" for module, code, err in results if code != 0]
    assert not failed, "\n".join(failed)


def test_functions_are_short_and_lines_fit() -> None:
    """No function of the library over 80 lines; no line over 120 characters (as ruff is configured)."""
    long_functions, long_lines = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 80:
                    long_functions.append(f"{path.name}:{node.lineno} {node.name} ({length} lines)")
        long_lines += [f"{path.name}:{i}" for i, line in enumerate(source.splitlines(), 1) if len(line) > 120]
    assert not long_functions and not long_lines, long_functions + long_lines
