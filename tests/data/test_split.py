from __future__ import annotations

import pytest
import torch

from graphalign.data.split import EdgeSplit, SplitConfig, is_aligned, split_graph
from graphalign.errors import ConfigError, GraphValidationError


def edge_set(edges: dict) -> set[tuple]:
    return {(et, int(a), int(b)) for et, e in edges.items() for a, b in e.t().tolist()}


def test_parts_are_disjoint_and_cover_aligned_edges(toy_built):
    split = split_graph(toy_built.graph, SplitConfig(), seed=0)
    mp, sup = edge_set(split.edges["message_passing"]), edge_set(split.edges["supervision"])
    val, test = edge_set(split.edges["val"]), edge_set(split.edges["test"])
    assert not (val & test) and not (val & sup) and not (test & sup)
    assert not ((val | test) & mp)  # nothing held out is visible to message passing
    aligned_mp = {e for e in mp if e[0] in split.aligned_edge_types}
    assert aligned_mp <= sup  # message-passing aligned edges are training edges
    assert len(sup) > len(aligned_mp)  # some supervision edges are hidden from message passing
    assert len(sup | val | test) == toy_built.graph.num_edges  # every edge of the toy graph is aligned


def test_inference_edges_are_every_training_edge_and_nothing_held_out(toy_built):
    split = split_graph(toy_built.graph, SplitConfig(), seed=0)
    forward = {et: e for et, e in split.inference_edges(add_reverse=False).items()}
    inference = edge_set(forward)
    mp, sup = edge_set(split.edges["message_passing"]), edge_set(split.edges["supervision"])
    assert inference == mp | sup and inference > mp  # the supervision-only edges come back
    assert not inference & (edge_set(split.edges["val"]) | edge_set(split.edges["test"]))
    both = split.inference_edges()
    assert all(
        et in both and (both[et].flip(0) == e).all()
        for et, e in both.items()
        if et[1].startswith("rev_")
        for e in [forward[(et[2], et[1][4:], et[0])]]
    )


def test_heldout_nodes_have_no_message_passing_edges(toy_built):
    split = split_graph(toy_built.graph, SplitConfig(val_fraction=0.2, test_fraction=0.3), seed=1)
    for part in ("val", "test"):
        for node_type, rows in split.heldout[part].items():
            rows = set(rows.tolist())
            assert rows
            for (src, _, dst), e in split.edges["message_passing"].items():
                if src == node_type:
                    assert not rows & set(e[0].tolist())
                if dst == node_type:
                    assert not rows & set(e[1].tolist())


def test_heldout_images_are_stratified_by_concept(toy_built):
    split = split_graph(toy_built.graph, SplitConfig(val_fraction=0.0, test_fraction=0.34), seed=0)
    test_images = split.heldout["test"]["image"]
    depicts = toy_built.hetero_data["image", "depicts", "concept"].edge_index
    concept_of = dict(zip(depicts[0].tolist(), depicts[1].tolist()))
    per_concept = torch.bincount(torch.tensor([concept_of[i] for i in test_images.tolist()]), minlength=11)
    leaves = per_concept[per_concept > 0]
    assert len(leaves) == 8 and int(leaves.max()) - int(leaves.min()) <= 1  # ~2 of 6 images of every leaf concept


def test_same_seed_same_split_and_round_trip(toy_built):
    a = split_graph(toy_built.graph, seed=3)
    b = split_graph(toy_built.graph, seed=3)
    c = split_graph(toy_built.graph, seed=4)
    ta, tb, tc = a.to_tensors(), b.to_tensors(), c.to_tensors()
    assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)
    assert any(not torch.equal(ta[k], tc[k]) for k in ta if k in tc)
    back = EdgeSplit.from_tensors(ta, a.aligned_edge_types)
    assert edge_set(back.edges["test"]) == edge_set(a.edges["test"])


def test_alignment_rule():
    assert is_aligned(("image", "depicts", "concept"), None)
    assert is_aligned(("concept", "is_a", "concept"), None)
    assert not is_aligned(("image", "similar_to", "image"), None)
    assert is_aligned(("image", "similar_to", "image"), ["similar_to"])
    assert not is_aligned(("image", "depicts", "concept"), ["is_a"])


def test_bad_split_configs():
    with pytest.raises(ConfigError, match="must be below 1"):
        SplitConfig(val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ConfigError, match=r"supervision_only must be a number >= 0 and < 1"):
        SplitConfig(supervision_only=1.5)


def test_no_aligned_edges_is_an_error(toy_built):
    with pytest.raises(GraphValidationError, match="no aligned edge type"):
        split_graph(toy_built.graph, SplitConfig(align_relations=["nothing"]))


def _graph_with_copies(root):
    """4 concepts x 5 images: two byte-identical image files, one in-memory pair with the
    same pixels; every image has a text, and the texts of concept c0 are one text in
    different case and spacing (a copy group of 5)."""
    from PIL import Image

    from graphalign.graph.knowledge_graph import KnowledgeGraph

    graph = KnowledgeGraph(root)
    (root / "images").mkdir()
    for c in range(4):
        graph.add_concept(f"c{c}", name=f"concept {c}")
        for i in range(5):
            image_id, text_id = f"img:{c}-{i}", f"txt:{c}-{i}"
            if (c, i) in ((1, 0), (1, 1)):  # the same file content twice
                Image.new("RGB", (8, 8), (200, 10, 10)).save(root / "images" / f"{c}-{i}.png")
                graph.add_image(image_id, path=f"images/{c}-{i}.png")
            elif (c, i) in ((2, 0), (2, 1)):  # the same pixels in memory
                graph.add_image(image_id, image=Image.new("RGB", (8, 8), (10, 200, 10)))
            else:
                Image.new("RGB", (8, 8), (c * 40, i * 40, 7)).save(root / "images" / f"{c}-{i}.png")
                graph.add_image(image_id, path=f"images/{c}-{i}.png")
            graph.add_text(text_id, ["A frog.", "a  FROG.", "A frog. "][i % 3] if c == 0 else f"picture {c} {i}")
            graph.add_edge(image_id, "depicts", f"c{c}")
            graph.add_edge(text_id, "describes", image_id)
    return graph


def _side(split, node_type, index, node_id):
    row = index.ids[node_type].index(node_id)
    for part in ("val", "test"):
        if row in split.heldout[part].get(node_type, torch.empty(0)).tolist():
            return part
    return "train"


@pytest.mark.parametrize("seed", range(6))
def test_copies_are_held_out_together(tmp_path, seed):
    from graphalign.graph.convert import NodeIndex

    graph = _graph_with_copies(tmp_path)
    index = NodeIndex.from_graph(graph)
    split = split_graph(graph, SplitConfig(val_fraction=0.2, test_fraction=0.3), seed=seed)
    frog = {_side(split, "text", index, f"txt:0-{i}") for i in range(5)}
    assert len(frog) == 1  # same text up to case and whitespace: one side
    assert _side(split, "image", index, "img:1-0") == _side(split, "image", index, "img:1-1")  # same file bytes
    assert _side(split, "image", index, "img:2-0") == _side(split, "image", index, "img:2-1")  # same pixels
    held = sum(len(split.heldout[p]["text"]) for p in ("val", "test"))
    assert 0 < held < index.num_nodes("text")


def test_copies_can_be_split_one_by_one(tmp_path):
    from graphalign.graph.convert import NodeIndex

    graph = _graph_with_copies(tmp_path)
    index = NodeIndex.from_graph(graph)
    sides = set()
    for seed in range(6):
        split = split_graph(graph, SplitConfig(val_fraction=0.2, test_fraction=0.3, group_copies=False), seed=seed)
        sides |= {frozenset(_side(split, "text", index, f"txt:0-{i}") for i in range(5))}
    assert any(len(s) > 1 for s in sides)  # without grouping, copies land on different sides


def test_copy_keys(tmp_path):
    from graphalign.data.split import copy_key, fold_text

    graph = _graph_with_copies(tmp_path)
    assert fold_text("  A \t frog.\n") == fold_text("a frog.") == "a frog."
    assert copy_key(graph, graph["txt:0-0"]) == copy_key(graph, graph["txt:0-1"]) != copy_key(graph, graph["txt:1-0"])
    assert copy_key(graph, graph["img:1-0"]) == copy_key(graph, graph["img:1-1"]) != copy_key(graph, graph["img:1-2"])
    (tmp_path / "images" / "3-0.png").unlink()  # unreadable: its own group (the encoders report the missing file)
    assert copy_key(graph, graph["img:3-0"]) == ("id", "img:3-0")
    split_graph(graph, SplitConfig(), seed=0)


def test_split_config_rejects_unknown_keys():
    from graphalign.errors import ConfigError

    assert SplitConfig.from_dict(SplitConfig(group_copies=False).to_dict()) == SplitConfig(group_copies=False)
    with pytest.raises((ConfigError, GraphValidationError), match="group_copy"):
        SplitConfig.from_dict({"group_copy": True})


def test_stratified_holdout_keeps_fractions_across_small_strata():
    from graphalign.data.split import stratified_holdout

    strata = {k: [(k, i) for i in range(3)] for k in range(100)}  # 100 strata of 3: 0.6 test each, rounded
    for val_of_rest in (False, True):
        test, val = stratified_holdout(strata, 0.2, 0.1, torch.Generator().manual_seed(0), val_of_rest=val_of_rest)
        assert len(test) == 60 and abs(len(val) - 30) <= 1 and not set(test) & set(val)


def test_union_find_groups_in_first_member_order():
    from graphalign.data.split import UnionFind

    sets = UnionFind(range(5))
    for row, key in enumerate(["a", "b", "a", "c", "b"]):
        sets.union_by_keys(row, [key])
    assert list(sets.groups().values()) == [[0, 2], [1, 4], [3]]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_held_out_link_has_no_training_edge_between_its_two_nodes(seed):
    from graphalign.graph import KnowledgeGraph

    kg = KnowledgeGraph()
    names = [f"c{i}" for i in range(40)]
    for name in names:
        kg.add_concept(name, name=name)
    for i in range(1, 40):
        parent = names[(i - 1) // 3]
        kg.add_edge(names[i], "is_a", parent)
        kg.add_edge(parent, "has_hyponym", names[i])  # the inverse relation
        kg.add_edge(names[i], "similar_to_sibling", names[i - 1])  # a symmetric relation stored both ways
        kg.add_edge(names[i - 1], "similar_to_sibling", names[i])
    split = split_graph(kg, SplitConfig(test_fraction=0.2, val_fraction=0.1), seed=seed)
    held = {frozenset(pair) for part in ("val", "test") for e in split.edges[part].values() for pair in e.t().tolist()}
    assert len(held) > 10
    for part in ("message_passing", "supervision"):
        trained = {frozenset(pair) for e in split.edges[part].values() for pair in e.t().tolist()}
        assert trained and not trained & held, part
