"""Reading and writing the on-disk dataset format.

A dataset folder holds:

* ``nodes.jsonl`` -- one JSON object a line: ``{"id": ..., "type": "concept" |
  "text" | "image", ...}``. Concepts carry ``name`` and optional ``description``;
  texts carry ``text`` and optional ``language``; images carry ``path`` relative
  to the folder. Any node may carry ``attributes`` (a JSON object).
* ``edges.tsv`` -- ``head<TAB>relation<TAB>tail`` lines; ``#`` starts a comment
  line; blank lines are ignored.

Reading accepts a UTF-8 byte-order mark and Windows line endings, reports every
problem with its file and line, and builds nothing unless the whole input is valid.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from graphalign.atomic import atomic_open
from graphalign.errors import DataFormatError, GraphValidationError
from graphalign.graph.knowledge_graph import KnowledgeGraph
from graphalign.graph.schema import NODE_CLASSES, ImageNode, Node

logger = logging.getLogger(__name__)

__all__ = ["NODES_FILE", "EDGES_FILE", "load_dataset", "save_dataset", "read_nodes", "read_edges", "node_from_json"]

NODES_FILE = "nodes.jsonl"
EDGES_FILE = "edges.tsv"
EDGES_HEADER = "# graphalign edges: head<TAB>relation<TAB>tail\n"


def node_from_json(obj: Any) -> Node:
    """Builds a node record from a parsed ``nodes.jsonl`` object.

    Raises:
        GraphValidationError: On a missing/unknown type, missing or unexpected
            fields, or invalid values.
    """
    if not isinstance(obj, dict):
        raise GraphValidationError(f"expected a JSON object, got {type(obj).__name__}")
    if "id" not in obj:
        raise GraphValidationError("missing field 'id'")
    node_type = obj.get("type")
    if node_type is None:
        raise GraphValidationError(f"node {obj['id']!r}: missing field 'type'")
    cls = NODE_CLASSES.get(node_type) if isinstance(node_type, str) else None
    if cls is None:
        raise GraphValidationError(
            f"node {obj['id']!r}: unknown node type {node_type!r} (expected one of: {', '.join(NODE_CLASSES)})"
        )
    allowed = {"id", "type", "attributes", *cls.fields}
    unexpected = sorted(set(obj) - allowed)
    if unexpected:
        raise GraphValidationError(
            f"node {obj['id']!r}: unexpected field(s) {', '.join(map(repr, unexpected))} for a {node_type} node "
            f"(allowed: {', '.join(sorted(allowed))}; put extra data under 'attributes')"
        )
    required = {"concept": "name", "text": "text", "image": "path"}[node_type]
    if required not in obj:
        raise GraphValidationError(f"node {obj['id']!r}: missing field {required!r} for a {node_type} node")
    kwargs = {name: obj[name] for name in cls.fields if name in obj}
    node = cls(obj["id"], attributes=obj.get("attributes", {}), **kwargs)
    if problems := node.problems():
        raise GraphValidationError([f"node {obj['id']!r}: {p}" for p in problems])
    return node


def _read_lines(path: Path) -> list[str]:
    """Reads a UTF-8 text file (BOM allowed) into lines without line endings."""
    if not path.exists():
        raise DataFormatError(f"{path}: file not found", path=str(path))
    if not path.is_file():
        raise DataFormatError(f"{path}: not a file", path=str(path))
    try:
        raw = path.read_bytes()
    except OSError as error:  # permission denied, I/O error
        raise DataFormatError(f"{path}: cannot read ({error.strerror or error})", path=str(path)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataFormatError(f"{path}:{line}: not valid UTF-8 ({error.reason})", path=str(path), line=line) from None
    # Split on "\n" only (with "\r\n" accepted): str.splitlines() would also split
    # inside JSON strings at characters such as U+2028 or U+0085.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _parse_json_line(line: str) -> tuple[Any, str | None]:
    """Parses one JSON line; returns ``(value, None)`` or ``(None, problem)``."""
    try:
        return json.loads(line), None
    except json.JSONDecodeError as error:
        return None, f"invalid JSON ({error.msg} at column {error.colno})"
    except RecursionError:
        return None, "invalid JSON (nested too deeply)"
    except ValueError as error:  # e.g. an integer literal with thousands of digits
        return None, f"invalid JSON ({error})"


def _read_numbered_nodes(path: Path) -> list[tuple[int, Node]]:
    """:func:`read_nodes` with the line number of every node."""
    nodes: list[tuple[int, Node]] = []
    problems: list[tuple[int, str]] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        obj, problem = _parse_json_line(line)
        if problem is not None:
            problems.append((number, problem))
            continue
        try:
            node = node_from_json(obj)
        except GraphValidationError as error:
            problems.extend((number, p) for p in error.problems)
            continue
        if node.id in first_line:
            problems.append((number, f"duplicate node id {node.id!r} (first defined on line {first_line[node.id]})"))
            continue
        first_line[node.id] = number
        nodes.append((number, node))
    if problems:
        raise DataFormatError([f"{path}:{n}: {p}" for n, p in problems], path=str(path), line=problems[0][0])
    return nodes


def read_nodes(path: str | os.PathLike[str]) -> list[Node]:
    """Parses a ``nodes.jsonl`` file.

    Raises:
        DataFormatError: Listing every bad line as ``FILE:LINE: problem``
            (invalid JSON, missing fields, unknown type, duplicate id, ...).
    """
    return [node for _, node in _read_numbered_nodes(Path(path))]


def read_edges(path: str | os.PathLike[str]) -> list[tuple[int, tuple[str, str, str]]]:
    """Parses an ``edges.tsv`` file into ``(line number, (head, relation, tail))``.

    Raises:
        DataFormatError: On lines that do not have exactly three tab-separated
            non-empty fields.
    """
    path = Path(path)
    triples = []
    problems: list[tuple[int, str]] = []
    for number, line in enumerate(_read_lines(path), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            hint = " (fields must be separated by tabs)" if len(parts) == 1 else ""
            problems.append((number, f"expected 3 tab-separated fields (head, relation, tail), got {len(parts)}{hint}"))
            continue
        head, relation, tail = (p.strip() for p in parts)
        if not head or not relation or not tail:
            problems.append((number, "empty field"))
            continue
        triples.append((number, (head, relation, tail)))
    if problems:
        raise DataFormatError([f"{path}:{n}: {p}" for n, p in problems], path=str(path), line=problems[0][0])
    return triples


def load_dataset(
    folder: str | os.PathLike[str],
    *,
    check_images: bool = True,
    allow_self_loops: bool = False,
    allow_outside_root: bool = False,
) -> KnowledgeGraph:
    """Loads a dataset folder (``nodes.jsonl`` + ``edges.tsv``) into a graph.

    Args:
        folder: The dataset folder; image paths are relative to it.
        check_images: Check that every image file exists, stays inside the folder
            and has a readable image header.
        allow_self_loops: Accept edges from a node to itself.
        allow_outside_root: Accept image paths outside ``folder``.

    Raises:
        DataFormatError: Naming the file and line of every problem (image file
            problems are reported on the line of their node); nothing is
            returned unless the whole dataset is valid.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataFormatError(f"{folder}: dataset folder not found", path=str(folder))
    nodes_path, edges_path = folder / NODES_FILE, folder / EDGES_FILE
    graph = KnowledgeGraph(folder, allow_self_loops=allow_self_loops, allow_outside_root=allow_outside_root)
    numbered = _read_numbered_nodes(nodes_path)
    if not numbered:
        raise DataFormatError(f"{nodes_path}: the graph has no nodes (the file holds no node records)", path=str(nodes_path))
    for _, node in numbered:
        graph.add_node(node)  # ids were checked for duplicates by read_nodes
    triples = read_edges(edges_path) if edges_path.exists() else []
    problems: list[tuple[int, str]] = []
    for number, (head, relation, tail) in triples:
        if problem := graph.edge_problem(head, relation, tail):
            problems.append((number, problem))
            continue
        graph.add_edge(head, relation, tail)
    if problems:
        raise DataFormatError([f"{edges_path}:{n}: {p}" for n, p in problems], path=str(edges_path), line=problems[0][0])
    if check_images:
        image_problems = [
            (number, problem)
            for number, node in numbered
            if isinstance(node, ImageNode) and (problem := graph.image_problem(node))
        ]
        if image_problems:
            raise DataFormatError(
                [f"{nodes_path}:{n}: {p}" for n, p in image_problems], path=str(nodes_path), line=image_problems[0][0]
            )
    logger.info("loaded %r from %s", graph, folder)
    return graph


def _safe_file_name(node_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", node_id).strip("._") or "image"


def save_dataset(graph: KnowledgeGraph, folder: str | os.PathLike[str]) -> Path:
    """Writes ``graph`` to a dataset folder (``nodes.jsonl``, ``edges.tsv``).

    In-memory images are saved as PNG under ``images/``; path-based images keep
    their paths, so save it next to (or into) the folder the paths are relative to.
    Files are written atomically. Loading the result gives an equal graph.

    Returns:
        The folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    used_names: set[str] = set()
    for node in graph.nodes():
        obj = node.to_json()
        if isinstance(node, ImageNode) and node.path is None:
            name = _safe_file_name(node.id)
            while name in used_names:
                name += "_"
            used_names.add(name)
            relative = f"images/{name}.png"
            (folder / "images").mkdir(exist_ok=True)
            with atomic_open(folder / relative, "wb") as handle:
                node.image.save(handle, format="PNG")
            obj = {**obj, "path": relative}
            obj = {k: obj[k] for k in ("id", "type", "path", "attributes") if k in obj}
        records.append(json.dumps(obj, ensure_ascii=False))
    with atomic_open(folder / NODES_FILE) as handle:
        handle.write("".join(r + "\n" for r in records))
    with atomic_open(folder / EDGES_FILE) as handle:
        handle.write(EDGES_HEADER)
        handle.writelines(f"{e.head}\t{e.relation}\t{e.tail}\n" for e in graph.edges)
    return folder
