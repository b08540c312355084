"""Tests of graphalign.nn.propagate and of models that read propagated features."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import HeteroData

from graphalign.errors import ConfigError
from graphalign.nn import ModelConfig, propagate
from graphalign.nn.hetero_gnn import HeteroAligner
from graphalign.nn.propagate import FeaturePropagation, PropagationConfig
from tests.nn.conftest import IN_DIMS, make_tiny_graph

GROUPS = {"concept": "concept", "text": "text", "image": "image"}


def _dense_mean_hops(data: HeteroData, prop: FeaturePropagation, hops: int) -> dict[str, torch.Tensor]:
    """The definition with dense matrices: hop k is the mean over incoming edges of hop k - 1."""
    block = {t: prop.project(t, data[t].x) for t in data.node_types}
    out: dict[str, list[torch.Tensor]] = {t: [] for t in data.node_types}
    for _ in range(hops):
        sums = {t: torch.zeros_like(b) for t, b in block.items()}
        degree = {t: torch.zeros(b.size(0)) for t, b in block.items()}
        for (src, _, dst), edge_index in data.edge_index_dict.items():
            for s, d in edge_index.t().tolist():
                sums[dst][d] += block[src][s]
                degree[dst][d] += 1
        block = {t: sums[t] / degree[t].clamp(min=1).unsqueeze(1) for t in sums}
        for t in block:
            out[t].append(block[t])
    return {t: torch.cat(parts, dim=1) for t, parts in out.items()}


@pytest.mark.parametrize("columns", [64, 5])
@pytest.mark.parametrize("dim", [0, 3])
def test_propagation_is_the_mean_over_incoming_edges(dim: int, columns: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(propagate, "_COLUMNS", columns)  # 5: slots propagated in several chunks
    data = make_tiny_graph()
    prop = FeaturePropagation(IN_DIMS, GROUPS, PropagationConfig(hops=2, dim=dim))
    prop.fit(data.x_dict)
    got = prop(data.x_dict, data.edge_index_dict)
    expected = _dense_mean_hops(data, prop, 2)
    block = 3 * 3 if dim else sum(IN_DIMS.values())  # one slot per input group
    assert prop.out_dim == 2 * block
    for node_type in data.node_types:
        assert got[node_type].shape == (data[node_type].num_nodes, 2 * block)
        torch.testing.assert_close(got[node_type], expected[node_type])
    assert torch.count_nonzero(got["image"][6]) == 0  # image 6 has no edge
    assert torch.count_nonzero(got["text"]) == 0  # text receives no edge type


def test_fit_keeps_the_principal_directions() -> None:
    g = torch.Generator().manual_seed(0)
    # rows that vary along two directions only: two components keep all of it
    directions = torch.linalg.qr(torch.randn(8, 2, generator=g))[0].T  # (2, 8)
    x = torch.randn(200, 2, generator=g) @ directions + 5.0
    prop = FeaturePropagation({"a": 8}, {"a": "a"}, PropagationConfig(hops=1, dim=2))
    prop.fit({"a": x})
    projected = prop.project("a", x)
    torch.testing.assert_close(projected.norm(dim=1), (x - x.mean(0)).norm(dim=1), rtol=1e-4, atol=1e-4)


def test_propagation_config_is_checked() -> None:
    with pytest.raises(ConfigError, match="hops"):
        ModelConfig(propagate={"hops": 0})
    with pytest.raises(ConfigError, match="unknown ModelConfig.propagate keys"):
        ModelConfig(propagate={"hop": 2})
    with pytest.raises(ConfigError, match="must be a dict"):
        ModelConfig(propagate=2)
    config = ModelConfig(num_layers=0, propagate={"hops": 1})
    assert config.propagate == {"hops": 1, "dim": 128}
    assert ModelConfig.from_dict(config.to_dict()) == config


def test_model_reads_propagated_features_and_new_nodes_equal_isolated_ones() -> None:
    data = make_tiny_graph()
    config = ModelConfig(hidden_dim=8, out_dim=4, num_layers=0, head="plain", readouts=[], propagate={"dim": 3})
    torch.manual_seed(0)
    model = HeteroAligner(IN_DIMS, data.edge_types, config, input_groups=GROUPS).eval()
    model.propagation.fit(data.x_dict)
    with torch.no_grad():
        z = model(data.x_dict, data.edge_index_dict)
        without_edges = model(data.x_dict, {})
        precomputed = model(data.x_dict, {}, propagated=model.propagation(data.x_dict, data.edge_index_dict))
        new = model.encode_features("image", data["image"].x[6:7])
    assert not torch.allclose(z["image"][:6], without_edges["image"][:6])  # edges change the embedding
    torch.testing.assert_close(z["image"], precomputed["image"])
    torch.testing.assert_close(z["image"][6:7], new)  # image 6 has no edge, as a new image
    # the fitted projection is saved with the weights and loads into a new model
    loaded = HeteroAligner(IN_DIMS, data.edge_types, config, input_groups=GROUPS).eval()
    loaded.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(loaded(data.x_dict, data.edge_index_dict)["concept"], z["concept"])
