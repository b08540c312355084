"""Per-direction channel scales fitted on validation links after training."""

from __future__ import annotations

import logging
import math

import pytest
import torch
from PIL import Image

from graphalign.data.split import SplitConfig
from graphalign.errors import ConfigError
from graphalign.evaluation.evaluator import LinkEvaluator
from graphalign.features.store import BuiltGraph
from graphalign.graph import KnowledgeGraph
from graphalign.graph.convert import edge_index_dict
from graphalign.nn import ModelConfig
from graphalign.training.calibration import CalibrationConfig, fit_direction_scales
from graphalign.training.run import TrainedRun
from graphalign.training.trainer import RunConfig, TrainConfig, embed_nodes, fit

PRIOR = {"sources": ["image", "concept"], "hops": 0, "center": False}
MISLEADING = {"sources": ["concept"], "relations": ["tagged"], "hops": 1, "center": False, "weight": 2.0}


def concept_images(
    num_concepts: int, images_per_concept: int, seed: int, noise: float, own_space: bool, tagged: bool
) -> BuiltGraph:
    """Concepts with random features and images that depict them: each image is its concept's features
    plus noise, or (``own_space``) a per-concept centre of an unrelated space plus noise; with
    ``tagged``, each image is also ``tagged`` with the *next* concept."""
    g = torch.Generator().manual_seed(seed)
    kg = KnowledgeGraph()
    for c in range(num_concepts):
        kg.add_concept(f"c{c}", name=f"concept {c}")
    concepts = torch.randn(num_concepts, 16, generator=g)
    centres = torch.randn(num_concepts, 16, generator=g) if own_space else concepts
    images = []
    for c in range(num_concepts):
        for k in range(images_per_concept):
            kg.add_image(f"i{c}_{k}", image=Image.new("RGB", (2, 2), (c, k, 0)))
            kg.add_edge(f"i{c}_{k}", "depicts", f"c{c}")
            if tagged:
                kg.add_edge(f"i{c}_{k}", "tagged", f"c{(c + 1) % num_concepts}")
            images.append(centres[c] + noise * torch.randn(16, generator=g))
    return BuiltGraph(graph=kg, features={"concept": concepts, "image": torch.stack(images)})


def misleading_graph(num_concepts: int = 20, images_per_concept: int = 3) -> BuiltGraph:
    """Images whose features are their concept's plus noise, each also ``tagged`` with the *next* concept.

    A channel that carries the tagged concept's features points every image at
    the wrong concept; the prior channel (the shared features) points at the right one.
    """
    return concept_images(num_concepts, images_per_concept, 0, 0.3, own_space=False, tagged=True)


MODEL = ModelConfig(
    hidden_dim=16,
    out_dim=8,
    num_layers=1,
    conv="sage",
    head="plain",
    head_kwargs={},
    readouts=[{"name": "channels", "channels": [PRIOR, MISLEADING]}],
)
SPLIT = SplitConfig(val_fraction=0.25, test_fraction=0.25, align_relations=["depicts"], isolate_heldout=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("calibrated") / "run"
    train = TrainConfig(epochs=2, batch_size=16)
    return fit(misleading_graph(), MODEL, train, SPLIT, run_dir=run_dir, run=RunConfig(progress=False)), run_dir


def test_fit_switches_off_the_misleading_channel_for_image_to_concept(trained):
    result, _ = trained
    readout = result.model.readouts["channels"]
    prior, misleading = readout.get_scales(("image", "concept"))
    assert misleading <= prior / 4  # switched off, or outweighed by the prior channel
    calibrated = result.test_metrics["image->concept/mrr"]
    readout_scales = readout.scales.clone()
    readout.scales.fill_(1.0)
    evaluator = LinkEvaluator(edge_index_dict(result.built.graph, result.built.index), result.split)
    unscaled = evaluator.evaluate(embed_nodes(result.model, result.built, result.split))["image->concept/mrr"]
    readout.scales.copy_(readout_scales)
    assert calibrated > unscaled + 0.2, (calibrated, unscaled)


def test_scales_are_saved_and_loaded_with_the_weights(trained):
    result, run_dir = trained
    loaded = TrainedRun.load(run_dir)
    assert torch.equal(loaded.model.readouts["channels"].scales, result.model.readouts["channels"].scales)
    z = loaded.embeddings()
    assert set(z.multipliers) == set(result.model.direction_multipliers())
    metrics = LinkEvaluator(edge_index_dict(loaded.built.graph, loaded.built.index), loaded.split).evaluate(z)
    assert metrics["image->concept/mrr"] == pytest.approx(result.test_metrics["image->concept/mrr"])


def test_fit_direction_scales_reports_each_direction_and_keeps_ones_without_gain(trained):
    result, _ = trained
    model = result.model
    scales = model.readouts["channels"].scales.clone()
    model.readouts["channels"].scales.fill_(1.0)
    z = embed_nodes(model, result.built, result.split)
    evaluator = LinkEvaluator(edge_index_dict(result.built.graph, result.built.index), result.split)
    unreachable = CalibrationConfig(min_gain=2.0)  # no change can gain 2 of MRR
    fits = fit_direction_scales(model, z, evaluator, config=unreachable)
    assert {f.direction for f in fits} == {("image", "concept"), ("concept", "image")}
    assert all(f.scales == (1.0, 1.0) and f.after == f.before for f in fits)
    assert bool((model.readouts["channels"].scales == 1).all())
    fits = fit_direction_scales(model, z, evaluator)
    forward = next(f for f in fits if f.direction == ("image", "concept"))
    assert forward.after > forward.before and forward.scales[1] <= forward.scales[0] / 4
    model.readouts["channels"].scales.copy_(scales)


def test_calibrate_false_keeps_every_scale_one():
    model = ModelConfig(**{**MODEL.to_dict(), "readouts": [{**MODEL.readouts[0], "calibrate": False}]})
    result = fit(misleading_graph(), model, TrainConfig(epochs=1, batch_size=16), SPLIT, run=RunConfig(progress=False))
    assert bool((result.model.readouts["channels"].scales == 1).all())
    assert result.model.direction_multipliers() == {}


def test_calibration_config_is_checked():
    for bad in (
        {"grid": ()},
        {"grid": (-1.0,)},
        {"exhaustive_grid": ()},
        {"exhaustive_grid": (0.0, -2.0)},
        {"max_evaluations": -1},
        {"max_scores": -1},
        {"sweeps": 0},
        {"min_gain": -0.1},
        {"by_state": "yes"},
    ):
        with pytest.raises(ConfigError):
            CalibrationConfig(**bad)


def test_linked_and_new_targets_get_views_of_their_own():
    """Channel 0 finds the concepts with training images, channel 1 those without: one view cannot serve
    both groups of validation links, two views can."""
    from graphalign.data.split import EdgeSplit
    from graphalign.nn import HeteroAligner
    from graphalign.nn.directions import NEW
    from graphalign.training.trainer import message_passing_data

    built = misleading_graph(num_concepts=20, images_per_concept=3)
    depicts = edge_index_dict(built.graph, built.index)[("image", "depicts", "concept")]
    image_concept = depicts[1]
    new_concepts = image_concept >= 10  # concepts 10..19 have no training image
    val = torch.arange(depicts.size(1)) % 3 == 0
    train = ~val & ~new_concepts
    edge_type = ("image", "depicts", "concept")
    split = EdgeSplit(
        edges={
            "message_passing": {edge_type: depicts[:, train]},
            "supervision": {edge_type: depicts[:, train]},
            "val": {edge_type: depicts[:, val]},
            "test": {edge_type: depicts[:, :0]},
        },
        aligned_edge_types=[edge_type],
    )
    model = HeteroAligner.from_data(message_passing_data(built, split), MODEL).eval()
    readout = model.readouts["channels"]
    d0, d1 = readout.graph_channels.dims
    out = MODEL.out_dim
    g = torch.Generator().manual_seed(0)
    codes = torch.nn.functional.normalize(torch.randn(20, min(d0, d1), generator=g), dim=-1)

    def part(rows: torch.Tensor, dim: int, signal: torch.Tensor) -> torch.Tensor:
        noise = 0.3 * torch.randn(rows.numel(), dim, generator=g)
        noise[:, : signal.size(1)] += signal
        return noise

    def embed(concept_of: torch.Tensor, n: int) -> torch.Tensor:
        linked_rows = concept_of < 10
        ch0 = part(concept_of, d0, codes[concept_of] * linked_rows.unsqueeze(-1))  # signal for linked concepts
        ch1 = part(concept_of, d1, codes[concept_of] * (~linked_rows).unsqueeze(-1))  # for new ones
        learned = 0.3 * torch.randn(n, out, generator=g)
        return torch.nn.functional.normalize(torch.cat([learned, ch0, ch1], dim=-1), dim=-1)

    z = {"image": embed(image_concept, image_concept.numel()), "concept": embed(torch.arange(20), 20)}
    evaluator = LinkEvaluator(edge_index_dict(built.graph, built.index), split, both_directions=False)
    (fit_,) = fit_direction_scales(model, z, evaluator, config=CalibrationConfig(grid=(0.0, 1.0, 2.0)))
    assert fit_.direction == ("image", "concept") and fit_.after > fit_.before + 0.05
    assert fit_.scales[0] > fit_.scales[1] and fit_.new_scales[1] > fit_.new_scales[0], fit_
    assert readout.get_scales(("image", "concept"), NEW) == list(fit_.new_scales)
    (one,) = fit_direction_scales(model, z, evaluator, config=CalibrationConfig(grid=(0.0, 1.0, 2.0), by_state=False))
    assert one.scales == one.new_scales and one.after < fit_.after


class _JointScore:
    """A validation MRR that only a change of both channels together raises (a trap for coordinate
    ascent), with ties within ``min_gain`` among the best scales."""

    states = {1}  # one view
    cached = True

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, views) -> float:
        self.calls += 1
        first, second = views[0]
        if first == 0.0 and second == 16.0:
            return 0.9
        if first == 0.0 and second == 4.0:
            return 0.899  # within min_gain of the best, with as many scales other than 1
        if first == 0.0 or second == 16.0:
            return 0.1  # each change alone hurts
        return 0.5


def _two_channel_readout():
    from graphalign.nn.readouts import ChannelsReadout

    return ChannelsReadout({"image": 4, "concept": 4}, channels=[dict(PRIOR), {**PRIOR, "sources": ["concept"]}])


def test_one_view_search_finds_a_joint_change_that_coordinate_ascent_misses():
    from graphalign.training.calibration import _fit_one

    direction = ("image", "concept")
    config = CalibrationConfig()
    fit_ = _fit_one(_two_channel_readout(), direction, _JointScore(), config)
    # of (0, 16) at 0.9 and (0, 4) at 0.899, both with two scales other than 1, the better
    assert fit_.scales == (0.0, 16.0) and fit_.after == 0.9 and fit_.before == 0.5
    stuck = _fit_one(_two_channel_readout(), direction, _JointScore(), CalibrationConfig(max_evaluations=0))
    assert stuck.scales == (1.0, 1.0) and stuck.after == 0.5  # coordinate ascent alone stays put


def test_one_view_search_prefers_fewer_changed_scales_within_min_gain():
    from graphalign.training.calibration import _fit_one

    class NearTie(_JointScore):
        def __call__(self, views) -> float:
            first, second = views[0]
            return {(0.0, 16.0): 0.9, (1.0, 16.0): 0.898}.get((first, second), 0.5)

    fit_ = _fit_one(_two_channel_readout(), ("image", "concept"), NearTie(), CalibrationConfig())
    assert fit_.scales == (1.0, 16.0) and fit_.after == 0.898  # one change instead of two, 0.002 below


def test_score_fn_equals_the_ranking_of_rescaled_embeddings():
    """The cached per-block scores, the uncached path and :func:`evaluate_ranking` on the views agree."""
    from graphalign.evaluation.evaluator import RankingRun
    from graphalign.evaluation.ranking import evaluate_ranking
    from graphalign.nn.directions import LINKED, NEW, candidate_view, query_view
    from graphalign.training.calibration import ScoreFn

    g = torch.Generator().manual_seed(1)
    blocks = torch.tensor([0] * 5 + [1] * 3 + [2] * 4)
    z = {
        "image": torch.nn.functional.normalize(torch.randn(30, 12, generator=g), dim=-1),
        "concept": torch.nn.functional.normalize(torch.randn(25, 12, generator=g), dim=-1),
    }
    linked = torch.arange(25) < 15
    pairs = torch.stack([torch.randint(0, 30, (40,), generator=g), torch.randint(0, 25, (40,), generator=g)])
    known = torch.cat(
        [pairs, torch.stack([torch.randint(0, 30, (20,), generator=g), torch.randint(0, 25, (20,), generator=g)])], 1
    )
    seen = linked[pairs[1]]
    runs = [
        (state, RankingRun("image->concept", "image", "concept", pairs[:, mask], known))
        for state, mask in ((LINKED, seen), (NEW, ~seen))
    ]
    views = {LINKED: (2.0, 0.0), NEW: (0.5, 4.0)}
    cached = ScoreFn(("image", "concept"), runs, z, linked, blocks)
    uncached = ScoreFn(("image", "concept"), runs, z, linked, blocks, max_scores=0)
    assert cached.cached and not uncached.cached
    multiplier = torch.stack([torch.cat([torch.ones(1), torch.tensor(views[s])])[blocks] for s in (LINKED, NEW)])
    q, c = query_view(z["image"], multiplier, linked), candidate_view(z["concept"], multiplier, linked)
    expected = sum(evaluate_ranking(q, c, r.pairs[0], r.pairs[1], known_pairs=r.known.t())["mrr"] for _, r in runs) / 2
    assert cached(views) == pytest.approx(expected, abs=1e-6)
    assert uncached(views) == pytest.approx(expected, abs=1e-6)


def clustered_graph() -> BuiltGraph:
    """Images whose features cluster by concept in a space of their own (unrelated to the concepts'
    features): the nearest training image names an image's concept."""
    return concept_images(24, 4, 1, 0.5, own_space=True, tagged=False)


def test_exemplar_term_is_fitted_on_validation_and_lifts_image_to_concept(tmp_path):
    built = clustered_graph()
    model = ModelConfig(**{**MODEL.to_dict(), "readouts": [{"name": "channels", "channels": [PRIOR]}]})
    train = TrainConfig(epochs=1, batch_size=16)
    result = fit(built, model, train, SPLIT, run_dir=tmp_path / "run", run=RunConfig(progress=False))
    term = result.model.exemplars
    assert term is not None and term.weights[0] > 0, term  # the nearest training image names the concept
    assert torch.allclose(term.mean, built.features["image"].mean(0))
    evaluator = LinkEvaluator(edge_index_dict(built.graph, built.index), result.split)
    z = embed_nodes(result.model, built, result.split)
    assert z.term("image", "concept") is not None
    with_term = evaluator.evaluate(z)["image->concept/mrr"]
    assert result.test_metrics["image->concept/mrr"] == pytest.approx(with_term)
    loaded = TrainedRun.load(tmp_path / "run")  # the weights are saved with the model
    assert torch.equal(loaded.model.exemplars.weights, term.weights)
    assert evaluator.evaluate(loaded.embeddings())["image->concept/mrr"] == pytest.approx(with_term)
    z.terms.clear()
    assert with_term > evaluator.evaluate(z)["image->concept/mrr"] + 0.1
    # exemplars are training links only: no held-out image is one
    exemplar_links = set(zip(*z_links(result)))
    held_out = result.split.edges["val"][("image", "depicts", "concept")]
    held_out = torch.cat([held_out, result.split.edges["test"][("image", "depicts", "concept")]], dim=1)
    assert exemplar_links and not exemplar_links & set(zip(*held_out.tolist()))
    unreachable = fit_direction_scales(
        result.model, dict(z), evaluator, config=CalibrationConfig(min_gain=2.0), features=built.features
    )
    assert not result.model.exemplars.active
    off = next(f for f in unreachable if f.direction == ("image", "concept"))
    assert off.exemplar_weights == (0.0, 0.0) and off.exemplar_offset == 0.0


def test_the_exemplar_term_stays_off_on_too_few_validation_links(tmp_path, caplog):
    """A setting that trades concepts with training images against the others cannot be judged on a
    handful of validation links: below ``min_term_links`` of a group the graph has, the term stays off, with
    a warning that gives the counts."""
    built = clustered_graph()
    model = ModelConfig(**{**MODEL.to_dict(), "readouts": [{"name": "channels", "channels": [PRIOR]}]})
    result = fit(built, model, TrainConfig(epochs=1, batch_size=16), SPLIT, run=RunConfig(progress=False))
    assert result.model.exemplars.active  # fitted on the default minimum (the test above)
    evaluator = LinkEvaluator(edge_index_dict(built.graph, built.index), result.split)
    z = embed_nodes(result.model, built, result.split)
    links = result.split.edges["val"][("image", "depicts", "concept")].size(1)
    with caplog.at_level(logging.WARNING, logger="graphalign"):
        fits = fit_direction_scales(
            result.model,
            dict(z),
            evaluator,
            config=CalibrationConfig(min_term_links=links + 1),
            features=built.features,
        )
    assert not result.model.exemplars.active
    off = next(f for f in fits if f.direction == ("image", "concept"))
    assert off.exemplar_weights == (0.0, 0.0) and off.exemplar_offset == 0.0 and off.exemplar_transfer == 0.0
    warned = [r.getMessage() for r in caplog.records if "nearest-exemplar term off" in r.getMessage()]
    assert len(warned) == 1 and f"fitting the term needs {links + 1} of each kind the graph has" in warned[0]
    with pytest.raises(ConfigError, match="min_term_links >= 0"):
        CalibrationConfig(min_term_links=-1)


def z_links(result) -> list[list[int]]:
    """The ``(image, concept)`` links the run's exemplar term reads."""
    from graphalign.training.exemplars import exemplar_term

    return exemplar_term(result.model, result.built.features, result.split, weights=torch.ones(2)).links.tolist()


def test_exemplar_weights_keep_the_sparsest_that_gains():
    from graphalign.training.calibration import _sparsest_gain

    before = 0.30
    # the best pair gains 0.009; a one-weight pair within min_gain of it gains only 0.004: the pair is kept
    results = [(0.30, (0.0, 0.0)), (0.304, (0.1, 0.0)), (0.309, (0.1, 0.2))]
    assert _sparsest_gain(results, before, 0.005) == ((0.1, 0.2), 0.30, 0.309)
    # a one-weight pair that gains enough and lies within min_gain of the best is preferred to it
    results.append((0.306, (0.0, 0.1)))
    assert _sparsest_gain(results, before, 0.005) == ((0.0, 0.1), 0.30, 0.306)
    assert _sparsest_gain([(0.302, (0.1, 0.1))], before, 0.005) == ((0.0, 0.0), 0.30, 0.30)  # no gain: off
    # the same with an offset: a setting is a triple, counted by its non-zero values
    triples = [(0.30, (0.0, 0.0, 0.0)), (0.31, (0.3, 0.0, -0.2)), (0.312, (0.3, 0.1, -0.2))]
    assert _sparsest_gain(triples, before, 0.005) == ((0.3, 0.0, -0.2), 0.30, 0.31)
    assert _sparsest_gain(triples[:1], before, 0.005) == ((0.0, 0.0, 0.0), 0.30, 0.30)


def test_the_exemplar_offset_is_fitted_where_linked_concepts_outscore_new_targets():
    """Linked concepts score 0.25 above the new target of every new-target query, and the views rank the
    linked targets 0.5 above every new concept: an offset between -0.25 and -0.5 (both excluded) serves
    both groups, and the fit finds it."""
    from graphalign.training.calibration import _fit_exemplars

    num_queries, num_concepts = 8, 6
    linked = torch.tensor([True, True, True, False, False, False])
    views = torch.zeros(num_queries, num_concepts)
    targets = torch.tensor([0, 1, 2, 0, 3, 4, 5, 3])  # queries 0-3: linked targets; 4-7: new ones
    views[torch.arange(num_queries), targets] = 0.5
    views[4:, :3] = 0.75  # every linked concept above the new target

    class Score:
        rows = torch.arange(num_queries)

        def scores(self, views_):
            return views

        def mrrs(self, scores):
            ranks = (scores >= scores[torch.arange(num_queries), targets][:, None]).sum(1)  # ties count against
            return [float((1.0 / ranks[rows]).mean()) for rows in (slice(0, 4), slice(4, 8))]

    zero = torch.zeros(num_queries, num_concepts)
    config = CalibrationConfig()
    setting, before, after = _fit_exemplars(Score(), {}, _Term(linked, zero, zero), config)
    assert setting[:2] == (0.0, 0.0) and -0.5 < setting[2] < -0.25  # the offset alone, within the gap
    assert setting[3] == 0.0  # the transfer is 0 everywhere: it stays off
    assert before == pytest.approx(math.sqrt(1.0 * 0.25)) and after == pytest.approx(1.0)
    for missing_zero in ({"exemplar_offsets": (-0.1,)}, {"transfer_grid": (0.1,)}, {"exemplar_grid": (0.1, 0.2)}):
        with pytest.raises(ConfigError, match="include 0"):
            CalibrationConfig(**missing_zero)


class _Term:
    """The parts of an exemplar term as :func:`_fit_exemplars` reads them, given outright."""

    def __init__(self, linked, zero, transferred):
        self.linked, self.zero, self._transferred = linked, zero, transferred
        self.features = torch.zeros(zero.size(0), 1)

    def parts(self, features):
        return self.zero, self.zero

    def transferred(self, views):
        return self._transferred


def test_the_semantic_transfer_is_fitted_where_it_alone_ranks_the_new_targets_first():
    """The views tie every new concept for the new-target queries; the transfer lifts each one's target
    (and every new concept a little for the linked-target queries, never above their 0.5): a transfer
    weight alone serves both groups, and the fit keeps the smallest that does."""
    from graphalign.training.calibration import _fit_exemplars

    num_queries, num_concepts = 8, 6
    linked = torch.tensor([True, True, True, False, False, False])
    targets = torch.tensor([0, 1, 2, 0, 3, 4, 5, 3])
    views = torch.zeros(num_queries, num_concepts)
    views[torch.arange(4), targets[:4]] = 0.5
    views[4:, 3:] = 0.2  # the new concepts tie
    transferred = torch.zeros(num_queries, num_concepts)
    transferred[:4, 3:] = 0.2
    transferred[torch.arange(4, 8), targets[4:]] = 1.0

    class Score:
        rows = torch.arange(num_queries)

        def scores(self, views_):
            return views

        def mrrs(self, scores):
            ranks = (scores >= scores[torch.arange(num_queries), targets][:, None]).sum(1)
            return [float((1.0 / ranks[rows]).mean()) for rows in (slice(0, 4), slice(4, 8))]

    zero = torch.zeros(num_queries, num_concepts)
    setting, before, after = _fit_exemplars(Score(), {}, _Term(linked, zero, transferred), CalibrationConfig())
    assert setting == (0.0, 0.0, 0.0, 0.1)
    assert before == pytest.approx(math.sqrt(1.0 / 3.0)) and after == pytest.approx(1.0)


def test_a_setting_that_costs_one_group_for_the_others_gain_is_not_taken():
    """Every linked concept outscores the new target by 0.25 and new concept 3 sits 0.05 below the
    linked targets: an offset that ranks the new targets first (below -0.25) drops the linked targets
    behind concept 3, and one that keeps them (above -0.05) does nothing for the new targets. The
    geometric mean alone would trade group MRRs (1.0, 0.25) for (0.5, 1.0); the fit keeps the term off."""
    from graphalign.training.calibration import _fit_exemplars

    num_queries, num_concepts = 8, 6
    linked = torch.tensor([True, True, True, False, False, False])
    targets = torch.tensor([0, 1, 2, 0, 3, 4, 5, 3])
    views = torch.zeros(num_queries, num_concepts)
    views[:4, 3] = 0.45  # new concept 3 just below each linked target
    views[torch.arange(num_queries), targets] = 0.5
    views[4:, :3] = 0.75

    class Score:
        rows = torch.arange(num_queries)

        def scores(self, views_):
            return views

        def mrrs(self, scores):
            ranks = (scores >= scores[torch.arange(num_queries), targets][:, None]).sum(1)
            return [float((1.0 / ranks[rows]).mean()) for rows in (slice(0, 4), slice(4, 8))]

    zero = torch.zeros(num_queries, num_concepts)
    setting, before, after = _fit_exemplars(Score(), {}, _Term(linked, zero, zero), CalibrationConfig())
    assert setting == (0.0, 0.0, 0.0, 0.0) and after == before
