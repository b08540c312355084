"""Tests of the contrastive losses in graphalign.losses."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

from graphalign.errors import RegistryError
from graphalign.losses import LOSSES, InfoNCELoss, TripletMarginLoss, build_loss

# Three unit vectors per side; SIMS[i][j] = anchor[i] . positive[j], by hand.
ANCHOR = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
POSITIVE = torch.tensor([[0.8, 0.6], [0.0, 1.0], [1.0, 0.0]])
SIMS = [[0.8, 0.0, 1.0], [0.6, 1.0, 0.0], [0.96, 0.8, 0.6]]


def cross_entropy(logits: list[float], target: int) -> float:
    return math.log(sum(math.exp(v) for v in logits)) - logits[target]


def unit(n: int, d: int, seed: int) -> torch.Tensor:
    return F.normalize(torch.randn(n, d, generator=torch.Generator().manual_seed(seed)), dim=-1)


@pytest.mark.parametrize("name", LOSSES.names())
def test_every_loss_runs_with_ids_and_backward(name: str) -> None:
    loss_fn = build_loss(name)
    a = unit(6, 4, 0).requires_grad_()
    p = unit(6, 4, 1)
    ids = torch.tensor([0, 1, 1, 2, 3, 4])
    loss = loss_fn(a, p, anchor_ids=torch.arange(6), positive_ids=ids)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert a.grad is not None and torch.isfinite(a.grad).all()
    assert type(loss_fn).__name__ in repr(loss_fn)
    assert loss_fn(a[:0], p[:0]).item() == 0.0


def test_infonce_equals_hand_computation() -> None:
    loss_fn = InfoNCELoss(temperature=0.5, learnable_temperature=False)
    logits = [[2.0 * s for s in row] for row in SIMS]  # scale = 1 / 0.5
    a_to_p = sum(cross_entropy(logits[i], i) for i in range(3)) / 3
    p_to_a = sum(cross_entropy([logits[i][j] for i in range(3)], j) for j in range(3)) / 3
    loss = loss_fn(ANCHOR, POSITIVE)
    assert float(loss) == pytest.approx((a_to_p + p_to_a) / 2, rel=1e-6)
    one_way = InfoNCELoss(temperature=0.5, learnable_temperature=False, symmetric=False)
    assert float(one_way(ANCHOR, POSITIVE)) == pytest.approx(a_to_p, rel=1e-6)


def test_infonce_masks_duplicate_ids() -> None:
    loss_fn = InfoNCELoss(temperature=0.5, learnable_temperature=False)
    logits = [[2.0 * s for s in row] for row in SIMS]
    # Positives 0 and 1 are the same node: (0, 1) and (1, 0) are false negatives.
    keep = [[True, False, True], [False, True, True], [True, True, True]]
    a_to_p = sum(
        cross_entropy([logits[i][j] for j in range(3) if keep[i][j]], [j for j in range(3) if keep[i][j]].index(i))
        for i in range(3)
    )
    p_to_a = sum(
        cross_entropy([logits[i][j] for i in range(3) if keep[i][j]], [i for i in range(3) if keep[i][j]].index(j))
        for j in range(3)
    )
    expected = (a_to_p + p_to_a) / 6
    masked = loss_fn(ANCHOR, POSITIVE, positive_ids=torch.tensor([7, 7, 9]))
    assert float(masked) == pytest.approx(expected, rel=1e-6)
    # The same anchor node twice masks the same entries.
    assert float(loss_fn(ANCHOR, POSITIVE, anchor_ids=torch.tensor([4, 4, 5]))) == pytest.approx(expected, rel=1e-6)
    assert float(loss_fn(ANCHOR, POSITIVE)) != pytest.approx(expected, rel=1e-3)


def test_infonce_extra_negatives_with_own_positive_masked() -> None:
    loss_fn = InfoNCELoss(temperature=0.5, learnable_temperature=False, symmetric=False)
    negatives = torch.tensor([[1.0, 0.0], [0.0, -1.0]])
    neg_sims = [[1.0, 0.0], [0.0, -1.0], [0.6, -0.8]]  # anchor[i] . negatives[m]
    # negatives[0] is positive 2's node (id 9), so row 2 must not count it.
    rows = [
        [*SIMS[0], *neg_sims[0]],
        [*SIMS[1], *neg_sims[1]],
        [*SIMS[2], neg_sims[2][1]],
    ]
    expected = sum(cross_entropy([2.0 * s for s in row], i) for i, row in enumerate(rows)) / 3
    loss = loss_fn(ANCHOR, POSITIVE, negatives, positive_ids=torch.tensor([7, 8, 9]), negative_ids=torch.tensor([9, 5]))
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="positive_ids"):
        loss_fn(ANCHOR, POSITIVE, negatives, negative_ids=torch.tensor([9, 5]))


def test_infonce_decreases_as_pairs_align() -> None:
    loss_fn = InfoNCELoss(temperature=0.1)
    a = unit(8, 16, 0)
    noise = unit(8, 16, 1)
    losses = [loss_fn(a, F.normalize(a + w * noise, dim=-1)).item() for w in (10.0, 1.0, 0.3, 0.0)]
    assert losses == sorted(losses, reverse=True)
    assert losses[0] > losses[-1] + 1.0


def test_infonce_temperature_is_learnable_and_clamped() -> None:
    loss_fn = InfoNCELoss(temperature=0.07, max_logit_scale=10.0)
    assert loss_fn.logit_scale.item() == pytest.approx(10.0)  # 1 / 0.07 > 10: clamped
    fixed = InfoNCELoss(temperature=0.2, learnable_temperature=False)
    assert fixed.temperature == pytest.approx(0.2) and len(list(fixed.parameters())) == 0
    learnable = InfoNCELoss(temperature=0.2)
    learnable(unit(4, 3, 0), unit(4, 3, 1)).backward()
    assert learnable.log_logit_scale.grad is not None
    assert (
        repr(learnable)
        == "InfoNCELoss(temperature=0.2, learnable_temperature=True, max_logit_scale=100.0, symmetric=True)"
    )
    assert isinstance(build_loss("clip"), InfoNCELoss) and LOSSES.get("clip") is InfoNCELoss


@pytest.mark.parametrize(
    ("distance", "d_ap", "d_an"),
    [
        ("cosine", [1 - 0.6, 1 - 0.0], [1 - 0.8, 1 - 0.8]),
        ("euclidean", [math.sqrt(0.8), math.sqrt(2.0)], [math.sqrt(0.4), math.sqrt(0.4)]),
    ],
)
def test_triplet_equals_hand_computation(distance: str, d_ap: list[float], d_an: list[float]) -> None:
    anchor = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    positive = torch.tensor([[0.6, 0.8], [1.0, 0.0]])
    negatives = torch.tensor([[[0.8, 0.6]], [[0.6, 0.8]]])  # (N, K=1, d)
    loss_fn = TripletMarginLoss(margin=0.2, distance=distance)
    expected = sum(max(0.0, 0.2 + p - n) for p, n in zip(d_ap, d_an)) / 2
    assert float(loss_fn(anchor, positive, negatives)) == pytest.approx(expected, rel=1e-6)
    # With the cosine distance this is max(0, m - S(a, p) + S(a, n)).
    if distance == "cosine":
        sims = [(0.6, 0.8), (0.0, 0.8)]
        assert expected == pytest.approx(sum(max(0.0, 0.2 - s_p + s_n) for s_p, s_n in sims) / 2)


def test_triplet_hard_mining_picks_hardest_valid_negative() -> None:
    anchor = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    positive = torch.tensor([[0.0, 1.0], [-0.6, 0.8], [0.8, 0.6]])
    # Cosine distances D[i][j] = 1 - cos(a_i, p_j), by hand:
    #   a0: [1.0, 1.6, 0.2]   a1: [0.0, 0.2, 0.4]   a2: [1.0, 0.4, 1.8]
    # Hardest other positive: a0 -> p2 (0.2), a1 -> p0 (0.0), a2 -> p1 (0.4).
    loss_fn = TripletMarginLoss(margin=0.5, mining="hard")
    per_anchor = [max(0.0, 0.5 + 1.0 - 0.2), max(0.0, 0.5 + 0.2 - 0.0), max(0.0, 0.5 + 1.8 - 0.4)]
    assert float(loss_fn(anchor, positive)) == pytest.approx(sum(per_anchor) / 3, rel=1e-6)
    # If p2 is the same node as p0, a0 may only use p1 (1.6) and a2 only p1 (0.4).
    ids = torch.tensor([3, 4, 3])
    per_anchor = [max(0.0, 0.5 + 1.0 - 1.6), max(0.0, 0.5 + 0.2 - 0.0), max(0.0, 0.5 + 1.8 - 0.4)]
    assert float(loss_fn(anchor, positive, positive_ids=ids)) == pytest.approx(sum(per_anchor) / 3, rel=1e-6)
    # Shared candidates with their ids: the own positive is never a negative.
    shared = torch.tensor([[0.0, 1.0], [0.8, 0.6]])
    loss = loss_fn(anchor[:1], positive[:1], shared, positive_ids=torch.tensor([3]), negative_ids=torch.tensor([3, 5]))
    assert float(loss) == pytest.approx(max(0.0, 0.5 + 1.0 - 0.2), rel=1e-6)


def test_triplet_random_mining_is_seeded_and_valid() -> None:
    a, p = unit(5, 4, 0), unit(5, 4, 1)
    first = [float(TripletMarginLoss(mining="random", seed=3)(a, p)) for _ in range(2)]
    assert first[0] == first[1]
    # Only one valid candidate per anchor: random mining must pick it.
    ids = torch.tensor([0, 0, 1, 1, 1])
    anchors, positives = a[:2], p[:2]
    hard = TripletMarginLoss(mining="hard")(anchors, positives, p[2:3], positive_ids=ids[:2], negative_ids=ids[2:3])
    rand = TripletMarginLoss(mining="random", seed=0)(
        anchors, positives, p[2:3], positive_ids=ids[:2], negative_ids=ids[2:3]
    )
    assert float(hard) == pytest.approx(float(rand))
    assert (
        repr(TripletMarginLoss(seed=1)) == "TripletMarginLoss(margin=0.2, distance='cosine', mining='random', seed=1)"
    )
    with pytest.raises(ValueError, match="cosine, euclidean"):
        TripletMarginLoss(distance="manhattan")
    with pytest.raises(RegistryError, match="triplet"):
        build_loss("tripletz")


LOSS_TESTS: dict[str, Callable[..., None]] = {
    "infonce": test_infonce_equals_hand_computation,
    "clip": test_infonce_temperature_is_learnable_and_clamped,
    "triplet": test_triplet_equals_hand_computation,
}


def test_every_loss_has_a_specific_test() -> None:
    assert set(LOSSES.names()) == set(LOSS_TESTS), "add a specific test for each new loss"
