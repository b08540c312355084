"""Tests of HeteroAligner and ModelConfig."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import torch
from torch_geometric.data import HeteroData
from torch_geometric.loader import LinkNeighborLoader, NeighborLoader

from graphalign.errors import GraphValidationError, RegistryError
from graphalign.nn import CONVS, HeteroAligner, ModelConfig

SMALL = {"hidden_dim": 16, "out_dim": 8, "num_layers": 2}
CONV_KWARGS = {"gat": {"heads": 2}, "gatv2": {"heads": 2}, "hgt": {"heads": 2}, "rgcn": {"num_bases": 2}, "sage": {}}


def make_model(data: HeteroData, seed: int = 0, **overrides: object) -> HeteroAligner:
    torch.manual_seed(seed)
    return HeteroAligner.from_data(data, ModelConfig(**{**SMALL, **overrides}))  # type: ignore[arg-type]


def test_config_round_trip_and_validation() -> None:
    cfg = ModelConfig(conv="rgcn", conv_kwargs={"num_bases": 3}, norm="batch", shared_head=False)
    assert ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert ModelConfig().to_dict()["conv"] == "gatv2"
    with pytest.raises(ValueError, match="unknown ModelConfig keys"):
        ModelConfig.from_dict({"hidden": 3})
    with pytest.raises(RegistryError, match="gatv2"):
        ModelConfig(conv="gatv3")
    with pytest.raises(RegistryError, match="layer"):
        ModelConfig(norm="group")
    with pytest.raises(ValueError, match="edge_dropout"):
        ModelConfig(edge_dropout=1.0)


@pytest.mark.parametrize("name", CONVS.names())
def test_forward_backward_every_conv(name: str, tiny_graph: HeteroData) -> None:
    model = make_model(tiny_graph, conv=name, conv_kwargs=CONV_KWARGS[name], edge_dropout=0.2, input_dropout=0.1)
    z = model(tiny_graph.x_dict, tiny_graph.edge_index_dict)
    assert set(z) == {"concept", "text", "image"}
    for t, v in z.items():
        assert v.shape == (tiny_graph[t].num_nodes, 8)
        torch.testing.assert_close(v.norm(dim=-1), torch.ones(v.size(0)))
    loss = -(z["image"][:6] * z["concept"][tiny_graph["image", "depicts", "concept"].edge_index[1]]).sum()
    loss.backward()
    grads = [p.grad for p in model.input_proj.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", CONVS.names())
def test_isolated_node_equals_encode_features(name: str, tiny_graph: HeteroData) -> None:
    model = make_model(tiny_graph, conv=name, conv_kwargs=CONV_KWARGS[name]).eval()
    with torch.no_grad():
        z = model(tiny_graph.x_dict, tiny_graph.edge_index_dict)
        isolated_image = model.encode_features("image", tiny_graph["image"].x[6:7])  # image 6: no edges
        texts = model.encode_features("text", tiny_graph["text"].x)  # text receives no edge type
        connected = model.encode_features("concept", tiny_graph["concept"].x[:1])
    torch.testing.assert_close(isolated_image, z["image"][6:7])
    torch.testing.assert_close(texts, z["text"])
    assert torch.isfinite(isolated_image).all()
    torch.testing.assert_close(isolated_image.norm(dim=-1), torch.ones(1))
    # concept 0 has neighbours, so its graph embedding differs from its feature-only one.
    assert not torch.allclose(connected, z["concept"][:1])


@pytest.mark.parametrize(
    "overrides",
    [
        {"norm": "batch"},
        {"norm": "none", "residual": False, "skip_input": False},
        {"shared_head": False, "act": "relu"},
        {"num_layers": 0},
    ],
)
def test_encode_features_matches_forward_for_variants(overrides: dict, tiny_graph: HeteroData) -> None:
    model = make_model(tiny_graph, conv="sage", **overrides)
    model.train()
    model(tiny_graph.x_dict, tiny_graph.edge_index_dict)  # update batch-norm statistics
    model.eval()
    with torch.no_grad():
        z = model(tiny_graph.x_dict, tiny_graph.edge_index_dict)
        torch.testing.assert_close(model.encode_features("image", tiny_graph["image"].x[6:]), z["image"][6:])


def test_same_seed_same_outputs(tiny_graph: HeteroData) -> None:
    outs = []
    for _ in range(2):
        model = make_model(tiny_graph, seed=3, dropout=0.3, edge_dropout=0.3).train()
        torch.manual_seed(7)
        outs.append(model(tiny_graph.x_dict, tiny_graph.edge_index_dict))
    for t in outs[0]:
        assert torch.equal(outs[0][t], outs[1][t])
    other = make_model(tiny_graph, seed=4).eval()(tiny_graph.x_dict, tiny_graph.edge_index_dict)
    assert not torch.allclose(other["concept"], outs[0]["concept"])


def test_edge_dropout_only_in_training(tiny_graph: HeteroData) -> None:
    model = make_model(tiny_graph, edge_dropout=0.5)
    edges = tiny_graph.edge_index_dict
    torch.manual_seed(0)
    dropped = model.train()._drop_edges(edges)
    assert sum(e.size(1) for e in dropped.values()) < sum(e.size(1) for e in edges.values())
    assert model.eval()._drop_edges(edges) is edges


def test_batch_with_missing_node_and_edge_types(tiny_graph: HeteroData) -> None:
    model = make_model(tiny_graph, conv="gatv2", conv_kwargs={"heads": 2}).eval()
    x = {"image": tiny_graph["image"].x, "concept": tiny_graph["concept"].x}
    edges = {("image", "depicts", "concept"): tiny_graph["image", "depicts", "concept"].edge_index}
    z = model(x, edges)
    assert set(z) == {"image", "concept"}
    # Images receive no edge in this batch: their embeddings are the feature-only ones.
    torch.testing.assert_close(z["image"], model.encode_features("image", x["image"]))
    with pytest.raises(GraphValidationError, match="unknown node type"):
        model({"video": torch.randn(2, 4)}, {})
    with pytest.raises(GraphValidationError, match=r"\(num_nodes, 20\)"):
        model({"image": torch.randn(2, 4)}, {})


def test_neighbor_loader_batches_reproduce_full_graph(tiny_graph: HeteroData, make_sampler: Callable) -> None:
    model = make_model(tiny_graph, conv="rgcn").eval()
    with torch.no_grad():
        full = model(tiny_graph.x_dict, tiny_graph.edge_index_dict)
    loader = NeighborLoader(
        tiny_graph,
        num_neighbors=[-1, -1],  # the full 2-hop neighbourhood: exact for 2 layers
        input_nodes="concept",
        batch_size=2,
        neighbor_sampler=make_sampler(tiny_graph, [-1, -1]),
    )
    seen = 0
    for batch in loader:
        assert batch.metadata() == tiny_graph.metadata()
        with torch.no_grad():
            z = model(batch.x_dict, batch.edge_index_dict)
        n = batch["concept"].batch_size
        torch.testing.assert_close(z["concept"][:n], full["concept"][batch["concept"].n_id[:n]])
        seen += n
    assert seen == tiny_graph["concept"].num_nodes


def test_link_neighbor_loader_batches_train(tiny_graph: HeteroData, make_sampler: Callable) -> None:
    model = make_model(tiny_graph, conv="gat", conv_kwargs={"heads": 2}).train()
    edge_type = ("image", "depicts", "concept")
    loader = LinkNeighborLoader(
        tiny_graph,
        num_neighbors=[2, 2],
        edge_label_index=(edge_type, tiny_graph[edge_type].edge_index),
        batch_size=3,
        neighbor_sampler=make_sampler(tiny_graph, [2, 2]),
    )
    for batch in loader:
        z = model(batch.x_dict, batch.edge_index_dict)
        src, dst = batch[edge_type].edge_label_index
        loss = 1 - (z["image"][src] * z["concept"][dst]).sum(-1).mean()
        loss.backward()
        assert torch.isfinite(loss)


def test_repr_and_properties(tiny_graph: HeteroData) -> None:
    model = make_model(tiny_graph, conv="gatv2", conv_kwargs={"heads": 2})
    assert repr(model) == (
        "HeteroAligner(conv='gatv2', num_layers=2, hidden_dim=16, out_dim=8, norm='layer', residual=True, "
        "node_types=['concept', 'text', 'image'], num_edge_types=5)"
    )
    assert model.out_dim == 8 and model.node_types == ["concept", "text", "image"]
    per_type = make_model(tiny_graph, shared_head=False)
    assert per_type.head is None and set(per_type.heads) == {"concept", "text", "image"}


def test_state_dict_has_no_shared_tensors(tiny_graph: HeteroData) -> None:
    safetensors_torch = pytest.importorskip("safetensors.torch")
    model = make_model(tiny_graph)
    restored = make_model(tiny_graph, seed=1)
    restored.load_state_dict(safetensors_torch.load(safetensors_torch.save(model.state_dict())))
    for name, value in model.state_dict().items():
        assert torch.equal(value, restored.state_dict()[name])
