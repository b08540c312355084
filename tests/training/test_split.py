from __future__ import annotations

import pytest
import torch

from graphalign.errors import GraphValidationError
from graphalign.training.split import EdgeSplit, SplitConfig, is_aligned, split_graph


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
    assert all(et in both and (both[et].flip(0) == e).all() for et, e in both.items() if et[1].startswith("rev_")
               for e in [forward[(et[2], et[1][4:], et[0])]])

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
    with pytest.raises(GraphValidationError, match="must be below 1"):
        SplitConfig(val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(GraphValidationError, match=r"in \[0, 1\)"):
        SplitConfig(supervision_only=1.5)


def test_no_aligned_edges_is_an_error(toy_built):
    with pytest.raises(GraphValidationError, match="no aligned edge type"):
        split_graph(toy_built.graph, SplitConfig(align_relations=["nothing"]))
