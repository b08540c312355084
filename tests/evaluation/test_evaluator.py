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
