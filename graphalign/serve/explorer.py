"""What the explorer shows about a trained run, as JSON-ready dicts: the same calls as :class:`Aligner`.

:class:`Explorer` wraps an :class:`~graphalign.query.Aligner` (no second
implementation of search or neighbours) and adds what a page needs: a node's
content, whether it was a training or held-out node, its graph neighbourhood
as nodes and edges, thumbnails by node id, and the 2-D map
(:mod:`graphalign.serve.layout`). Every call is serialised by one lock, so a
server's worker threads share one index and one encoder.
"""

from __future__ import annotations

import io
import itertools
import logging
import os
import re
import threading
from collections import Counter, OrderedDict
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

from PIL import Image

from graphalign.errors import GraphValidationError
from graphalign.graph.schema import ConceptNode, ImageNode, TextNode
from graphalign.image_io import open_image_rgb
from graphalign.query import Aligner
from graphalign.serve.layout import load_or_compute_map
from graphalign.typing import NODE_TYPES, NodeType

logger = logging.getLogger(__name__)

__all__ = ["Explorer", "GRAPH_EDGES", "GRAPH_NODES", "NodeNotFound", "THUMBNAIL_SIDE"]

THUMBNAIL_SIDE = 192
"""Longest side of the thumbnails the explorer serves, in pixels."""
GRAPH_NODES = 200
"""Most neighbours one graph answer holds unless asked for fewer (a hub's are chosen: :meth:`Explorer.graph`)."""
GRAPH_EDGES = 1000
"""Most edges one graph answer holds (those of the node itself first)."""


def _natural(label: str) -> list[Any]:
    """A sort key that puts ``kind 2`` before ``kind 10``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", label) if part]


class NodeNotFound(GraphValidationError):
    """No node (or no image node) with the requested id."""


class Explorer:
    """The explorer's view of a run folder.

    Example:
        >>> explorer = Explorer.load("runs/demo")  # doctest: +SKIP
        >>> explorer.search_text("a red bird", k=3)["concept"][0]["label"]  # doctest: +SKIP
        'cardinal'

    Args:
        aligner: The run to explore.
        run_dir: Its folder (where the map is cached; ``None``: not cached).
        thumbnails: How many thumbnails to keep in memory.
    """

    def __init__(self, aligner: Aligner, run_dir: str | os.PathLike[str] | None = None, thumbnails: int = 2048) -> None:
        self.aligner = aligner
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.lock = threading.Lock()
        self._thumbnails: OrderedDict[str, bytes] = OrderedDict()
        self._max_thumbnails = thumbnails
        self._status = self._node_status()

    @classmethod
    def load(cls, run_dir: str | os.PathLike[str]) -> Explorer:
        """Opens a run folder written by ``graphalign train`` / :func:`graphalign.fit`."""
        return cls(Aligner.load(run_dir), run_dir)

    # ----------------------------------------------------------------- helpers
    @property
    def types(self) -> list[NodeType]:
        return [t for t in NODE_TYPES if t in self.aligner.embeddings]

    def _node_status(self) -> dict[NodeType, dict[int, str]]:
        """``"test"`` / ``"val"`` for the rows held out of training in the run's split."""
        status: dict[NodeType, dict[int, str]] = {}
        for part in ("val", "test"):
            for node_type, rows in self.aligner.run.split.heldout.get(part, {}).items():
                for row in rows.tolist():
                    status.setdefault(node_type, {})[int(row)] = part
        return status

    def _result(self, neighbor: Any) -> dict[str, Any]:
        return {"id": neighbor.id, "type": neighbor.type, "label": neighbor.label, "score": round(neighbor.score, 5)}

    def _grouped(self, by_type: dict[NodeType, list[Any]]) -> dict[str, list[dict[str, Any]]]:
        return {t: [self._result(n) for n in found] for t, found in by_type.items()}

    # ----------------------------------------------------------------- queries
    def search_text(self, text: str, k: int = 10, types: list[NodeType] | None = None) -> dict[str, list[dict]]:
        """The nearest nodes of each type to a new text (:meth:`Aligner.search_by_type`)."""
        if not text.strip():
            raise GraphValidationError("the query text is empty")
        with self.lock:
            return self._grouped(self.aligner.search_by_type(text=text, k=k, type=types))

    def search_image(self, image: Image.Image, k: int = 10, types: list[NodeType] | None = None) -> dict[str, list]:
        """The nearest nodes of each type to a new image (:meth:`Aligner.search_by_type`); concepts and
        texts first make its caption ("describe this image")."""
        with self.lock:
            return self._grouped(self.aligner.search_by_type(image=image, k=k, type=types))

    def neighbors(self, node_id: str, k: int = 10, types: list[NodeType] | None = None) -> dict[str, list]:
        """A node's nearest nodes of each type in the shared space (:meth:`Aligner.neighbors`)."""
        self.node(node_id)  # raises on an unknown id
        with self.lock:
            return self._grouped({t: self.aligner.neighbors(node_id, k=k, type=t) for t in types or self.types})

    def node(self, node_id: str) -> dict[str, Any]:
        """A node's content: type, label, name / description / text / language, whether it has an
        image, and its part in the run's split (``training``, ``val`` or ``test``)."""
        graph = self.aligner.graph
        if not isinstance(node_id, str) or node_id not in graph:
            raise NodeNotFound(f"unknown node id {node_id!r}")
        record = graph[node_id]
        row = self.aligner.node_index.locate(node_id)[1]
        out: dict[str, Any] = {
            "id": node_id,
            "type": record.type,
            "label": graph.display_name(node_id),
            "split": self._status.get(record.type, {}).get(row, "training"),
            "attributes": record.attributes,
        }
        if isinstance(record, ConceptNode):
            out.update(name=record.name, description=record.description)
        elif isinstance(record, TextNode):
            out.update(text=record.text, language=record.language)
        elif isinstance(record, ImageNode):
            out["image"] = f"/api/image?id={quote(node_id, safe='')}"
        return out

    def graph(
        self, node_id: str, hops: int = 1, limit: int = GRAPH_NODES, max_edges: int = GRAPH_EDGES
    ) -> dict[str, Any]:
        """A node's knowledge-graph neighbourhood within ``hops`` (:meth:`Aligner.graph_neighbors`) as nodes
        and the edges among them: at most ``limit`` nodes besides the node and ``max_edges`` edges.

        A hub keeps one neighbour of each relation (and direction), then those with the most edges; a node
        two or more hops away is kept only beside a kept node that reaches it. Each neighbour says the
        ``relation`` and ``direction`` (``"out"``: the node is the edge's head) of the edge that reached it
        and its ``degree``; ``total`` counts every neighbour reached and ``left_out`` what was not sent
        (``nodes``, ``relations``: those nodes by relation, ``edges``).
        """
        self.node(node_id)
        with self.lock:
            reached = self.aligner.graph_neighbors(node_id, hops=hops)
        kept = self._keep(node_id, reached, limit)
        shown = {node_id} | {n.id for n in kept}
        edges, edges_left_out = self._edges_among(node_id, shown, max_edges)
        relations = Counter(n.relation for n in reached if n.id not in shown)
        graph = self.aligner.graph
        centre = {"id": node_id, "type": graph.node_type(node_id), "label": graph.display_name(node_id), "hops": 0}
        return {
            "nodes": [{**centre, "degree": self._degree(node_id)}, *map(self._graph_node, kept)],
            "edges": [{"source": h, "target": t, "relation": r} for h, t, r in edges],
            "truncated": len(kept) < len(reached) or edges_left_out > 0,
            "total": len(reached),
            "left_out": {
                "nodes": len(reached) - len(kept),
                "relations": dict(sorted(relations.items(), key=lambda item: (-item[1], item[0]))),
                "edges": edges_left_out,
            },
        }

    def _degree(self, node_id: str) -> int:
        return len(self._edges_of.get(node_id, ()))

    def _graph_node(self, n: Any) -> dict[str, Any]:
        return {
            "id": n.id,
            "type": n.type,
            "label": n.label,
            "hops": n.hops,
            "relation": n.relation,
            "direction": n.direction,
            "degree": self._degree(n.id),
        }

    def _keep(self, node_id: str, reached: list[Any], limit: int) -> list[Any]:
        """At most ``limit`` of ``reached``, nearest hops first, each hop ranked by :meth:`_ranked`."""
        by_hops: dict[int, list[Any]] = {}
        for n in reached:
            by_hops.setdefault(n.hops, []).append(n)
        kept: list[Any] = []
        kept_ids = {node_id}
        for hops in sorted(by_hops):
            room = limit - len(kept)
            if room <= 0:
                break
            candidates = [n for n in by_hops[hops] if hops == 1 or self._touches(n.id, kept_ids)]
            chosen = self._ranked(candidates)[:room]
            kept += chosen
            kept_ids.update(n.id for n in chosen)
        return kept

    def _touches(self, node_id: str, ids: set[str]) -> bool:
        return any(e.head in ids or e.tail in ids for e in self._edges_of.get(node_id, ()))

    def _ranked(self, candidates: list[Any]) -> list[Any]:
        """The first (most edges, then by label) of each relation and direction, then the rest by edges."""
        ordered = sorted(candidates, key=lambda n: (-self._degree(n.id), _natural(n.label), n.id))
        leaders: dict[tuple[str, str], Any] = {}
        for n in ordered:
            leaders.setdefault((n.relation, n.direction), n)
        first = {n.id for n in leaders.values()}
        return [*leaders.values(), *(n for n in ordered if n.id not in first)]

    def _edges_among(self, node_id: str, shown: set[str], limit: int) -> tuple[list[tuple[str, str, str]], int]:
        """The edges among ``shown`` (those of ``node_id`` first) up to ``limit``, sorted, and how many more."""
        edges = {
            (edge.head, edge.tail, edge.relation)
            for member in shown
            for edge in self._edges_of.get(member, [])
            if edge.head in shown and edge.tail in shown
        }
        kept = sorted(edges, key=lambda e: (node_id not in e[:2], e))[:limit]
        return sorted(kept), len(edges) - len(kept)

    @cached_property
    def _edges_of(self) -> dict[str, list[Any]]:
        """Every edge of the graph, under its head and its tail."""
        edges_of: dict[str, list[Any]] = {}
        for edge in self.aligner.graph.edges:
            edges_of.setdefault(edge.head, []).append(edge)
            edges_of.setdefault(edge.tail, []).append(edge)
        return edges_of

    def metrics(self) -> dict[str, Any]:
        """The run's metrics (``best_epoch``, ``val``, ``test``, ``history``, ...)."""
        return self.aligner.metrics()

    def summary(self) -> dict[str, Any]:
        """Node counts per type and the model, for the page's header."""
        return {
            "nodes": {t: len(self.aligner.node_index.ids[t]) for t in self.types},
            "model": repr(self.aligner.run.model),
        }

    def map(self) -> dict[str, Any]:
        """2-D coordinates of every node (:func:`~graphalign.serve.layout.load_or_compute_map`), with each
        node's label (``labels``, read from the graph: the cached map holds none)."""
        with self.lock:
            layout = load_or_compute_map(self.aligner, self.run_dir)
        graph = self.aligner.graph
        return {**layout, "labels": [graph.display_name(node_id) for node_id in layout["ids"]]}

    def missing_image_files(self, limit: int = 1000) -> tuple[int, int]:
        """``(image files not found, image nodes checked)`` among the first ``limit`` image nodes with a
        file: thumbnails the explorer cannot draw (a bounded look at start-up, not a scan of every file)."""
        graph = self.aligner.graph
        nodes = list(itertools.islice((n for n in graph.nodes("image") if isinstance(n, ImageNode) and n.path), limit))

        def found(node: ImageNode) -> bool:
            try:
                return graph.resolve_image_path(node).is_file()
            except GraphValidationError:  # a path that leaves the folder is not served either
                return False

        return sum(not found(n) for n in nodes), len(nodes)

    def thumbnail(self, node_id: str) -> bytes:
        """A PNG thumbnail of an image node, found by its id only (never by a path from a request)."""
        record = self.aligner.graph[node_id] if node_id in self.aligner.graph else None
        if not isinstance(record, ImageNode):
            raise NodeNotFound(f"no image node with id {node_id!r}")
        with self.lock:  # server threads share the cache
            if node_id in self._thumbnails:
                self._thumbnails.move_to_end(node_id)
                return self._thumbnails[node_id]
        source = record.image if record.image is not None else self.aligner.graph.resolve_image_path(record)
        if isinstance(source, Path) and not source.is_file():  # the dataset folder moved: not the request's fault
            raise NodeNotFound(f"image node {node_id!r}: its file {record.path} is not in the dataset folder")
        image = open_image_rgb(source)
        image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        data = buffer.getvalue()
        with self.lock:
            self._thumbnails[node_id] = data
            if len(self._thumbnails) > self._max_thumbnails:
                self._thumbnails.popitem(last=False)
        return data
