"""Per-direction views of the embedding and the channels readout's scales."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from graphalign.errors import ConfigError
from graphalign.nn import HeteroAligner, ModelConfig
from graphalign.nn.directions import LINKED, NEW, DirectedEmbeddings, candidate_view, query_view, rescale
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
    ((direction, views),) = model.direction_multipliers().items()
    image_dim, concept_dim = readout.graph_channels.dims
    assert direction == ("concept", "image") and views.shape == (2, model.out_dim)
    assert torch.equal(views[0], views[1])  # set without a state: both views
    multiplier = views[0]
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


def test_linked_and_new_candidates_are_ranked_each_in_its_own_view():
    torch.manual_seed(0)
    queries, candidates = F.normalize(torch.randn(4, 6), dim=-1), F.normalize(torch.randn(5, 6), dim=-1)
    views = torch.stack([torch.tensor([1.0, 1, 1, 0, 0, 2]), torch.tensor([1.0, 1, 1, 2, 1, 0])])
    linked = torch.tensor([True, False, True, False, False])
    scores = query_view(queries, views, linked) @ candidate_view(candidates, views, linked).T
    for state in (LINKED, NEW):
        own = rescale(queries, views[state]) @ rescale(candidates, views[state]).T
        columns = linked if state == LINKED else ~linked
        assert torch.allclose(scores[:, columns], own[:, columns], atol=1e-6)
    z = DirectedEmbeddings(
        {"image": queries, "concept": candidates}, {("image", "concept"): views}, {("image", "concept"): linked}
    )
    assert z.two_views("image", "concept") and z.pair("image", "concept")[0].shape == (4, 12)
    # one state present, or the same view for both: one view, the stored size
    assert query_view(queries, views, torch.ones(5, dtype=torch.bool)).shape == (4, 6)
    same = views[[0, 0]]
    assert torch.equal(candidate_view(candidates, same, linked), rescale(candidates, views[0]))


def test_scales_of_each_view_are_set_apart(tiny_graph):
    readout = model_with_channels(tiny_graph).readouts["channels"]
    readout.set_scales(("image", "concept"), [0.0, 1.0], state=LINKED)
    readout.set_scales(("image", "concept"), [2.0, 1.0], state=NEW)
    assert readout.get_scales(("image", "concept")) == [0.0, 1.0]
    assert readout.get_scales(("image", "concept"), NEW) == [2.0, 1.0]
    with pytest.raises(ConfigError, match="candidate state"):
        readout.get_scales(("image", "concept"), 2)


def test_weights_with_one_view_per_direction_load_it_for_both_states(tiny_graph):
    model = model_with_channels(tiny_graph)
    readout = model.readouts["channels"]
    readout.set_scales(("image", "concept"), [0.0, 2.0], state=LINKED)
    state = model.state_dict()
    state["readouts.channels.scales"] = state["readouts.channels.scales"][:, :, LINKED].clone()  # the older shape
    readout.scales.fill_(1.0)
    model.load_state_dict(state, strict=True)
    assert readout.get_scales(("image", "concept"), LINKED) == readout.get_scales(("image", "concept"), NEW) == [0, 2]
