"""The nearest-exemplar term: label transfer over training links, borrowed along the hierarchy."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from graphalign.errors import ConfigError
from graphalign.nn import ModelConfig
from graphalign.nn.exemplars import ExemplarConfig, Exemplars, ExemplarWeights
from graphalign.nn.hetero_gnn import HeteroAligner


def _term(hops: int = 1, weights=(1.0, 1.0)):
    g = torch.Generator().manual_seed(0)
    features = torch.randn(12, 6, generator=g)
    mean = features.mean(0)
    links = torch.tensor([[0, 1, 2, 3, 4], [0, 0, 1, 2, 2]])  # images 0-4 depict concepts 0-2
    hierarchy = torch.tensor([[3, 4], [0, 3]])  # concept 3 is_a 0, concept 4 is_a 3: 4 is two hops from 0
    return Exemplars(features, mean, links, 5, hierarchy, hops, torch.tensor(weights)), features, mean, links


def test_linked_concepts_score_their_nearest_training_image_and_new_ones_borrow_within_hops():
    term, features, mean, links = _term(hops=1)
    queries = torch.arange(5, 12)
    own, borrowed = term.parts(features[queries])
    x = F.normalize(features - mean, dim=-1)
    sims = x[queries] @ x.t()  # (Q, images)
    for c in range(3):
        images = links[0, links[1] == c]
        expected = sims[:, images].max(1).values.clamp_min(0)
        assert torch.allclose(own[:, c], expected, atol=1e-6)
    assert torch.equal(own[:, 3:], torch.zeros(7, 2))  # concepts without images have no term of their own
    assert torch.equal(borrowed[:, :3], torch.zeros(7, 3))
    assert torch.allclose(borrowed[:, 3], own[:, 0])  # one hop from concept 0
    assert torch.equal(borrowed[:, 4], torch.zeros(7))  # two hops away: out of reach with hops=1
    two_hops, *_ = _term(hops=2)
    assert torch.allclose(two_hops.parts(features[queries])[1][:, 4], own[:, 0])


def test_scores_weight_the_two_parts_and_take_rows_or_new_features():
    term, features, *_ = _term(weights=(0.5, 0.2))
    own, borrowed = term.parts(features[[7, 8]])
    assert torch.allclose(term.scores(torch.tensor([7, 8])), 0.5 * own + 0.2 * borrowed)
    assert torch.allclose(term.scores(features=features[[7, 8]]), term.scores(torch.tensor([7, 8])))
    assert term.scores().shape == (12, 5)


def test_the_offset_moves_linked_concepts_only_and_by_the_same_amount_for_every_query():
    term, features, *_ = _term(weights=(0.5, 0.2))
    without = term.scores(torch.tensor([7, 8]))
    term.offset = torch.tensor(-0.25)
    shifted = term.scores(torch.tensor([7, 8]))
    assert torch.allclose(shifted[:, :3], without[:, :3] - 0.25)  # concepts 0-2 have training images
    assert torch.equal(shifted[:, 3:], without[:, 3:])
    assert torch.allclose(term.scores(features=features[[7, 8]]), shifted)  # new images alike


def test_config_checks_and_model_wiring():
    with pytest.raises(ConfigError, match="hops"):
        ExemplarConfig(hops=-1)
    with pytest.raises(ConfigError, match="exemplars"):
        ModelConfig(exemplars={"hop": 2})
    with pytest.raises(ConfigError, match="exemplars"):
        ModelConfig(exemplars=2)
    edge_types = [("image", "depicts", "concept")]
    model = HeteroAligner({"image": 6, "concept": 4}, edge_types, ModelConfig(hidden_dim=8, out_dim=4))
    assert model.exemplars is not None and not model.exemplars.active
    assert model.exemplars.mean.shape == (6,)
    assert HeteroAligner({"image": 6, "concept": 4}, edge_types, ModelConfig(exemplars=None)).exemplars is None
    assert HeteroAligner({"text": 6, "concept": 4}, [], ModelConfig()).exemplars is None  # no images


def test_weights_saved_before_the_term_existed_load_with_it_off():
    module = ExemplarWeights(6, ExemplarConfig())
    module.weights.fill_(0.3)
    module.load_state_dict({})  # an older checkpoint has neither key
    assert not module.active and torch.equal(module.mean, torch.zeros(6))
    saved = ExemplarWeights(6, ExemplarConfig())
    saved.weights.copy_(torch.tensor([0.2, 0.1]))
    saved.offset.fill_(-0.15)
    module.load_state_dict(saved.state_dict())
    assert torch.equal(module.weights, torch.tensor([0.2, 0.1])) and float(module.offset) == pytest.approx(-0.15)
    assert "offset=-0.15" in repr(module)
    older = {k: v for k, v in saved.state_dict().items() if k != "offset"}  # saved before the offset existed
    module.load_state_dict(older)
    assert float(module.offset) == 0.0 and module.active


def test_an_offset_alone_makes_the_term_active():
    module = ExemplarWeights(6, ExemplarConfig())
    module.offset.fill_(-0.1)
    assert module.active
    module.weights.fill_(0.2)
    module.switch_off()  # weights and offset: the term as before calibration
    assert not module.active and torch.equal(module.weights, torch.zeros(2))


def test_parts_in_blocks_of_exemplars_and_edges_equal_one_block(monkeypatch):
    import graphalign.nn.exemplars as exemplars

    term, features, *_ = _term(hops=2)
    whole = term.parts(features[5:])
    monkeypatch.setattr(exemplars, "_BLOCK", 7)  # one exemplar or edge per block for 7 queries
    blocked = term.parts(features[5:])
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(whole, blocked))  # matmul blocks round alike


def _transfer_term(top: int = 2, transfer: float = 0.0):
    g = torch.Generator().manual_seed(1)
    features, concept_features = torch.randn(12, 6, generator=g), torch.randn(5, 4, generator=g)
    links = torch.tensor([[0, 1, 2, 3, 4], [0, 0, 1, 2, 2]])  # concepts 0-2 have images; 3 and 4 do not
    term = Exemplars(
        features,
        features.mean(0),
        links,
        5,
        torch.empty(2, 0, dtype=torch.long),
        0,
        torch.zeros(2),
        concept_features=concept_features,
        transfer=transfer,
        top=top,
        temperature=0.1,
    )
    return term, concept_features


def test_the_transfer_is_conse_over_the_queries_best_linked_concepts_and_reaches_new_concepts_only():
    term, concept_features = _transfer_term(top=2)
    views = torch.tensor([[0.9, 0.2, 0.7, 0.95, 0.0], [0.1, 0.8, 0.3, 0.0, 0.0]])  # new concept 3 is ignored
    out = term.transferred(views)
    x = F.normalize(concept_features, dim=-1)
    for q, (a, b) in enumerate([(0, 2), (1, 2)]):  # each query's two best linked concepts
        p = torch.softmax(views[q, [a, b]] / 0.1, dim=0)
        expected = p[0] * (x[a] @ x.t()) + p[1] * (x[b] @ x.t())
        assert torch.allclose(out[q, 3:], expected[3:], atol=1e-6)
    assert torch.equal(out[:, :3], torch.zeros(2, 3))
    many, _ = _transfer_term(top=50)  # more than the three linked concepts: all three
    assert many.transferred(views).shape == (2, 5)
    without, _ = _transfer_term()
    without.concepts = None  # no concept features: no transfer
    assert torch.equal(without.transferred(views), torch.zeros(2, 5))


def test_scores_add_the_weighted_transfer_and_need_the_views_for_it():
    term, _ = _transfer_term(transfer=0.3)
    views = torch.rand(2, 5, generator=torch.Generator().manual_seed(2))
    plain, _ = _transfer_term(transfer=0.0)
    rows = torch.tensor([7, 8])
    assert torch.allclose(term.scores(rows, views=views), plain.scores(rows) + 0.3 * term.transferred(views))
    with pytest.raises(ValueError, match="views"):
        term.scores(rows)
    assert torch.equal(plain.scores(rows), torch.zeros(2, 5))  # weights, offset and transfer 0: nothing


def test_the_transfer_weight_saves_loads_and_switches_off():
    module = ExemplarWeights(6, ExemplarConfig())
    module.transfer.fill_(0.2)
    assert module.active and "transfer=0.2" in repr(module)
    restored = ExemplarWeights(6, ExemplarConfig())
    restored.load_state_dict(module.state_dict())
    assert float(restored.transfer) == pytest.approx(0.2)
    restored.load_state_dict({k: v for k, v in module.state_dict().items() if k != "transfer"})  # older file
    assert float(restored.transfer) == 0.0 and not restored.active
    module.switch_off()
    assert not module.active
    with pytest.raises(ConfigError, match="top"):
        ExemplarConfig(top=0)
    with pytest.raises(ConfigError, match="temperature"):
        ExemplarConfig(temperature=0.0)
