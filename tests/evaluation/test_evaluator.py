from __future__ import annotations

import torch

from graphalign.data.split import EdgeSplit
from graphalign.evaluation.evaluator import LinkEvaluator, expand_copies

DESCRIBES = ("text", "describes", "image")


def test_expand_copies_by_hand() -> None:
    pairs = torch.tensor([[0, 2], [5, 6]])  # (text 0, image 5), (text 2, image 6)
    texts = torch.tensor([0, 1, 0, 2])  # texts 0 and 2 are copies
    images = torch.tensor([0, 1, 2, 3, 4, 5, 6, 5])  # images 5 and 7 are copies
    out = {tuple(p) for p in expand_copies(pairs, texts, images).t().tolist()}
    assert out == {(0, 5), (2, 5), (0, 7), (2, 7), (0, 6), (2, 6)}
    assert torch.equal(expand_copies(pairs, None, None), pairs)


def _split(copies: dict[str, torch.Tensor]) -> EdgeSplit:
    empty = torch.zeros(2, 0, dtype=torch.long)
    test = torch.tensor([[0, 1], [0, 1]])  # texts 0 and 1 ("A frog." twice) describe images 0 and 1, both held out
    train = torch.tensor([[2], [2]])
    edges = {
        "message_passing": {DESCRIBES: train},
        "supervision": {DESCRIBES: train},
        "val": {DESCRIBES: empty},
        "test": {DESCRIBES: test},
    }
    return EdgeSplit(
        edges=edges, heldout={"test": {"text": torch.tensor([0, 1])}}, aligned_edge_types=[DESCRIBES], copies=copies
    )


def test_a_copy_s_image_answers_the_query_too() -> None:
    all_edges = {DESCRIBES: torch.tensor([[0, 1, 2], [0, 1, 2]])}
    # text 0 lies closest to image 1 (its twin's image), then to its own image 0
    embeddings = {
        "text": torch.tensor([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 0.0, 1.0]]),
        "image": torch.tensor([[0.9, 0.3, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
    }
    plain = LinkEvaluator(all_edges, _split({})).evaluate(embeddings)
    with_copies = LinkEvaluator(all_edges, _split({"text": torch.tensor([0, 0, 1])})).evaluate(embeddings)
    assert plain["text->image/mrr"] < 1.0  # text 0 ranks image 1 first, a wrong answer without the copies
    assert with_copies["text->image/mrr"] == 1.0
    assert with_copies["text->image/count"] == plain["text->image/count"] == 2


def test_copies_survive_the_split_file_round_trip() -> None:
    split = _split({"text": torch.tensor([0, 0, 1])})
    back = EdgeSplit.from_tensors(split.to_tensors(), split.aligned_edge_types)
    assert torch.equal(back.copies["text"], split.copies["text"])


DEPICTS = ("image", "depicts", "concept")


def _depicts_split(
    val: list[list[int]], test: list[list[int]], extra: dict | None = None, test_images: list[int] | None = None
) -> EdgeSplit:
    empty = torch.zeros(2, 0, dtype=torch.long)
    train = torch.tensor([[2], [1]])  # image 2 depicts concept 1
    edges = {
        "message_passing": {DEPICTS: train},
        "supervision": {DEPICTS: train},
        "val": {DEPICTS: torch.tensor(val).reshape(2, -1)},
        "test": {DEPICTS: torch.tensor(test).reshape(2, -1)},
    }
    for part, by_type in (extra or {}).items():
        edges[part].update(by_type)
    aligned = [DEPICTS, *{t for by_type in (extra or {}).values() for t in by_type}]
    for part in edges:
        for edge_type in aligned:
            edges[part].setdefault(edge_type, empty)
    heldout = {"test": {"image": torch.tensor(test_images)}} if test_images else {}
    return EdgeSplit(edges=edges, heldout=heldout, aligned_edge_types=aligned)


def test_validation_rankings_read_no_test_link_and_rank_no_test_node() -> None:
    # concept 0: image 0 held out for validation, image 1 for the test; image 3, also the test's, depicts
    # concept 1. The model puts images 1 and 3 before image 0.
    split = _depicts_split(val=[[0], [0]], test=[[1, 3], [0, 1]], test_images=[1, 3])
    embeddings = {
        "image": torch.tensor([[0.6, 0.8], [1.0, 0.0], [0.0, 1.0], [0.9, 0.1]]),
        "concept": torch.tensor([[1.0, 0.0], [0.0, 1.0]]),
    }
    every_link = {DEPICTS: torch.tensor([[0, 1, 2, 3], [0, 0, 1, 1]])}
    evaluator = LinkEvaluator(every_link, split)
    val = evaluator.evaluate(embeddings, part="val")
    assert val["concept->image/mrr"] == 1.0  # neither test image is a candidate, linked to concept 0 or not
    without_test_links = LinkEvaluator({DEPICTS: torch.tensor([[0, 2], [0, 1]])}, split)
    assert without_test_links.evaluate(embeddings, part="val") == val  # the test links change nothing
    test = evaluator.evaluate(embeddings, part="test")
    assert test["concept->image/mrr"] == 0.75  # concept 0: image 1 first; concept 1: image 3 after image 2
    val_runs = {run.name: run for run in evaluator.runs("val")}
    assert {(0, 1), (0, 3)} <= set(map(tuple, val_runs["concept->image"].known.t().tolist()))


def test_a_relation_stored_the_other_way_round_is_one_ranking_and_filtered() -> None:
    depicted_by = ("concept", "depicted_by", "image")
    # image 0 depicts concept 0 (test); concept 1 is depicted by image 0 too, stored the other way round (train)
    split = _depicts_split(
        val=[[], []],
        test=[[0], [0]],
        extra={"message_passing": {depicted_by: torch.tensor([[1], [0]])}},
    )
    every_link = {DEPICTS: torch.tensor([[0, 2], [0, 1]]), depicted_by: torch.tensor([[1], [0]])}
    evaluator = LinkEvaluator(every_link, split)
    names = [run.name for run in evaluator.runs("test")]
    assert names == ["image->concept", "concept->image"]  # one ranking per direction, names unique
    embeddings = {
        "image": torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]),  # image 0 lies nearer concept 1
        "concept": torch.tensor([[0.6, 0.8], [0.0, 1.0]]),
    }
    assert evaluator.evaluate(embeddings)["image->concept/mrr"] == 1.0  # concept 1, a link, is filtered


def test_past_its_pair_budget_validation_keeps_the_test_nodes_as_candidates(monkeypatch, caplog) -> None:
    import graphalign.evaluation.evaluator as evaluator_module

    split = _depicts_split(val=[[0], [0]], test=[[1, 3], [0, 1]], test_images=[1, 3])
    every_link = {DEPICTS: torch.tensor([[0, 1, 2, 3], [0, 0, 1, 1]])}
    monkeypatch.setattr(evaluator_module, "MAX_EXCLUDED_PAIRS", 1)  # 1 query x 2 test images is past it
    with caplog.at_level("WARNING", logger="graphalign"):
        runs = {run.name: run for run in LinkEvaluator(every_link, split).runs("val")}
    assert "validation ranks 2 image candidates held out for the test among the others" in caplog.text
    known = set(map(tuple, runs["concept->image"].known.t().tolist()))
    assert (0, 1) not in known and (0, 3) not in known  # no test link read, no test node left out
