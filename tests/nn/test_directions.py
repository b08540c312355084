"""Per-direction views of the embedding and the channels readout's scales."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from graphalign.errors import ConfigError
from graphalign.nn import HeteroAligner, ModelConfig
from graphalign.nn.directions import DirectedEmbeddings, rescale
from graphalign.nn.readouts import ChannelsReadout

CHANNELS = [{"sources": ["image"], "relations": ["depicts"], "hops": 1}, {"sources": ["concept"], "weight": 0.5}]


def model_with_channels(tiny_graph) -> HeteroAligner:
    torch.manual_seed(0)
    config = ModelConfig(
        hidden_dim=8,
        out_dim=4,
        num_layers=1,
        head="plain",
        head_kwargs={},
        readouts=[{"name": "inherit"}, {"name": "channels", "channels": CHANNELS}],
    )
    model = HeteroAligner.from_data(tiny_graph, config)
    model.train()(tiny_graph.x_dict, tiny_graph.edge_index_dict)  # channel centres
    return model.eval()


def test_rescaling_a_slice_equals_scaling_the_channel_before_normalising():
    z, c = F.normalize(torch.randn(5, 4), dim=-1), torch.randn(5, 3)
    stored = F.normalize(torch.cat([z, 0.5 * c], dim=-1), dim=-1)
    expected = F.normalize(torch.cat([z, 2.0 * 0.5 * c], dim=-1), dim=-1)
    multiplier = torch.tensor([1.0] * 4 + [2.0] * 3)
    assert torch.allclose(rescale(stored, multiplier), expected, atol=1e-6)
    assert rescale(stored, None) is stored


def test_model_multipliers_scale_each_channel_slice_and_match_a_model_with_those_weights(tiny_graph):
    model = model_with_channels(tiny_graph)
    readout = model.readouts["channels"]
    assert model.direction_multipliers() == {}
    readout.set_scales(("concept", "image"), [0.0, 2.0])
    assert readout.get_scales(("concept", "image")) == [0.0, 2.0]
    assert readout.get_scales(("image", "concept")) == [1.0, 1.0]
    ((direction, multiplier),) = model.direction_multipliers().items()
    image_dim, concept_dim = readout.graph_channels.dims
    assert direction == ("concept", "image") and multiplier.numel() == model.out_dim
    assert multiplier[:4].eq(1).all() and multiplier[4 : 4 + image_dim].eq(0).all()
    assert multiplier[4 + image_dim :].eq(2).all() and concept_dim == 12
    with torch.no_grad():
        z = DirectedEmbeddings(model(tiny_graph.x_dict, tiny_graph.edge_index_dict), model.direction_multipliers())
        learned = model(tiny_graph.x_dict, tiny_graph.edge_index_dict, readouts=False)
        learned = model.readouts["inherit"](learned, tiny_graph.x_dict, tiny_graph.edge_index_dict)
        channels = readout.graph_channels(tiny_graph.x_dict, tiny_graph.edge_index_dict)
    query, candidates = z.pair("concept", "image")
    expected = F.normalize(torch.cat([learned["image"], channels["image"] * multiplier[4:]], dim=-1), dim=-1)
    assert torch.allclose(candidates, expected, atol=1e-5)
    assert query.shape == z["concept"].shape and torch.equal(z.pair("image", "concept")[0], z["image"])


def test_scales_are_checked(tiny_graph):
    readout = model_with_channels(tiny_graph).readouts["channels"]
    with pytest.raises(ConfigError, match="one per channel"):
        readout.set_scales(("concept", "image"), [1.0])
    with pytest.raises(ConfigError, match="one per channel"):
        readout.set_scales(("concept", "image"), [1.0, -1.0])
    with pytest.raises(ConfigError, match="unknown direction"):
        readout.get_scales(("concept", "audio"))
    with pytest.raises(ConfigError, match="calibrate"):
        ChannelsReadout({"image": 4}, [{"sources": ["image"]}], calibrate="yes")


def test_weights_without_scales_load_with_scales_one(tiny_graph):
    model = model_with_channels(tiny_graph)
    state = {k: v for k, v in model.state_dict().items() if k != "readouts.channels.scales"}
    model.readouts["channels"].set_scales(("image", "concept"), [0.0, 0.0])
    model.load_state_dict(state, strict=True)
    assert bool((model.readouts["channels"].scales == 1).all())
