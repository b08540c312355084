"""Tests of HeteroAligner and ModelConfig."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest
import torch
from torch_geometric.data import HeteroData
from torch_geometric.loader import LinkNeighborLoader, NeighborLoader

from graphalign.errors import ConfigError, GraphValidationError, RegistryError
from graphalign.nn import CONVS, HeteroAligner, ModelConfig
from graphalign.nn.heads import PriorHead, ProjectionHead
from graphalign.nn.hetero_gnn import LEGACY_KEYS
from graphalign.nn.readouts import ChannelsReadout, InheritReadout

# The message-passing core alone (plain head, no readouts); the default model's parts have tests of their own.
SMALL = {
    "hidden_dim": 16,
    "out_dim": 8,
    "num_layers": 2,
    "propagate": None,
    "head": "plain",
    "head_kwargs": {},
    "readouts": [],
}
CONV_KWARGS = {"gat": {"heads": 2}, "gatv2": {"heads": 2}, "hgt": {"heads": 2}, "rgcn": {"num_bases": 2}, "sage": {}}
IMAGE_CHANNEL = {"sources": ["image"], "relations": ["depicts", "is_a"], "hops": 2}


def make_model(data: HeteroData, seed: int = 0, **overrides: object) -> HeteroAligner:
    torch.manual_seed(seed)
    return HeteroAligner.from_data(data, ModelConfig(**{**SMALL, **overrides}))  # type: ignore[arg-type]


def test_config_round_trip_and_validation() -> None:
    cfg = ModelConfig(
        num_layers=2,
        propagate=None,
        conv="rgcn",
        conv_kwargs={"num_bases": 3},
        norm="batch",
        head="prior",
        head_kwargs={"scale": 0.3},
        readouts=[{"name": "inherit", "hops": 2}, {"name": "channels", "channels": [IMAGE_CHANNEL]}],
    )
    assert ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert cfg.readout("inherit") is not None and cfg.readout("inherit")["hops"] == 2
    assert cfg.readout("channels")["channels"][0]["sources"] == ["image"]  # type: ignore[index]
    assert [spec["name"] for spec in cfg.to_dict()["readouts"]] == ["inherit", "channels"]  # order kept
    assert ModelConfig(readouts=[]).readout("channels") is None
    assert ModelConfig().to_dict()["conv"] == "gatv2"
    default = ModelConfig().to_dict()  # the best preset: prior head, inheritance then four channels
    assert default["head"] == "prior" and default["head_kwargs"] == {} and default["out_dim"] == 384
    assert [spec["name"] for spec in default["readouts"]] == ["inherit", "channels"]
    assert len(ModelConfig().readout("channels")["channels"]) == 4  # type: ignore[index]
    assert not set(LEGACY_KEYS) & set(ModelConfig().to_dict())  # what is written has no legacy key
    with pytest.raises(ValueError, match="unknown ModelConfig keys"):
        ModelConfig.from_dict({"hidden": 3})
    with pytest.raises(RegistryError, match="gatv2"):
        ModelConfig(conv="gatv3")
    with pytest.raises(RegistryError, match="layer"):
        ModelConfig(norm="group")
    with pytest.raises(ValueError, match="edge_dropout"):
        ModelConfig(edge_dropout=1.0)
    with pytest.raises(RegistryError, match="prior"):
        ModelConfig(head="priors")
    with pytest.raises(ConfigError, match="ModelConfig.head_kwargs: .*did you mean 'scale'"):
        ModelConfig(head="prior", head_kwargs={"scal": 0.2})
    with pytest.raises(ConfigError, match="ModelConfig.readouts: .*'name'"):
        ModelConfig(readouts=[{"channels": [IMAGE_CHANNEL]}])
    with pytest.raises(RegistryError, match="inherit"):
        ModelConfig(readouts=[{"name": "inherits"}])


def test_legacy_configs_map_to_heads_and_readouts() -> None:
    """run.json files written before heads and readouts load as the same model; settings no model has are refused."""
    new = ModelConfig(  # a legacy run.json leaves out what its defaults were: 128 dimensions
        out_dim=128,
        head="prior",
        head_kwargs={"scale": 0.2},
        readouts=[{"name": "inherit", "weight": 0.5}, {"name": "channels", "channels": [IMAGE_CHANNEL]}],
    )
    legacy = {"prior_residual": True, "prior_scale": 0.2, "channels": [IMAGE_CHANNEL], "inherit": {"weight": 0.5}}
    assert ModelConfig.from_dict(legacy) == new
    # A full old run.json "model" entry, with the settings every model now has at their only value.
    old = {
        **{k: v for k, v in new.to_dict().items() if k not in ("head", "head_kwargs", "readouts")},
        **legacy,
        "residual": True,
        "skip_input": True,
        "shared_head": True,
        "tie_inputs": True,
        "input_dropout": 0.0,
    }
    assert ModelConfig.from_dict(json.loads(json.dumps(old))) == new
    # Without the prior: a plain head (prior_scale is then unused); no inherit and no channels: no readouts.
    legacy_plain = ModelConfig(out_dim=128, head="plain", head_kwargs={}, readouts=[])
    assert ModelConfig.from_dict({"prior_residual": False, "prior_scale": 0.2, "channels": [], "inherit": None}) == (
        legacy_plain
    )
    assert ModelConfig.from_dict({"prior_residual": True}) == dataclasses.replace(
        legacy_plain, head="prior", head_kwargs={"scale": 0.5}
    )
    for key, value in (
        ("residual", False),
        ("skip_input", False),
        ("shared_head", False),
        ("tie_inputs", False),
        ("input_dropout", 0.1),
    ):
        with pytest.raises(ConfigError, match=f"ModelConfig: {key}={value!r} is not a setting") as caught:
            ModelConfig.from_dict({**legacy, key: value})
        assert caught.value.key == key
    with pytest.raises(ConfigError, match="ModelConfig.readouts: .*decay"):  # legacy channels are checked too
        ModelConfig.from_dict({"channels": [{"sources": ["image"], "decay": 0.0}]})
    with pytest.raises(TypeError):  # the legacy keys are read by from_dict only, not fields
        ModelConfig(residual=False)  # type: ignore[call-arg]


def test_old_weights_load_into_the_head_and_readouts(tiny_graph: HeteroData) -> None:
    """Weights saved when the prior and the channels were attributes of the model (prior.*, prior_log_scale,
    channels.*) load strictly into head.prior.*, head.log_scale and readouts.channels.graph_channels.*."""
    overrides = {
        "head": "prior",
        "head_kwargs": {"scale": 0.3},
        "readouts": [{"name": "channels", "channels": [IMAGE_CHANNEL]}],
    }
    model = make_model(tiny_graph, **overrides)
    model.train()(tiny_graph.x_dict, tiny_graph.edge_index_dict)  # sets the channel's centre
    with torch.no_grad():
        model.head.log_scale.add_(0.7)  # not the initial value
    renames = (
        ("head.prior.", "prior."),
        ("head.log_scale", "prior_log_scale"),
        ("readouts.channels.graph_channels.", "channels."),
    )
    old_state = {}
    for key, value in model.state_dict().items():
        if key == "readouts.channels.scales":  # the per-direction scales came later: old files load them as 1
            continue
        for new, old in renames:
            if key.startswith(new):
                key = old + key[len(new) :]
                break
        old_state[key] = value
    assert "prior_log_scale" in old_state and "channels.center_0" in old_state
    assert any(k.startswith("prior.") for k in old_state) and not any(k.startswith("readouts.") for k in old_state)
    restored = make_model(tiny_graph, seed=1, **overrides)
    assert not torch.equal(restored.head.log_scale, model.head.log_scale)
    restored.load_state_dict(old_state, strict=True)
    assert restored.state_dict().keys() == model.state_dict().keys()
    for name, value in model.state_dict().items():
        assert torch.equal(value, restored.state_dict()[name]), name
    model.eval(), restored.eval()
    with torch.no_grad():
        expected = model(tiny_graph.x_dict, tiny_graph.edge_index_dict)
        got = restored(tiny_graph.x_dict, tiny_graph.edge_index_dict)
        assert all(torch.equal(expected[t], got[t]) for t in expected)
        assert expected["image"].shape == (7, 8 + 20)
        new_image = tiny_graph["image"].x[6:]
        assert torch.equal(model.encode_features("image", new_image), restored.encode_features("image", new_image))
    # Loading the new names stays strict too.
    make_model(tiny_graph, seed=2, **overrides).load_state_dict(model.state_dict(), strict=True)


@pytest.mark.parametrize("name", CONVS.names())
def test_forward_backward_every_conv(name: str, tiny_graph: HeteroData) -> None:
    model = make_model(tiny_graph, conv=name, conv_kwargs=CONV_KWARGS[name], edge_dropout=0.2)
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
        {"norm": "none"},
        {"act": "relu", "head": "prior", "head_kwargs": {"scale": 0.2}},
        {"head": "prior", "readouts": [{"name": "inherit"}, {"name": "channels", "channels": [IMAGE_CHANNEL]}]},
        {"num_layers": 0},
        {"num_layers": 0, "head": "prior"},
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
    with pytest.raises(GraphValidationError, match="unknown node type"):
        model.encode_features("video", torch.randn(2, 4))
    with pytest.raises(GraphValidationError, match=r"\(num_nodes, 20\)"):
        model.encode_features("image", torch.randn(2, 4))


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
        "HeteroAligner(conv='gatv2', num_layers=2, hidden_dim=16, out_dim=8, norm='layer', head='plain', "
        "node_types=['concept', 'text', 'image'], num_edge_types=5)"
    )
    assert model.out_dim == 8 and model.node_types == ["concept", "text", "image"]
    assert isinstance(model.head, ProjectionHead) and len(model.readouts) == 0
    readouts = [{"name": "inherit"}, {"name": "channels", "channels": [IMAGE_CHANNEL]}]
    parts = make_model(tiny_graph, head="prior", head_kwargs={"scale": 0.2}, readouts=readouts)
    assert repr(parts) == (
        "HeteroAligner(conv='gatv2', num_layers=2, hidden_dim=16, out_dim=8, norm='layer', head='prior', "
        "readouts=['inherit', 'channels'], node_types=['concept', 'text', 'image'], num_edge_types=5)"
    )
    assert parts.out_dim == 8 + 20  # the image channel appends the 20 image features
    assert isinstance(parts.head, PriorHead) and set(parts.head.prior) == {"concept", "text", "image"}
    torch.testing.assert_close(parts.head.log_scale.exp(), torch.tensor(0.2))
    assert list(parts.readouts) == ["inherit", "channels"]  # config order
    assert isinstance(parts.readouts["inherit"], InheritReadout) and parts.readouts["inherit"].config.hops == 3
    assert isinstance(parts.readouts["channels"], ChannelsReadout)
    assert parts.readouts["channels"].graph_channels.dim == 20


def test_state_dict_has_no_shared_tensors(tiny_graph: HeteroData) -> None:
    safetensors_torch = pytest.importorskip("safetensors.torch")
    model = make_model(tiny_graph)
    restored = make_model(tiny_graph, seed=1)
    restored.load_state_dict(safetensors_torch.load(safetensors_torch.save(model.state_dict())))
    for name, value in model.state_dict().items():
        assert torch.equal(value, restored.state_dict()[name])
