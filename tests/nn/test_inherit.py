from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from graphalign.errors import ConfigError
from graphalign.nn import HeteroAligner, InheritConfig, ModelConfig, inherit
from graphalign.nn.spread import spread

DEPICTS = ("image", "depicts", "concept")
REV_DEPICTS = ("concept", "rev_depicts", "image")
IS_A = ("concept", "is_a", "concept")
REV_IS_A = ("concept", "rev_is_a", "concept")


def tiny_edges():
    """Concepts 0 and 1 have images; 2 is_a 0, 3 is_a 2, 1 is_a 4; concept 5 has no edge at all."""
    depicts = torch.tensor([[0, 1, 2], [0, 0, 1]])
    is_a = torch.tensor([[2, 3, 1], [0, 2, 4]])
    return {DEPICTS: depicts, REV_DEPICTS: depicts.flip(0), IS_A: is_a, REV_IS_A: is_a.flip(0)}


def unit(n, d, seed=0):
    return F.normalize(torch.randn(n, d, generator=torch.Generator().manual_seed(seed)), dim=-1)


def test_nodes_without_anchor_move_towards_anchored_relatives_hop_by_hop():
    z = {"concept": unit(6, 4), "image": unit(3, 4, 1)}
    out = inherit(z, tiny_edges(), InheritConfig(weight=0.5, hops=3))
    c = z["concept"]
    assert torch.equal(out["concept"][:2], c[:2])  # anchored concepts keep their embedding
    assert torch.allclose(out["concept"][2], F.normalize(c[2] + 0.5 * c[0], dim=0), atol=1e-6)  # hop 1: from concept 0
    assert torch.allclose(out["concept"][4], F.normalize(c[4] + 0.5 * c[1], dim=0), atol=1e-6)  # upwards too (1 is_a 4)
    assert torch.allclose(
        out["concept"][3], F.normalize(c[3] + 0.5 * c[0], dim=0), atol=1e-6
    )  # hop 2 carries hop 1's value
    assert torch.equal(out["concept"][5], c[5])  # no relative: unchanged
    assert torch.equal(out["image"], z["image"])
    assert torch.allclose(out["concept"].norm(dim=-1), torch.ones(6))


def test_inheritance_reads_only_the_given_edges():
    """A concept whose depicts edge is held out (not passed) is not an anchor: it inherits instead."""
    z = {"concept": unit(6, 4)}
    edges = tiny_edges()
    edges[IS_A] = torch.cat([edges[IS_A], torch.tensor([[1], [0]])], dim=1)  # concept 1 is_a concept 0
    edges[REV_IS_A] = edges[IS_A].flip(0)
    assert torch.equal(inherit(z, edges, InheritConfig(hops=1))["concept"][1], z["concept"][1])  # anchored by image 2
    edges[DEPICTS] = edges[DEPICTS][:, :2]  # image 2's edge to concept 1 held out
    edges[REV_DEPICTS] = edges[DEPICTS].flip(0)
    out = inherit(z, edges, InheritConfig(hops=1))
    assert torch.allclose(out["concept"][1], F.normalize(z["concept"][1] + z["concept"][0], dim=0), atol=1e-6)
    assert torch.equal(
        out["concept"][4], z["concept"][4]
    )  # its only relative is no anchor now: nothing reaches it in 1 hop


def test_hops_limit_how_far_inheritance_reaches():
    z = {"concept": unit(6, 4)}
    out = inherit(z, tiny_edges(), InheritConfig(hops=1))
    assert torch.equal(out["concept"][3], z["concept"][3])  # two hops from concept 0


def test_spread_fills_hop_by_hop_with_damped_means():
    values = {"n": torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]])}
    filled = {"n": torch.tensor([True, True, False, False])}
    edge_index = torch.tensor([[0, 1, 2], [2, 2, 3]])
    out, reached = spread(values, filled, [(("n", "r", "n"), edge_index)], hops=2, decay=0.5)
    assert torch.allclose(out["n"][2], torch.tensor([0.25, 0.25]))
    assert torch.allclose(out["n"][3], torch.tensor([0.125, 0.125]))
    assert reached["n"].all() and not filled["n"][2]  # inputs are not modified


def test_model_inherits_in_eval_mode_only_and_round_trips_its_config():
    plain_head = {"head": "plain", "head_kwargs": {}}
    config = ModelConfig(
        hidden_dim=8, out_dim=4, num_layers=1, conv="sage", readouts=[{"name": "inherit", "hops": 2}], **plain_head
    )
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert config.readout("inherit") == InheritConfig(hops=2).to_dict()  # completed with the defaults
    edges = tiny_edges()
    x = {"concept": torch.randn(6, 5), "image": torch.randn(3, 7)}
    torch.manual_seed(0)
    model = HeteroAligner({"concept": 5, "image": 7}, list(edges), config)
    torch.manual_seed(0)
    plain = HeteroAligner(
        {"concept": 5, "image": 7},
        list(edges),
        ModelConfig(hidden_dim=8, out_dim=4, num_layers=1, conv="sage", readouts=[], **plain_head),
    )
    assert model.readouts["inherit"].config == InheritConfig(hops=2)
    model.eval(), plain.eval()
    with torch.no_grad():
        z, base = model(x, edges), plain(x, edges)
        assert torch.allclose(z["concept"], inherit(base, edges, InheritConfig(hops=2))["concept"])
        assert not torch.allclose(z["concept"][2:5], base["concept"][2:5])
        # Without readouts: the head's output, i.e. the model without inheritance.
        assert all(torch.equal(model(x, edges, readouts=False)[t], base[t]) for t in x)
        # New nodes have no relatives: encode_features does not inherit.
        assert torch.equal(
            model.encode_features("concept", x["concept"]), plain.encode_features("concept", x["concept"])
        )
        model.train(), plain.train()
        torch.manual_seed(1)
        z_train = model(x, edges)
        torch.manual_seed(1)
        assert torch.allclose(z_train["concept"], plain(x, edges)["concept"])  # the loss sees the model as without it


@pytest.mark.parametrize("bad", [{"hops": 0}, {"weight": -1.0}, {"decay": 0.0}, {"anchors": []}, {"unknown": 1}])
def test_bad_inheritance_configs_are_rejected(bad):
    with pytest.raises(ConfigError):
        InheritConfig.from_dict(bad)
    with pytest.raises(ConfigError, match="ModelConfig.readouts: "):
        ModelConfig(readouts=[{"name": "inherit", **bad}])
