from __future__ import annotations

import pytest
import torch
from PIL import Image

from graphalign.data.split import SplitConfig
from graphalign.errors import ConfigError
from graphalign.features.store import BuiltGraph
from graphalign.graph import KnowledgeGraph
from graphalign.nn import ModelConfig
from graphalign.training.trainer import RunConfig, TrainConfig, fit

SMALL_MODEL = ModelConfig(hidden_dim=32, out_dim=16, num_layers=2, conv="sage", dropout=0.0)


def noise_graph(num_concepts: int = 20, images_per_concept: int = 3, seed: int = 0) -> BuiltGraph:
    """Images with identical (all-zero) features: only a graph edge can tell their concept.

    Every image ``depicts`` its concept and is also ``tagged`` with it (a
    non-aligned relation, like the category folders of the Tux Paint data).
    """
    g = torch.Generator().manual_seed(seed)
    kg = KnowledgeGraph()
    for c in range(num_concepts):
        kg.add_concept(f"c{c}", name=f"concept {c}")
    for c in range(num_concepts):
        for k in range(images_per_concept):
            # distinct pixels (identical images would be held out together as copies); the features are noise anyway
            kg.add_image(f"i{c}_{k}", image=Image.new("RGB", (2, 2), (c, k, 0)))
            kg.add_edge(f"i{c}_{k}", "depicts", f"c{c}")
            kg.add_edge(f"i{c}_{k}", "tagged", f"c{c}")
    features = {
        "concept": torch.randn(num_concepts, 24, generator=g),
        "image": torch.zeros(num_concepts * images_per_concept, 24),
    }
    return BuiltGraph(graph=kg, features=features)


def train_noise(isolate_heldout: bool, seed: int = 0) -> dict[str, float]:
    built = noise_graph()
    split = SplitConfig(
        val_fraction=0.1, test_fraction=0.3, align_relations=["depicts"], isolate_heldout=isolate_heldout
    )
    result = fit(built, SMALL_MODEL, TrainConfig(epochs=60, batch_size=32, patience=100, seed=seed), split)
    return result.test_metrics


def test_no_leakage_where_leaking_would_give_a_perfect_score():
    honest = train_noise(isolate_heldout=True)
    leaky = train_noise(isolate_heldout=False)
    chance = sum(1 / r for r in range(1, 21)) / 20  # 0.18 for 20 concepts
    # Control: when the held-out images keep their 'tagged' edge, the model reads
    # the label from the graph and is (near) perfect: the test can detect a leak.
    assert leaky["image->concept/mrr"] > 0.9
    # The real split hides every edge of held-out images: noise features, so ~chance.
    assert honest["image->concept/mrr"] < chance + 0.2
    assert honest["image->concept/count"] == leaky["image->concept/count"] >= 15


def test_isolated_nodes_get_finite_distinct_embeddings(toy_built):
    result = fit(toy_built, SMALL_MODEL, TrainConfig(epochs=2))
    model = result.model.eval()
    held = result.split.heldout["test"]["image"]
    data = toy_built.hetero_data
    with torch.no_grad():
        from graphalign.training.trainer import message_passing_data

        mp = message_passing_data(toy_built, result.split)
        z = model(mp.x_dict, mp.edge_index_dict)["image"][held]
        direct = model.encode_features("image", data["image"].x[held])
    assert torch.isfinite(z).all() and torch.allclose(z.norm(dim=1), torch.ones(len(held)), atol=1e-5)
    assert torch.allclose(z, direct, atol=1e-5)  # an isolated node = a brand-new node
    assert torch.cdist(z, z).triu(1)[torch.ones(len(held), len(held)).triu(1).bool()].min() > 1e-4


def test_same_seed_same_metrics_twice(toy_built):
    config = TrainConfig(epochs=4, seed=7)
    a = fit(toy_built, SMALL_MODEL, config).test_metrics
    b = fit(toy_built, SMALL_MODEL, config).test_metrics
    c = fit(toy_built, SMALL_MODEL, TrainConfig(epochs=4, seed=8)).test_metrics
    assert a == b
    assert a != c


@pytest.mark.parametrize("conv", ["gat", "gatv2", "rgcn", "sage", "hgt"])
@pytest.mark.parametrize("loss", ["infonce", "triplet"])
def test_training_learns_above_chance(toy_built, conv, loss):
    model = ModelConfig(hidden_dim=32, out_dim=16, num_layers=2, conv=conv, dropout=0.0)
    result = fit(toy_built, model, TrainConfig(epochs=40, batch_size=32, lr=5e-3, loss=loss, patience=100))
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    chance = sum(1 / r for r in range(1, 12)) / 11  # 0.27 for 11 concepts
    assert result.test_metrics["image->concept/mrr"] > chance + 0.05


@pytest.mark.parametrize("batch_size", [256, 5])  # 5: smaller edge types stop mid-permutation at epoch ends
def test_checkpoint_resume_gives_the_same_result(toy_built, tmp_path, batch_size):
    config = TrainConfig(epochs=6, seed=3, patience=100, batch_size=batch_size)
    straight = fit(toy_built, SMALL_MODEL, config, run_dir=tmp_path / "straight")
    # Train 3 epochs, then resume to 6 from the checkpoint.
    config3 = TrainConfig(epochs=3, seed=3, patience=100, batch_size=batch_size)
    fit(toy_built, SMALL_MODEL, config3, run_dir=tmp_path / "resumed")
    resumed = fit(toy_built, None, TrainConfig(epochs=6), run_dir=tmp_path / "resumed", resume=True)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4, 5, 6]
    assert [h["loss"] for h in resumed.history] == pytest.approx([h["loss"] for h in straight.history], rel=1e-5)
    assert resumed.test_metrics == pytest.approx(straight.test_metrics, rel=1e-5)
    files = sorted(p.name for p in (tmp_path / "resumed").iterdir())
    assert files == [
        ".graphalign.json",
        "checkpoint.safetensors",
        "graph",
        "metrics.json",
        "model.safetensors",
        "run.json",
        "split.safetensors",
    ]


def test_early_stopping(toy_built):
    result = fit(toy_built, SMALL_MODEL, TrainConfig(epochs=200, lr=0.05, patience=2))
    assert len(result.history) < 200
    best = max(h["val_mrr"] for h in result.history)
    if result.best_epoch > 0:  # epoch 0 (the untrained model) is a candidate too
        assert result.best_epoch == next(h["epoch"] for h in result.history if h["val_mrr"] == best)
    assert result.val_metrics["mrr"] >= best - 1e-6


def test_full_batch_and_mini_batch_reach_similar_metrics(toy_built):
    model = ModelConfig(hidden_dim=32, out_dim=16, num_layers=2, conv="sage", dropout=0.0)
    runs: dict[str, list[dict[str, float]]] = {"full": [], "minibatch": []}
    for seed in (0, 1):  # ~20 held-out images per split: one seed alone swings between 0.29 and 0.69
        for mode in runs:
            sampler = {"name": mode, "num_neighbors": [-1, -1]} if mode == "minibatch" else {"name": mode}
            config = TrainConfig(epochs=30, batch_size=32, sampler=sampler, patience=100, seed=seed)
            runs[mode].append(fit(toy_built, model, config).test_metrics)
    chance = sum(1 / r for r in range(1, 12)) / 11
    for mode, metrics in runs.items():
        assert sum(m["image->concept/mrr"] for m in metrics) / 2 > 1.5 * chance, mode
        assert all(abs(m["mrr"] - f["mrr"]) < 0.1 for m, f in zip(metrics, runs["full"]))


def test_mini_batch_with_small_fan_out_trains(toy_built):
    config = TrainConfig(epochs=3, batch_size=16, sampler={"name": "minibatch", "num_neighbors": [3, 2]}, negatives=-1)
    result = fit(toy_built, SMALL_MODEL, config)
    assert len(result.history) == 3 and all(torch.isfinite(torch.tensor(h["loss"])) for h in result.history)


def test_isolate_nodes_cuts_all_edges_of_chosen_nodes(toy_built):
    from graphalign.data.split import split_graph
    from graphalign.training.trainer import _Trainer

    split = split_graph(toy_built.graph, seed=0)
    trainer = _Trainer(toy_built, split, SMALL_MODEL, TrainConfig(sampler={"name": "full", "isolate_nodes": 0.5}))
    edges = trainer.data.edge_index_dict
    generator_state = trainer.generator.get_state()
    cut = trainer._isolate(edges)
    trainer.generator.set_state(generator_state)  # replay the same draw to know which nodes were cut
    chosen = {
        t: torch.rand(toy_built.features[t].size(0), generator=trainer.generator) < 0.5 for t in ("image", "text")
    }
    for edge_type, edge_index in cut.items():
        for side, node_type in ((0, edge_type[0]), (1, edge_type[2])):
            if node_type in chosen:
                assert not chosen[node_type][edge_index[side]].any()
    assert sum(e.size(1) for e in cut.values()) < sum(e.size(1) for e in edges.values())
    # Concept-concept edges are untouched (only image and text nodes are isolated).
    assert torch.equal(cut[("concept", "is_a", "concept")], edges[("concept", "is_a", "concept")])
    result = fit(toy_built, SMALL_MODEL, TrainConfig(epochs=2, sampler={"name": "full", "isolate_nodes": 0.3}))
    assert len(result.history) == 2


def test_isolation_keeps_label_free_knn_edges(toy_built):
    from graphalign.data.split import split_graph
    from graphalign.features.knn import add_knn_edges
    from graphalign.training.trainer import _Trainer

    built = add_knn_edges(toy_built, "image", k=2)
    trainer = _Trainer(
        built,
        split_graph(built.graph, seed=0),
        SMALL_MODEL,
        TrainConfig(sampler={"name": "full", "isolate_nodes": 0.5}),
    )
    edges = trainer.data.edge_index_dict
    cut = trainer._isolate(edges)
    for edge_type in (("image", "similar_to", "image"), ("image", "rev_similar_to", "image")):
        assert edges[edge_type].size(1) == 2 * built.index.num_nodes("image") and torch.equal(
            cut[edge_type], edges[edge_type]
        )
    assert cut[("image", "depicts", "concept")].size(1) < edges[("image", "depicts", "concept")].size(1)


def test_steps_per_epoch_cap(toy_built):
    from graphalign.data.split import split_graph
    from graphalign.training.trainer import _Trainer

    split = split_graph(toy_built.graph, seed=0)
    assert _Trainer(toy_built, split, SMALL_MODEL, TrainConfig(batch_size=4)).steps_per_epoch > 2
    assert (
        _Trainer(
            toy_built, split, SMALL_MODEL, TrainConfig(batch_size=4, sampler={"name": "full", "steps_per_epoch": 2})
        ).steps_per_epoch
        == 2
    )


def test_supervise_trains_only_the_chosen_relations(toy_built):
    from graphalign.data.split import split_graph
    from graphalign.errors import ConfigError, GraphValidationError
    from graphalign.training.trainer import _Trainer

    split = split_graph(toy_built.graph, seed=0)
    everything = _Trainer(toy_built, split, SMALL_MODEL, TrainConfig()).supervised
    assert len({et[1] for et in everything}) > 1
    chosen = _Trainer(toy_built, split, SMALL_MODEL, TrainConfig(), supervise=["depicts"]).supervised
    assert {et[1] for et in chosen} == {"depicts"}
    # The other relations still pass messages.
    assert any(et[1] == "describes" for et in split.edges["message_passing"])
    with pytest.raises(GraphValidationError, match=r"names 'likes', with no supervision edges in this graph; rel"):
        _Trainer(toy_built, split, SMALL_MODEL, TrainConfig(), supervise=["likes"])
    # A misspelled relation beside a right one is refused too, every one named.
    with pytest.raises(GraphValidationError, match=r"names 'describs', 'dpicts', with no supervision edges"):
        _Trainer(toy_built, split, SMALL_MODEL, TrainConfig(), supervise=["depicts", "describs", "dpicts"])
    with pytest.raises(ConfigError, match="at least one relation"):
        SplitConfig(supervise=[])
    result = fit(toy_built, SMALL_MODEL, TrainConfig(epochs=2, seed=0), SplitConfig(supervise=["depicts"]), split=split)
    assert "image->concept/mrr" in result.test_metrics


@pytest.mark.parametrize("propagate", [None, {"hops": 2, "dim": 4}])
@pytest.mark.parametrize("negatives", [-1, 0, 3])
def test_towers_step_embeds_only_needed_rows_with_the_same_loss_and_gradients(
    toy_built, negatives, propagate, monkeypatch
):
    """A model without message passing (with or without propagated features) takes a row-restricted
    step; it must equal the whole-graph step, nodes cut off at that step included."""
    from graphalign.data.split import split_graph
    from graphalign.training.trainer import _Trainer

    split = split_graph(toy_built.graph, seed=0)
    towers = ModelConfig(hidden_dim=16, out_dim=8, num_layers=0, dropout=0.0, propagate=propagate)
    config = TrainConfig(batch_size=4, negatives=negatives, sampler={"name": "full", "isolate_nodes": 0.2}, seed=3)
    rows, full = _Trainer(toy_built, split, towers, config), _Trainer(toy_built, split, towers, config)
    full.model.load_state_dict(rows.model.state_dict())
    assert not rows._passes_messages()
    monkeypatch.setattr(full, "_passes_messages", lambda: True)
    for _ in range(2):
        for trainer in (rows, full):
            trainer.model.train()
            trainer.optimizer.zero_grad()
        loss_rows, loss_full = rows._full_step(0), full._full_step(0)
        assert torch.allclose(loss_rows, loss_full, atol=1e-6)
        for a, b in zip(rows.model.parameters(), full.model.parameters()):
            assert (a.grad is None and b.grad is None) or torch.allclose(a.grad, b.grad, atol=1e-6)
        rows.optimizer.step()
        full.optimizer.step()


def test_deterministic_training_switches_torch_to_deterministic_algorithms_and_back(toy_built, monkeypatch, tmp_path):
    from graphalign.training import trainer as trainer_module

    seen = []
    original = trainer_module._Trainer.train_epoch

    def spy(self, epoch):
        seen.append(torch.are_deterministic_algorithms_enabled())
        return original(self, epoch)

    monkeypatch.setattr(trainer_module._Trainer, "train_epoch", spy)
    assert not torch.are_deterministic_algorithms_enabled()
    config, run = TrainConfig(epochs=2, batch_size=64), RunConfig(deterministic=True)
    first = fit(toy_built, SMALL_MODEL, config, run=run).test_metrics
    assert seen == [True, True] and not torch.are_deterministic_algorithms_enabled()  # restored afterwards
    assert fit(toy_built, SMALL_MODEL, config, run=run).test_metrics == first
    fit(toy_built, SMALL_MODEL, TrainConfig(epochs=1, batch_size=64))
    assert seen[-1] is True  # on by default
    fit(toy_built, SMALL_MODEL, TrainConfig(epochs=1, batch_size=64), run=RunConfig(deterministic=False))
    assert seen[-1] is False
    # A resumed run keeps its saved setting, whatever the caller's new epoch budget says.
    fit(
        toy_built,
        SMALL_MODEL,
        TrainConfig(epochs=1, batch_size=64),
        run_dir=tmp_path / "run",
        run=RunConfig(deterministic=False),
    )
    before = len(seen)
    fit(toy_built, train_config=TrainConfig(epochs=2), run_dir=tmp_path / "run", resume=True, run=RunConfig())
    assert seen[before:] == [False] and not torch.are_deterministic_algorithms_enabled()  # epoch 2 only, as saved
    assert RunConfig.from_dict(run.to_dict()).deterministic


def test_resume_names_the_given_settings_it_does_not_take(toy_built, tmp_path, caplog):
    fit(toy_built, SMALL_MODEL, TrainConfig(epochs=1, batch_size=64), run_dir=tmp_path / "run")
    with caplog.at_level("WARNING", logger="graphalign"):
        resumed = fit(
            toy_built,
            {"conv": "rgcn", "num_layers": 1},  # a dict of fields is a config too
            TrainConfig(epochs=2, lr=0.5),
            run_dir=tmp_path / "run",
            resume=True,
        )
    assert resumed.model_config.conv == "sage" and resumed.train_config.lr != 0.5  # the run's own
    assert len(resumed.history) == 2  # the epochs were taken
    warned = caplog.text
    assert "resuming keeps the run's own settings, so these given ones are not used" in warned
    assert "model.conv='rgcn' (the run's: 'sage')" in warned and "train.lr=0.5" in warned
    assert "epochs" not in warned.split("not used:")[1]


def test_configs_may_be_dicts_of_their_fields(toy_built):
    result = fit(toy_built, SMALL_MODEL.to_dict(), {"epochs": 1, "batch_size": 64}, {"val_fraction": 0.2})
    assert result.train_config.epochs == 1 and result.model_config.conv == "sage"
    with pytest.raises(ConfigError, match=r"unknown TrainConfig keys \['epoch'\]"):
        fit(toy_built, SMALL_MODEL, {"epoch": 1})
