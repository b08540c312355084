"""Tests of the heterogeneous message-passing layers in graphalign.nn.convs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch_geometric.data import HeteroData
from torch_geometric.nn import GATConv, GATv2Conv, RGCNConv

from graphalign.errors import GraphValidationError, RegistryError
from graphalign.nn.convs import CONVS, GATLayer, HeteroLayer, HGTLayer, RGCNLayer, SAGELayer

HIDDEN = 8
CONV_KWARGS = {"gat": {"heads": 2}, "gatv2": {"heads": 2}, "hgt": {"heads": 2}, "rgcn": {"num_bases": 2}, "sage": {}}


def build(name: str, data: HeteroData, **kwargs: object) -> HeteroLayer:
    torch.manual_seed(0)
    return CONVS.build(name, {"metadata": data.metadata(), "hidden_dim": HIDDEN, **CONV_KWARGS[name], **kwargs})


def hidden_features(data: HeteroData, seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {t: torch.randn(data[t].num_nodes, HIDDEN, generator=g) for t in data.node_types}


@pytest.mark.parametrize("name", CONVS.names())
def test_every_conv_runs_forward_backward(name: str, tiny_graph: HeteroData) -> None:
    layer = build(name, tiny_graph)
    x = {t: v.requires_grad_() for t, v in hidden_features(tiny_graph).items()}
    out = layer(x, tiny_graph.edge_index_dict)
    # "text" receives no edge type; HeteroConv alone would drop it.
    assert set(out) == {"concept", "text", "image"}
    for t, v in out.items():
        assert v.shape == (tiny_graph[t].num_nodes, HIDDEN)
        assert torch.isfinite(v).all()
    sum(v.square().sum() for v in out.values()).backward()
    for t in x:
        assert x[t].grad is not None and torch.isfinite(x[t].grad).all()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in layer.parameters())


@pytest.mark.parametrize("name", CONVS.names())
def test_isolated_nodes_get_forward_isolated(name: str, tiny_graph: HeteroData) -> None:
    layer = build(name, tiny_graph).eval()
    x = hidden_features(tiny_graph)
    out = layer(x, tiny_graph.edge_index_dict)
    # image 6 and concept 5 have no edge; text receives no edge type.
    for t, rows in {"image": [6], "concept": [5], "text": list(range(5))}.items():
        expected = layer.forward_isolated(t, x[t][rows])
        torch.testing.assert_close(out[t][rows], expected)
        assert expected.abs().sum() > 0
    # A node with incoming edges gets a message on top.
    assert not torch.allclose(out["concept"][0], layer.forward_isolated("concept", x["concept"][:1])[0])


@pytest.mark.parametrize("name", CONVS.names())
def test_missing_types_and_empty_inputs(name: str, tiny_graph: HeteroData) -> None:
    layer = build(name, tiny_graph).eval()
    x = hidden_features(tiny_graph)
    # A mini-batch: no text nodes, one edge type only, zero concept->concept edges.
    edges = {
        ("image", "depicts", "concept"): tiny_graph["image", "depicts", "concept"].edge_index,
        ("concept", "is_a", "concept"): torch.empty(2, 0, dtype=torch.long),
    }
    out = layer({"concept": x["concept"], "image": x["image"]}, edges)
    assert set(out) == {"concept", "image"}
    torch.testing.assert_close(out["image"], layer.forward_isolated("image", x["image"]))
    # No edges at all, and a node type with zero nodes.
    out = layer({"concept": x["concept"][:0], "image": x["image"]}, {})
    assert out["concept"].shape == (0, HIDDEN)
    torch.testing.assert_close(out["image"], layer.forward_isolated("image", x["image"]))


@pytest.mark.parametrize("name", CONVS.names())
def test_same_seed_same_layer(name: str, tiny_graph: HeteroData) -> None:
    x = hidden_features(tiny_graph)
    a = build(name, tiny_graph)(x, tiny_graph.edge_index_dict)
    b = build(name, tiny_graph)(x, tiny_graph.edge_index_dict)
    for t in a:
        assert torch.equal(a[t], b[t])


def test_unknown_types_are_reported(tiny_graph: HeteroData) -> None:
    layer = build("sage", tiny_graph)
    x = hidden_features(tiny_graph)
    with pytest.raises(GraphValidationError, match="unknown edge types"):
        layer(x, {("image", "likes", "concept"): torch.zeros(2, 1, dtype=torch.long)})
    with pytest.raises(GraphValidationError, match="unknown node types"):
        layer({**x, "video": torch.randn(2, HIDDEN)}, {})
    with pytest.raises(RegistryError, match="gatv2"):
        CONVS.get("gatv3")


# Specific tests, one per registered name (see test_every_conv_has_a_specific_test).


@pytest.mark.parametrize(("name", "conv_cls"), [("gat", GATConv), ("gatv2", GATv2Conv)])
def test_gat_convs_have_no_self_loops_and_split_heads(name: str, conv_cls: type, tiny_graph: HeteroData) -> None:
    layer = build(name, tiny_graph)
    assert isinstance(layer, GATLayer)
    convs = list(layer.conv.convs.values())
    assert len(convs) == len(tiny_graph.edge_types)
    for conv in convs:
        assert type(conv) is conv_cls
        assert conv.add_self_loops is False
        assert conv.bias is None  # the root carries the only bias
        assert conv.heads == 2 and conv.concat and conv.out_channels == HIDDEN // 2
    assert repr(layer) == (
        f"{type(layer).__name__}(hidden_dim=8, heads=2, concat=True, dropout=0.0, num_node_types=3, num_edge_types=5)"
    )
    averaged = build(name, tiny_graph, concat=False)
    assert all(conv.out_channels == HIDDEN and not conv.concat for conv in averaged.conv.convs.values())
    with pytest.raises(ValueError, match="divisible"):
        build(name, tiny_graph, heads=3)


def test_sage_matches_manual_mean_aggregation(tiny_graph: HeteroData) -> None:
    layer = build("sage", tiny_graph)
    assert isinstance(layer, SAGELayer)
    x = hidden_features(tiny_graph)
    out = layer(x, tiny_graph.edge_index_dict)
    # concept 3 receives depicts from images 4, 5 and is_a from concept 4.
    convs = layer.conv.convs
    depicts = convs["image", "depicts", "concept"].lin_l(x["image"][[4, 5]].mean(0))
    is_a = convs["concept", "is_a", "concept"].lin_l(x["concept"][4])
    expected = layer.root["concept"](x["concept"][3]) + depicts + is_a
    torch.testing.assert_close(out["concept"][3], expected)


@pytest.mark.parametrize("num_bases", [None, 2])
def test_rgcn_matches_pyg_rgcnconv_on_homogeneous_graph(num_bases: int | None, tiny_graph: HeteroData) -> None:
    layer = build("rgcn", tiny_graph, num_bases=num_bases)
    assert isinstance(layer, RGCNLayer)
    assert layer.relation_weights().shape == (5, HIDDEN, HIDDEN)
    # Make every node type's root identical, so that PyG's single root weight applies.
    for lin in layer.root.values():
        lin.load_state_dict(layer.root["concept"].state_dict())
    x = hidden_features(tiny_graph)
    out = layer(x, tiny_graph.edge_index_dict)

    data = tiny_graph.clone()
    for t in data.node_types:
        data[t].h = x[t]
    homo = data.to_homogeneous(node_attrs=["h"])
    assert [tuple(e) for e in homo._edge_type_names] == layer.edge_types
    ref = RGCNConv(HIDDEN, HIDDEN, num_relations=len(layer.edge_types), aggr="mean")
    with torch.no_grad():
        ref.weight.copy_(layer.relation_weights())
        ref.root.copy_(layer.root["concept"].weight.T)
        ref.bias.copy_(layer.root["concept"].bias)
    expected = ref(homo.h, homo.edge_index, homo.edge_type)
    for i, t in enumerate(homo._node_type_names):
        torch.testing.assert_close(out[t], expected[homo.node_type == i])
    assert repr(layer).startswith(f"RGCNLayer(hidden_dim=8, num_bases={num_bases},")


def test_hgt_wraps_hgtconv_and_fills_types_without_messages(tiny_graph: HeteroData) -> None:
    layer = build("hgt", tiny_graph)
    assert isinstance(layer, HGTLayer)
    x = hidden_features(tiny_graph)
    out = layer(x, tiny_graph.edge_index_dict)
    raw = layer.conv(x, tiny_graph.edge_index_dict)
    assert "text" not in raw or raw["text"] is None  # HGTConv alone drops "text"
    torch.testing.assert_close(out["concept"], raw["concept"])
    torch.testing.assert_close(out["image"], raw["image"])
    torch.testing.assert_close(out["text"], layer.forward_isolated("text", x["text"]))
    with pytest.raises(ValueError, match="divisible"):
        build("hgt", tiny_graph, heads=3)


SPECIFIC_CONV_TESTS: dict[str, Callable[..., None]] = {
    "gat": test_gat_convs_have_no_self_loops_and_split_heads,
    "gatv2": test_gat_convs_have_no_self_loops_and_split_heads,
    "sage": test_sage_matches_manual_mean_aggregation,
    "rgcn": test_rgcn_matches_pyg_rgcnconv_on_homogeneous_graph,
    "hgt": test_hgt_wraps_hgtconv_and_fills_types_without_messages,
}


def test_every_conv_has_a_specific_test() -> None:
    assert set(CONVS.names()) == set(SPECIFIC_CONV_TESTS), "add a specific test for each new conv"
    for name in CONVS.names():
        assert name in CONV_KWARGS
