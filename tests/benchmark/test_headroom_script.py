"""benchmarks/text_image_headroom.py: the oracle ranking, by hand."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "text_image_headroom.py"


@pytest.fixture(scope="module")
def headroom():
    spec = importlib.util.spec_from_file_location("text_image_headroom", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.headroom


def test_oracle_drops_only_other_concepts(headroom) -> None:
    # images 0, 1 depict concept A; image 2 concept B
    same = torch.tensor([[True, True, False], [True, True, False], [False, False, True]])
    scores = torch.tensor(
        [
            [0.5, 0.7, 0.9],  # target 0: B's image and A's other image above it
            [0.1, 0.9, 0.2],
        ]
    )  # target 1: first already
    plain, oracle = headroom(scores, torch.tensor([0, 1]), torch.zeros(0, 2, dtype=torch.long), same)
    assert plain == pytest.approx((1 / 3 + 1) / 2)
    assert oracle == pytest.approx((1 / 2 + 1) / 2)  # image 1 (same concept) still outranks target 0
