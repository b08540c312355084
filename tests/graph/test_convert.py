from __future__ import annotations

import networkx as nx
import pytest
import torch
from PIL import Image

from graphalign.errors import GraphValidationError
from graphalign.graph import (
    KnowledgeGraph,
    NodeIndex,
    from_networkx,
    load_dataset,
    reverse_edge_type,
    to_hetero_data,
    to_networkx,
)


def test_hetero_data_types_edges_and_reverse(toy_dataset):
    kg = load_dataset(toy_dataset)
    data = to_hetero_data(kg)
    assert set(data.node_types) == {"concept", "text", "image"}
    assert data["concept"].num_nodes == 11 and data["image"].num_nodes == 32
    assert ("image", "depicts", "concept") in data.edge_types
    assert ("concept", "rev_depicts", "image") in data.edge_types
    assert ("concept", "rev_is_a", "concept") in data.edge_types
    fwd = data["image", "depicts", "concept"].edge_index
    rev = data["concept", "rev_depicts", "image"].edge_index
    assert torch.equal(fwd.flip(0), rev)
    # Row indices follow the id maps both ways.
    index = NodeIndex.from_graph(kg)
    src, dst = fwd[:, 0].tolist()
    image_id, concept_id = index.id("image", src), index.id("concept", dst)
    assert (image_id, "depicts", concept_id) in [e.as_tuple() for e in kg.edges]
    assert index.locate(image_id) == ("image", src)


def test_hetero_data_without_reverse_and_with_features(toy_dataset):
    kg = load_dataset(toy_dataset)
    feats = {"concept": torch.randn(11, 3), "text": torch.randn(32, 5), "image": torch.randn(32, 7)}
    data = to_hetero_data(kg, feats, add_reverse=False)
    assert not any(rel.startswith("rev_") for _, rel, _ in data.edge_types)
    assert data["image"].x.shape == (32, 7)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (torch.randn(10, 3), r"features for 'concept' have shape \(10, 3\), expected \(11, dim\)"),
        (torch.full((11, 3), float("nan")), "contain NaN or infinite values"),
        (torch.randn(11), "have shape"),
    ],
)
def test_bad_features_are_rejected(toy_dataset, bad, message):
    kg = load_dataset(toy_dataset)
    with pytest.raises(GraphValidationError, match=message):
        to_hetero_data(kg, {"concept": bad})


def test_infinite_feature_names_the_node(toy_dataset):
    kg = load_dataset(toy_dataset)
    x = torch.zeros(11, 2)
    x[3, 1] = float("inf")
    with pytest.raises(GraphValidationError, match=repr(kg.node_ids("concept")[3])):
        to_hetero_data(kg, {"concept": x})


def test_reverse_edge_type_round_trip():
    et = ("image", "depicts", "concept")
    assert reverse_edge_type(et) == ("concept", "rev_depicts", "image")
    assert reverse_edge_type(reverse_edge_type(et)) == et


def test_networkx_round_trip(toy_dataset):
    kg = load_dataset(toy_dataset)
    g = to_networkx(kg)
    assert isinstance(g, nx.MultiDiGraph)
    assert g.nodes["c:cat"]["type"] == "concept" and g.nodes["c:cat"]["name"] == "cat"
    assert g.has_edge("i:cat:0", "c:cat", key="depicts")
    back = from_networkx(g, root=toy_dataset)
    assert back == kg
    # The folder that image paths are relative to travels with the graph.
    assert g.graph["root"] == str(toy_dataset)
    assert from_networkx(g).root == toy_dataset and from_networkx(g) == kg


def test_from_plain_networkx_graph_with_flat_attributes(tmp_path):
    g = nx.DiGraph()
    g.add_node("dog", type="concept", name="dog", wikidata="Q144")
    g.add_node("pic", type="image", image=Image.new("RGB", (4, 4)))
    g.add_edge("pic", "dog", relation="depicts")
    kg = from_networkx(g)
    assert kg["dog"].attributes == {"wikidata": "Q144"}
    assert kg.edges[0].as_tuple() == ("pic", "depicts", "dog")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda g: g.add_node("x", name="x"), "missing or unknown 'type'"),
        (
            lambda g: (
                g.add_node("a", type="concept", name="a"),
                g.add_node("b", type="concept", name="b"),
                g.add_edge("a", "b"),
            ),
            "no 'relation'",
        ),
    ],
)
def test_from_networkx_errors(build, message):
    g = nx.DiGraph()
    build(g)
    with pytest.raises(GraphValidationError, match=message):
        from_networkx(g)


def test_edges_from_numpy_rows_and_integer_features_are_taken():
    import numpy as np
    import torch

    kg = KnowledgeGraph()
    kg.add_concept("dog", name="dog")
    kg.add_concept("animal", name="animal")
    kg.add_edges(np.array([["dog", "is_a", "animal"]], dtype=object))  # df[["head", "relation", "tail"]].values
    assert [e.as_tuple() for e in kg.edges] == [("dog", "is_a", "animal")]
    data = to_hetero_data(kg, {"concept": torch.arange(2).unsqueeze(1)})  # category ids for an embedding
    assert data["concept"].x.dtype == torch.int64
