"""The top-level package: lazy public names."""

from __future__ import annotations

import subprocess
import sys

import pytest

import graphalign


def test_every_public_name_resolves() -> None:
    for name in graphalign.__all__:
        assert getattr(graphalign, name) is not None, name
    assert set(graphalign.__all__) <= set(dir(graphalign))
    # __all__ stays written out (linters and type checkers read it); it must list exactly the lazy names
    assert set(graphalign.__all__) == {"__version__", *graphalign._LAZY}
    from graphalign.training import fit

    assert graphalign.fit is fit


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        graphalign.not_a_name  # noqa: B018


@pytest.mark.parametrize(
    "code",
    [
        "import graphalign",
        "from graphalign.cli import main; main(['--help'])",
        "from graphalign.cli import main; main(['train', '--help'])",
        "from graphalign.cli import main; main(['query', '--help'])",
        "from graphalign.cli import main; main(['demo', '--help'])",
    ],
)
def test_import_and_cli_help_load_no_torch(code: str) -> None:
    check = f"{code}\n" if "--help" not in code else f"try:\n    {code}\nexcept SystemExit:\n    pass\n"
    check += (
        "import sys\n"
        "heavy = sorted(m for m in ('torch', 'torch_geometric', 'transformers') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
