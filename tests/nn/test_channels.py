from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from graphalign.errors import ConfigError
from graphalign.nn import ChannelConfig, GraphChannels, HeteroAligner, ModelConfig
from graphalign.nn.readouts import ChannelsReadout

DEPICTS = ("image", "depicts", "concept")
REV_DEPICTS = ("concept", "rev_depicts", "image")
IS_A = ("concept", "is_a", "concept")
REV_IS_A = ("concept", "rev_is_a", "concept")
DESCRIBES = ("text", "describes", "image")


def small_gnn(**fields: object) -> ModelConfig:
    """A 2-layer message-passing model of width 8 in a 4-dimensional space (no propagated features)."""
    return ModelConfig(num_layers=2, propagate=None, hidden_dim=8, out_dim=4, **fields)  # type: ignore[arg-type]


def tiny():
    """4 images, 5 concepts, 2 texts; images 0,1 depict concept 0, image 2 depicts concept 1;
    concept 2 is_a concept 0, concept 3 is_a concept 2, concept 4 has no edge; image 3 has none."""
    g = torch.Generator().manual_seed(0)
    x = {
        "image": torch.rand(4, 6, generator=g),
        "concept": torch.randn(5, 3, generator=g),
        "text": torch.randn(2, 3, generator=g),
    }
    depicts = torch.tensor([[0, 1, 2], [0, 0, 1]])
    is_a = torch.tensor([[2, 3], [0, 2]])
    edges = {
        DEPICTS: depicts,
        REV_DEPICTS: depicts.flip(0),
        IS_A: is_a,
        REV_IS_A: is_a.flip(0),
        DESCRIBES: torch.tensor([[0, 1], [2, 2]]),
    }
    return x, edges


def channels_readout(*channels):
    """``ModelConfig.readouts`` with one channels readout of ``channels``."""
    return [{"name": "channels", "channels": list(channels)}]


def test_channel_is_a_hop_by_hop_damped_mean_of_centred_sources():
    x, edges = tiny()
    channels = GraphChannels(
        {t: v.size(1) for t, v in x.items()},
        [ChannelConfig(["image"], weight=2.0, decay=0.5, relations=["depicts", "is_a"])],
    )
    center = x["image"].mean(0)
    channels.center_0.copy_(center)
    channels.eval()
    out = channels(x, edges)
    v = F.normalize(x["image"] - center, dim=-1)
    assert torch.allclose(out["image"], 2.0 * v)  # sources keep their own (centred, unit) feature
    c0 = 0.5 * (v[0] + v[1]) / 2  # hop 1: mean of its images
    assert torch.allclose(out["concept"][0], 2.0 * c0, atol=1e-6)
    assert torch.allclose(out["concept"][1], 2.0 * 0.5 * v[2], atol=1e-6)
    assert torch.allclose(out["concept"][2], 2.0 * 0.5 * c0, atol=1e-6)  # hop 2, over rev_is_a
    assert torch.allclose(out["concept"][3], 2.0 * 0.25 * c0, atol=1e-6)  # hop 3
    assert torch.equal(out["concept"][4], torch.zeros(6))  # unreachable: zeros
    assert torch.equal(out["text"], torch.zeros(2, 6))  # describes is not a listed relation


def test_channel_reads_only_the_edges_it_is_given():
    """Held-out edges are absent from the forward pass, so they cannot shape the channel."""
    x, edges = tiny()
    channels = GraphChannels({t: v.size(1) for t, v in x.items()}, [{"sources": ["image"]}]).eval()
    without = {et: e for et, e in edges.items() if et not in (DEPICTS, REV_DEPICTS)}
    out = channels(x, without)
    assert torch.equal(out["concept"], torch.zeros(5, 6))
    assert not torch.equal(channels(x, edges)["concept"], out["concept"])


def test_text_channel_gives_images_the_mean_of_their_descriptions():
    x, edges = tiny()
    channels = GraphChannels(
        {t: v.size(1) for t, v in x.items()},
        [{"sources": ["text", "concept"], "relations": ["describes"], "hops": 1, "decay": 1.0}],
    ).eval()
    out = channels(x, edges)
    t = F.normalize(x["text"], dim=-1)  # centre is zero before any training pass
    assert torch.allclose(out["image"][2], (t[0] + t[1]) / 2, atol=1e-6)
    assert torch.equal(out["image"][0], torch.zeros(3))
    assert torch.allclose(out["concept"], F.normalize(x["concept"], dim=-1))


def test_centre_is_a_running_mean_in_training_and_frozen_in_eval():
    x, edges = tiny()
    config = small_gnn(
        conv="sage",
        readouts=channels_readout({"sources": ["image"]}),
    )
    model = HeteroAligner({t: v.size(1) for t, v in x.items()}, list(edges), config)
    channels = model.readouts["channels"].graph_channels
    model(x, edges)
    assert torch.allclose(channels.center_0, x["image"].mean(0))
    more = torch.rand(6, 6)
    model({**x, "image": more}, {})
    assert torch.allclose(channels.center_0, torch.cat([x["image"], more]).mean(0), atol=1e-6)
    frozen = channels.center_0.clone()
    model.eval()
    model({**x, "image": torch.rand(3, 6) + 5}, {})
    assert torch.equal(channels.center_0, frozen)


def test_channels_join_the_loss_only_with_in_loss():
    x, edges = tiny()
    dims = {t: v.size(1) for t, v in x.items()}
    post = HeteroAligner(
        dims,
        list(edges),
        small_gnn(
            conv="sage",
            readouts=channels_readout({"sources": ["image"]}),
        ),
    )
    assert post(x, edges)["concept"].shape == (5, 4)  # training mode: the learned part alone
    assert post.encode_features("image", x["image"]).shape == (4, 4)
    assert post.eval()(x, edges)["concept"].shape == (5, 4 + 6)
    joined = HeteroAligner(
        dims,
        list(edges),
        small_gnn(
            conv="sage",
            readouts=channels_readout({"sources": ["image"]}, {"sources": ["text"], "in_loss": True}),
        ),
    )
    assert joined(x, edges)["concept"].shape == (5, 4 + 3)  # training mode: the in_loss channel only
    assert joined.encode_features("text", x["text"]).shape == (2, 4 + 3)
    assert joined.eval()(x, edges)["concept"].shape == (5, 4 + 6 + 3)


def test_model_appends_channels_and_embeds_new_nodes_like_isolated_ones():
    x, edges = tiny()
    config = small_gnn(
        conv="gatv2",
        dropout=0.0,
        readouts=channels_readout({"sources": ["image"], "relations": ["depicts", "is_a"], "feature_slice": [0, 5]}),
    )
    assert ModelConfig.from_dict(config.to_dict()) == config
    model = HeteroAligner({t: v.size(1) for t, v in x.items()}, list(edges), config)
    assert model.out_dim == 4 + 5
    model.train()
    model(x, edges)  # one training pass sets the centre
    model.eval()
    z = model(x, edges)
    assert all(v.shape == (x[t].size(0), 9) for t, v in z.items())
    assert torch.allclose(z["image"].norm(dim=-1), torch.ones(4))
    # Image 3 has no edge: a brand-new image with its features embeds identically.
    assert torch.allclose(model.encode_features("image", x["image"][3:]), z["image"][3:], atol=1e-6)
    # Concept 4 (no edge) gets a zero channel; a new concept too.
    assert torch.allclose(model.encode_features("concept", x["concept"][4:]), z["concept"][4:], atol=1e-6)
    assert torch.equal(z["concept"][4, 4:], torch.zeros(5))
    # The centre is part of the saved state.
    assert "readouts.channels.graph_channels.center_0" in model.state_dict()
    # Without the readouts: the learned part alone, i.e. the first 4 dimensions before the joint normalisation.
    learned = model(x, edges, readouts=False)
    assert learned["image"].shape == (4, 4) and torch.allclose(learned["image"].norm(dim=-1), torch.ones(4))
    assert torch.allclose(F.normalize(z["concept"][:3, :4], dim=-1), learned["concept"][:3], atol=1e-6)


def test_uncentred_channel_on_the_last_features_carries_a_pretrained_space_unchanged():
    x, edges = tiny()
    channels = GraphChannels(
        {"image": 6, "concept": 3, "text": 3},
        [{"sources": ["image", "concept", "text"], "feature_slice": [-3, 0], "hops": 0, "center": False}],
    )
    out = channels(x, edges)  # training mode: no centre is used or needed
    assert torch.allclose(out["image"], F.normalize(x["image"][:, 3:], dim=-1))
    assert torch.allclose(out["concept"], F.normalize(x["concept"], dim=-1))
    assert torch.equal(channels.center_0, torch.zeros(3))


@pytest.mark.parametrize(
    "channel, message, when",
    [
        # A channel's own settings are checked when the ModelConfig is made ...
        ({"sources": []}, "at least one source", "config"),
        ({"sources": ["image"], "feature_slice": [3, 1]}, "feature_slice", "config"),
        ({"sources": ["image"], "feature_slice": [-2, 1]}, "for the last n", "config"),
        ({"sources": ["image"], "decay": 0.0}, "decay", "config"),
        ({"sources": ["image"], "colour": "red"}, "unknown graph channel keys", "config"),
        # ... and what depends on the graph's node types and feature sizes when the model is built.
        ({"sources": ["video"]}, "unknown source node type 'video'", "model"),
        ({"sources": ["image", "text"]}, "different feature sizes", "model"),
        ({"sources": ["image"], "feature_slice": [4, 9]}, "exceeds 'image' features", "model"),
        ({"sources": ["image"], "feature_slice": [-7, 0]}, "exceeds 'image' features", "model"),
    ],
)
def test_bad_channel_configs_name_the_problem(channel, message, when):
    x, edges = tiny()
    in_dims = {t: v.size(1) for t, v in x.items()}
    if when == "config":
        with pytest.raises(ConfigError, match=message) as caught:
            ModelConfig(hidden_dim=8, out_dim=4, readouts=channels_readout(channel))
        assert str(caught.value).startswith("ModelConfig.readouts: ")
        with pytest.raises(ConfigError, match=message):  # a run.json with it is refused as well
            ModelConfig.from_dict({"readouts": channels_readout(channel)})
    else:
        config = ModelConfig(hidden_dim=8, out_dim=4, readouts=channels_readout(channel))
        with pytest.raises(ConfigError, match=message):
            HeteroAligner(in_dims, list(edges), config)
        with pytest.raises(ConfigError, match=message):  # the readout on its own, too
            ChannelsReadout(in_dims, channels=[channel])


def test_forward_can_select_channels():
    x, edges = tiny()
    config = ModelConfig(
        hidden_dim=8,
        out_dim=4,
        num_layers=1,
        dropout=0.0,
        readouts=channels_readout(
            {"sources": ["image"], "relations": ["depicts"], "hops": 1, "center": False},
            {"sources": ["text"], "relations": ["describes"], "hops": 1, "center": False, "weight": 2.0},
        ),
    )
    model = HeteroAligner({t: v.size(1) for t, v in x.items()}, list(edges), config).eval()
    readout = model.readouts["channels"]
    both = model(x, edges)
    learned = model(x, edges, readouts=False)  # appending to the learned part later gives the same rows
    first, second = readout(learned, x, edges, select=[0]), readout(learned, x, edges, select=[1])
    assert all(torch.equal(readout(learned, x, edges)[t], both[t]) for t in x)
    assert all(torch.equal(model.apply_readouts(learned, x, edges)[t], both[t]) for t in x)
    assert all(torch.equal(readout(learned, x, edges, select=[0, 1])[t], both[t]) for t in x)
    assert both["image"].size(1) == 4 + 6 + 3 and first["image"].size(1) == 4 + 6 and second["image"].size(1) == 4 + 3
    # The selected channel is the same block as in the full embedding, up to the joint normalisation.
    assert torch.allclose(
        F.normalize(both["image"][:, 4:10], dim=-1), F.normalize(first["image"][:, 4:], dim=-1), atol=1e-6
    )
    assert torch.allclose(
        F.normalize(both["image"][:, 10:], dim=-1)[2], F.normalize(second["image"][:, 4:], dim=-1)[2], atol=1e-6
    )


def test_identity_channel_scores_exactly_the_linked_sources():
    """codes > 0: concepts carry fixed unit codes; an image linked to two of them carries their normalised mean."""
    x = {"image": torch.randn(3, 6), "concept": torch.randn(5, 3)}
    predicted = ("image", "predicted_as", "concept")
    links = torch.tensor([[0, 0, 1], [1, 3, 4]])
    edges = {predicted: links, ("concept", "rev_predicted_as", "image"): links.flip(0), IS_A: torch.tensor([[2], [0]])}
    config = ChannelConfig(["concept"], weight=1.0, hops=1, relations=["predicted_as"], center=False, codes=512)
    channels = GraphChannels({"image": 6, "concept": 3}, [config]).eval()
    out = channels(x, edges)
    codes = out["concept"]
    assert torch.allclose(codes.norm(dim=-1), torch.ones(5))
    assert torch.equal(codes, GraphChannels({"image": 6, "concept": 3}, [config])(x, edges)["concept"])  # fixed codes
    scores = out["image"] @ codes.T
    assert torch.allclose(scores[0, [1, 3]], torch.full((2,), 2**-0.5), atol=0.1)
    assert scores[0, [0, 2, 4]].abs().max() < 0.2 and scores[1, 4] > 0.99
    assert torch.equal(out["image"][2], torch.zeros(512))  # no prediction edge: zeros


def test_identity_channel_gives_new_nodes_no_identity():
    config = ChannelConfig(["concept"], hops=1, relations=["predicted_as"], center=False, codes=16)
    model = HeteroAligner(
        {"image": 6, "concept": 3},
        [("image", "predicted_as", "concept")],
        ModelConfig(hidden_dim=8, out_dim=4, num_layers=1, conv="sage", readouts=channels_readout(config.to_dict())),
    ).eval()
    with torch.no_grad():
        assert torch.equal(model.encode_features("concept", torch.randn(2, 3))[:, 4:], torch.zeros(2, 16))


@pytest.mark.parametrize("bad", [{"codes": -1}, {"codes": 8, "feature_slice": [0, 2]}, {"codes": 8, "in_loss": True}])
def test_bad_identity_channels_are_rejected(bad):
    with pytest.raises(ConfigError):
        ChannelConfig(["concept"], **bad)


@pytest.mark.parametrize("select", [None, [1], [0, 1]])
def test_readout_without_autograd_writes_the_same_bits_in_place(select):
    """Without autograd the readout fills one buffer per type and normalises it in place; with it, it
    concatenates and normalises: the same values, also for a type ``z`` leaves out (whose features still
    spread to the others)."""
    x, edges = tiny()
    readout = ChannelsReadout(
        {t: v.size(1) for t, v in x.items()},
        channels=[
            {"sources": ["image"], "relations": ["depicts"], "hops": 2, "weight": 0.5},
            {"sources": ["text"], "relations": ["describes"], "hops": 1, "center": False, "weight": 2.0},
        ],
    ).eval()
    z = {"image": torch.randn(4, 4), "concept": torch.randn(5, 4)}  # no "text" rows
    with torch.no_grad():
        in_place = readout(z, x, edges, select=select)
    with torch.enable_grad():
        concatenated = readout({t: v.requires_grad_() for t, v in z.items()}, x, edges, select=select)
    assert set(in_place) == {"image", "concept"}
    for t in in_place:
        assert not in_place[t].requires_grad and concatenated[t].requires_grad
        assert torch.equal(in_place[t], concatenated[t].detach())
    assert in_place["image"][2, 4 + (6 if select != [1] else 0) :].abs().sum() > 0  # image 2 has a description
