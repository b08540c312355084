from __future__ import annotations

import pytest
import torch

from graphalign.errors import ConfigError
from graphalign.features.store import BuiltGraph
from graphalign.features.wordnet_predictions import (
    PREDICTION_RELATION,
    add_prediction_edges,
    imagenet_hypernyms,
    imagenet_probabilities,
    predicted_concepts,
    wordnet_offset,
)
from graphalign.graph.knowledge_graph import KnowledgeGraph

TENCH, GOLDFISH, CYPRINID, ENTITY = (
    "01440764",
    "01443537",
    "01439121",
    "00001740",
)  # classes 0 and 1, their parent, the root


def test_shipped_table_maps_every_class_to_its_hypernyms():
    table = imagenet_hypernyms()
    assert len(table) == 1000
    assert table[0][TENCH] == 0 and table[0][CYPRINID] == 1 and table[1][GOLDFISH] == 0 and table[1][CYPRINID] == 1
    assert all(
        ENTITY in distances and min(distances.values()) == 0 for distances in table
    )  # every noun reaches "entity"


def one_hot(rows: list[list[int]]) -> torch.Tensor:
    probs = torch.full((len(rows), 1000), 1e-6)
    for i, classes in enumerate(rows):
        for rank, k in enumerate(classes):
            probs[i, k] = 1.0 - 0.1 * rank
    return probs


def test_each_class_links_to_its_nearest_concepts_in_the_graph():
    probs = one_hot([[0], [1], [0, 1]])
    # The graph has tench itself, the parent of both fish, and the root.
    assert predicted_concepts(probs, [TENCH, CYPRINID, ENTITY, None], top_k=1) == [[0], [1], [0]]
    assert predicted_concepts(probs, [TENCH, CYPRINID, ENTITY, None], top_k=2)[2] == [0, 1]
    # Without the parent, goldfish falls back to the root; without any WordNet concept, nothing.
    assert predicted_concepts(probs, [TENCH, ENTITY], top_k=1)[1] == [1]
    assert predicted_concepts(probs, [None, None], top_k=1) == [[], [], []]
    with pytest.raises(ConfigError, match="shape"):
        predicted_concepts(torch.zeros(2, 10), [TENCH])


def test_offsets_come_from_the_attribute_or_the_id():
    graph = KnowledgeGraph()
    graph.add_concept("wn:01440764-n", name="tench")
    graph.add_concept("fish", name="cyprinid", attributes={"offset": CYPRINID})
    graph.add_concept("c:other", name="other")
    assert [wordnet_offset(n) for n in graph.nodes("concept")] == [TENCH, CYPRINID, None]


def tiny_built() -> BuiltGraph:
    graph = KnowledgeGraph()
    graph.add_concept(f"wn:{TENCH}-n", name="tench")
    graph.add_concept(f"wn:{CYPRINID}-n", name="cyprinid")
    graph.add_edge(f"wn:{TENCH}-n", "is_a", f"wn:{CYPRINID}-n")
    for name in ("a", "b"):
        graph.add_image(f"img:{name}", path=f"{name}.png")
    graph.add_edge("img:a", "depicts", f"wn:{TENCH}-n")
    features = {"concept": torch.randn(2, 4), "image": torch.randn(2, 1280)}
    return BuiltGraph(
        graph, features, config={"image_encoder": "color-histogram", "text_encoder": "hashing-text", "progress": False}
    )


def test_prediction_edges_are_added_once_and_are_label_free():
    from graphalign.data.split import LABEL_FREE_RELATIONS

    built = tiny_built()
    augmented = add_prediction_edges(built, top_k=1, probabilities=one_hot([[1], [0]]))
    added = {(e.head, e.tail) for e in augmented.graph.edges if e.relation == PREDICTION_RELATION}
    assert added == {("img:a", f"wn:{CYPRINID}-n"), ("img:b", f"wn:{TENCH}-n")}
    assert built.graph.num_edges + 2 == augmented.graph.num_edges  # the original is untouched
    assert PREDICTION_RELATION in LABEL_FREE_RELATIONS
    with pytest.raises(ConfigError, match="already has 'predicted_as' edges"):
        add_prediction_edges(augmented, probabilities=one_hot([[1], [0]]))
    with pytest.raises(ConfigError, match="3 rows for 2 images"):
        add_prediction_edges(built, probabilities=one_hot([[1], [0], [0]]))


def test_graphs_without_wordnet_concepts_or_imagenet_features_are_refused(toy_dataset, fast_config):
    from graphalign.features.build import build_graph

    toy = build_graph(toy_dataset, fast_config)[0]
    with pytest.raises(ConfigError, match="no concept carries a WordNet 3.0 offset"):
        add_prediction_edges(toy)
    with pytest.raises(ConfigError, match="need images encoded by efficientnet-lite0"):
        imagenet_probabilities(toy)
