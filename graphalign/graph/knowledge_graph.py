"""The in-memory multimodal knowledge graph and its builder API."""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Container, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from graphalign.errors import GraphValidationError
from graphalign.graph.schema import ConceptNode, Edge, ImageNode, Node, TextNode, brief_repr, check_relation
from graphalign.typing import NODE_TYPES, EdgeType, NodeType

logger = logging.getLogger(__name__)

__all__ = ["KnowledgeGraph"]


def _attributes(attributes: Any) -> Any:
    """A copy of a node's ``attributes`` mapping (``None``: none); anything else is kept for the record's
    own check to name (``attributes must be a JSON object, got list``)."""
    if attributes is None:
        return {}
    return dict(attributes) if isinstance(attributes, Mapping) else attributes


class KnowledgeGraph:
    """A heterogeneous graph of concept, text and image nodes with typed relations.

    Every mutation is validated first and applied only if valid, so a failed call
    leaves the graph as it was.

    Example:
        >>> kg = KnowledgeGraph()
        >>> kg.add_concept("animal", name="animal")
        >>> kg.add_concept("dog", name="dog", description="a domesticated canid")
        >>> kg.add_text("t1", text="A dog in the park.")
        >>> kg.add_edge("dog", "is_a", "animal")
        >>> kg.add_edge("t1", "describes", "dog")
        >>> kg.num_nodes, kg.num_edges
        (3, 2)

    Args:
        root: Dataset folder that relative image paths are resolved against
            (default: the current directory).
        allow_self_loops: Whether an edge may connect a node to itself.
        allow_outside_root: Whether image paths may point outside ``root``
            (through ``..``, an absolute path or a symlink).
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        allow_self_loops: bool = False,
        allow_outside_root: bool = False,
    ) -> None:
        self.root = Path(root) if root is not None else None
        self.allow_self_loops = allow_self_loops
        self.allow_outside_root = allow_outside_root
        self._nodes: dict[str, Node] = {}
        self._edges: list[Edge] = []
        self._edge_set: set[Edge] = set()

    # ------------------------------------------------------------------ building
    def add_node(self, node: Node) -> None:
        """Adds a node record.

        Raises:
            GraphValidationError: If the record is invalid or its id exists.
        """
        problems = node.problems()
        if not problems and node.id in self._nodes:
            problems = [f"duplicate node id {node.id!r}"]
        if problems:
            raise GraphValidationError(
                [f"node {node.id!r}: {p}" if not p.startswith("duplicate") else p for p in problems]
            )
        self._nodes[node.id] = node

    def add_concept(
        self, id: str, name: str, description: str | None = None, attributes: dict[str, Any] | None = None
    ) -> None:
        """Adds a concept node (a named entity)."""
        self.add_node(ConceptNode(id, name=name, description=description, attributes=_attributes(attributes)))

    def add_text(
        self, id: str, text: str, language: str | None = None, attributes: dict[str, Any] | None = None
    ) -> None:
        """Adds a text node (description, caption, ...)."""
        self.add_node(TextNode(id, text=text, language=language, attributes=_attributes(attributes)))

    def add_image(
        self,
        id: str,
        path: str | os.PathLike[str] | None = None,
        image: Any = None,
        attributes: dict[str, Any] | None = None,
    ) -> None:
        """Adds an image node from a file path (relative to :attr:`root`) or a PIL image."""
        path_str = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path  # else the record names it
        self.add_node(ImageNode(id, path=path_str, image=image, attributes=_attributes(attributes)))

    def edge_problem(self, head: str, relation: str, tail: str, *, pending: Container[str] = ()) -> str | None:
        """What would be wrong with adding this edge (``None`` if it is fine).

        Args:
            head: The head node id.
            relation: The relation name.
            tail: The tail node id.
            pending: Ids that count as known although they are not nodes (yet),
                e.g. those of records that failed to load for a reason of their
                own. An edge to one of them is checked only for its relation and
                its other id.
        """
        if problem := check_relation(relation):
            return problem
        triple = f"({brief_repr(head)}, {brief_repr(relation)}, {brief_repr(tail)})"
        unknown = [
            f"{role} id {brief_repr(node_id)}"
            for role, node_id in (("head", head), ("tail", tail))
            if node_id not in self._nodes and node_id not in pending
        ]
        if unknown:
            return f"edge {triple}: unknown {' and '.join(unknown)}"
        if head in pending or tail in pending:
            return None
        if head == tail and not self.allow_self_loops:
            return f"edge {triple}: self-loop not allowed (allow_self_loops=False)"
        if Edge(head, relation, tail) in self._edge_set:
            return f"duplicate edge {triple}"
        return None

    def add_edge(self, head: str, relation: str, tail: str) -> None:
        """Adds the relation ``head --relation--> tail`` between two existing nodes.

        Raises:
            GraphValidationError: On an unknown id, a bad relation name, a duplicate
                edge or a disallowed self-loop.
        """
        if problem := self.edge_problem(head, relation, tail):
            raise GraphValidationError(problem)
        edge = Edge(head, relation, tail)
        self._edges.append(edge)
        self._edge_set.add(edge)

    def add_edges(self, triples: Iterable[tuple[str, str, str]]) -> None:
        """Adds many edges; all or none (checked before anything is added)."""
        triples = [  # tuples, lists, rows of a NumPy array (``df[["head", "relation", "tail"]].values``)
            tuple(triple) if isinstance(triple, Iterable) and not isinstance(triple, (str, bytes)) else triple
            for triple in triples
        ]
        malformed = [
            f"edge {position}: a (head, relation, tail) triple, got {brief_repr(triple)}"
            for position, triple in enumerate(triples, 1)
            if not isinstance(triple, tuple) or len(triple) != 3
        ]
        if malformed:
            raise GraphValidationError(malformed)
        trial = set(self._edge_set)
        problems = []
        for head, relation, tail in triples:
            problem = self.edge_problem(head, relation, tail)
            if problem is None and Edge(head, relation, tail) in trial:
                problem = f"duplicate edge ({head!r}, {relation!r}, {tail!r})"
            if problem:
                problems.append(problem)
            trial.add(Edge(head, relation, tail))
        if problems:
            raise GraphValidationError(problems)
        for triple in triples:
            self.add_edge(*triple)

    # ------------------------------------------------------------------ reading
    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def __getitem__(self, node_id: str) -> Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise GraphValidationError(f"unknown node id {node_id!r}") from None

    def __len__(self) -> int:
        return len(self._nodes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KnowledgeGraph):
            return NotImplemented
        return list(self._nodes.values()) == list(other._nodes.values()) and self._edges == other._edges

    @property
    def num_nodes(self) -> int:
        return len(self._nodes)

    @property
    def num_edges(self) -> int:
        return len(self._edges)

    def nodes(self, type: NodeType | None = None) -> Iterator[Node]:
        """Iterates over nodes in insertion order, optionally of one type.

        Raises:
            GraphValidationError: On a type other than ``concept``, ``text`` and ``image``.
        """
        if type is not None and type not in NODE_TYPES:
            raise GraphValidationError(f"unknown node type {type!r}; node types are {', '.join(NODE_TYPES)}")
        return (n for n in self._nodes.values() if type is None or n.type == type)

    @property
    def edges(self) -> list[Edge]:
        """All edges in insertion order (a copy)."""
        return list(self._edges)

    def node_type(self, node_id: str) -> NodeType:
        return self[node_id].type

    def node_ids(self, type: NodeType) -> list[str]:
        """Ids of one node type, in insertion order (= row order of its features)."""
        return [n.id for n in self.nodes(type)]

    def edge_type(self, edge: Edge) -> EdgeType:
        """The PyG edge type ``(head type, relation, tail type)`` of an edge."""
        return (self._nodes[edge.head].type, edge.relation, self._nodes[edge.tail].type)

    def counts(self) -> dict[str, dict[str, int]]:
        """Node counts by type and edge counts by edge type (``"src|rel|dst"``)."""
        nodes = Counter(n.type for n in self._nodes.values())
        edges = Counter("|".join(self.edge_type(e)) for e in self._edges)
        return {
            "nodes": {t: nodes.get(t, 0) for t in NODE_TYPES},
            "edges": dict(sorted(edges.items())),
        }

    def display_name(self, node_id: str) -> str:
        """A short human-readable label: concept name, text, or image path."""
        node = self[node_id]
        if isinstance(node, ConceptNode):
            return node.name
        if isinstance(node, TextNode):
            return node.text if len(node.text) <= 80 else node.text[:77] + "..."
        assert isinstance(node, ImageNode)
        return node.path or "<in-memory image>"

    # ------------------------------------------------------------------ images
    def resolve_image_path(self, node: ImageNode) -> Path:
        """The image file of ``node``, resolved against :attr:`root`.

        Symlinks are followed before the check, so a link inside the folder that
        points outside it counts as outside.

        Raises:
            GraphValidationError: If the path escapes the dataset folder (via
                ``..``, an absolute path or a symlink) and ``allow_outside_root``
                is off, or cannot be resolved (symlink loop, NUL character).
        """
        assert node.path is not None
        try:
            root = (self.root or Path.cwd()).resolve()
            raw = Path(node.path)
            resolved = (raw if raw.is_absolute() else root / raw).resolve()
            looped = resolved.is_symlink()  # Python >= 3.13 stops at a loop instead of raising
        except RuntimeError:  # a symlink loop (Python < 3.13)
            looped = True
        except (OSError, ValueError) as error:  # a NUL character, a name too long
            raise GraphValidationError(f"image {node.id!r}: cannot resolve path {node.path!r} ({error})") from None
        if looped:
            raise GraphValidationError(f"image {node.id!r}: cannot resolve path {node.path!r} (symlink loop)")
        if not self.allow_outside_root and not resolved.is_relative_to(root):
            raise GraphValidationError(
                f"image {node.id!r}: path {node.path!r} points outside the dataset folder {str(root)!r} "
                "(pass allow_outside_root=True / --allow-outside-root to permit it)"
            )
        return resolved

    def image_problem(self, node: ImageNode, check_pixels: bool = False) -> str | None:
        """What is wrong with the file of one image node (``None`` if nothing).

        Checks that the path stays inside the dataset folder, that it is a
        regular file (not a folder, FIFO or device) and that its header is a
        readable image of at least 2x2 pixels and not a decompression bomb.

        Args:
            node: An image node of this graph.
            check_pixels: Also decode the image fully (slower; catches truncated
                files). Otherwise only the header is read.
        """
        from graphalign.image_io import check_image_file, check_image_header

        if node.path is None:
            return None
        try:
            path = self.resolve_image_path(node)
        except GraphValidationError as error:
            return str(error)
        try:
            exists, is_file = path.exists(), path.is_file()
        except OSError as error:  # e.g. a file name that is too long
            return f"image {node.id!r}: cannot access {path}: {error}"
        if not exists:
            return f"image {node.id!r}: file not found: {path}"
        if not is_file:
            kind = "a directory" if path.is_dir() else "a FIFO, socket or device"
            return f"image {node.id!r}: not a file ({kind}): {path}"
        problem = check_image_file(path) if check_pixels else check_image_header(path)
        if problem is None:
            return None
        return f"image {node.id!r}: {problem.removeprefix(f'{path}: ')}: {path}"

    def image_problems(self, check_pixels: bool = False) -> list[str]:
        """Problems with image files: missing, not a file, outside the folder, unreadable.

        Args:
            check_pixels: Also decode every image fully (slower; catches truncated
                files). Otherwise only the header is read.
        """
        problems = []
        for node in self.nodes("image"):
            assert isinstance(node, ImageNode)
            if problem := self.image_problem(node, check_pixels=check_pixels):
                problems.append(problem)
        return problems

    def validate(self, check_images: bool = True, check_pixels: bool = False) -> None:
        """Checks the whole graph; raises one error listing every problem found.

        Raises:
            GraphValidationError: If anything is wrong.
        """
        problems = []
        if not self._nodes:
            problems.append("the graph has no nodes")
        if check_images:
            problems.extend(self.image_problems(check_pixels=check_pixels))
        if problems:
            raise GraphValidationError(problems)

    def __repr__(self) -> str:
        counts = self.counts()["nodes"]
        inner = ", ".join(f"{t}={c}" for t, c in counts.items())
        return f"KnowledgeGraph({inner}, edges={self.num_edges})"
