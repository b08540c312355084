from __future__ import annotations

import pytest
import torch

from graphalign.errors import GraphValidationError
from graphalign.features.store import BuiltGraph
from graphalign.graph import KnowledgeGraph


def _built() -> BuiltGraph:
    kg = KnowledgeGraph()
    kg.add_concept("a", name="a")
    kg.add_concept("b", name="b")
    return BuiltGraph(kg, {"concept": torch.zeros(2, 4)})


def test_with_edges_takes_lists_and_adds_a_repeated_triple_once():
    built = _built()
    more = built.with_edges([["a", "is_a", "b"], ("a", "is_a", "b")])
    assert [e.as_tuple() for e in more.graph.edges] == [("a", "is_a", "b")]
    assert built.graph.edges == []  # a copy: the original is unchanged


def test_with_edges_reports_every_bad_triple_and_adds_none():
    built = _built()
    with pytest.raises(GraphValidationError) as raised:
        built.with_edges([("a", "is_a", "b"), ("a", "is_a", "zz"), ("q", "is_a", "b")])
    message = str(raised.value)
    assert "unknown tail id 'zz'" in message and "unknown head id 'q'" in message
    assert built.graph.edges == []


def test_features_are_checked_on_construction():
    kg = _built().graph
    with pytest.raises(GraphValidationError, match=r"have shape \(1, 4\), expected \(2, dim\)"):
        BuiltGraph(kg, {"concept": torch.zeros(1, 4)})
    with pytest.raises(GraphValidationError, match="must be floating point, got torch.int64"):
        BuiltGraph(kg, {"concept": torch.zeros(2, 4, dtype=torch.long)})
