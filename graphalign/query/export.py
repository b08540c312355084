"""Exporting the shared-space embeddings of a trained run: node ids, types and vectors.

Two formats, picked by the file suffix:

* ``.npz`` (NumPy): arrays ``ids``, ``types``, ``labels`` (strings) and
  ``vectors`` (``(num_nodes, dim)`` float32), rows in the same order;
* ``.tsv``: the pair that TensorBoard's Embedding Projector reads, ``NAME.tsv``
  (one vector a line, tab-separated, no header) and ``NAME-metadata.tsv``
  (a header ``id<TAB>type<TAB>label``, then one line per vector).

Files are written atomically; an existing file is replaced only with
``overwrite=True``.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import torch

from graphalign.atomic import atomic_open
from graphalign.errors import ConfigError
from graphalign.graph.knowledge_graph import KnowledgeGraph
from graphalign.outputs import check_output_file
from graphalign.typing import NODE_TYPES, NodeType

__all__ = ["EXPORT_FORMATS", "export_embeddings", "metadata_path"]

EXPORT_FORMATS = (".npz", ".tsv")
"""The file suffixes :func:`export_embeddings` writes."""


def metadata_path(path: Path) -> Path:
    """The metadata file written beside a ``.tsv`` vectors file (``emb.tsv`` → ``emb-metadata.tsv``)."""
    return path.with_name(f"{path.stem}-metadata.tsv")


def _tsv_field(value: str) -> str:
    """A label on one TSV line: tabs and line breaks become spaces."""
    return " ".join(value.split()) if any(c in value for c in "\t\r\n") else value


def export_embeddings(
    embeddings: dict[NodeType, torch.Tensor],
    ids: dict[NodeType, list[str]],
    graph: KnowledgeGraph,
    path: str | os.PathLike[str],
    types: list[NodeType] | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Writes node ids, types, labels and vectors to ``path`` (``.npz`` or ``.tsv``).

    Shapes:
        ``embeddings[t]``: ``(num_nodes_of_type_t, dim)``, rows in the order of ``ids[t]``.

    Args:
        embeddings: Shared-space vectors per node type.
        ids: Node ids per node type, in row order.
        graph: The graph (for the labels: concept names, texts, image paths).
        path: The output file; its suffix picks the format.
        types: Node types to export (default: every type with nodes).
        overwrite: Replace existing files.

    Returns:
        The files written.

    Raises:
        ConfigError: On an unknown suffix or node type, or nothing to export.
        GraphAlignError: If an output path exists (without ``overwrite``) or is not a file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise ConfigError(f"{path}: unknown export format {path.suffix!r}; use a file name ending in .npz or .tsv")
    chosen = [t for t in NODE_TYPES if t in embeddings] if types is None else list(dict.fromkeys(types))
    unknown = [t for t in chosen if t not in embeddings]
    if unknown:
        raise ConfigError(f"unknown or empty node type(s) {unknown}; this run has {sorted(embeddings)}")
    rows = [(t, node_id) for t in chosen for node_id in ids[t]]
    if not rows:
        raise ConfigError(f"nothing to export: no nodes of type(s) {chosen}")
    targets = [path] if suffix == ".npz" else [path, metadata_path(path)]
    for target in targets:
        check_output_file(target, overwrite=overwrite)
    vectors = torch.cat([embeddings[t] for t in chosen]).float().numpy()  # (num_rows, dim)
    labels = [graph.display_name(node_id) for _, node_id in rows]
    if suffix == ".npz":
        buffer = io.BytesIO()
        np.savez(
            buffer,
            ids=np.array([i for _, i in rows]),
            types=np.array([t for t, _ in rows]),
            labels=np.array(labels),
            vectors=vectors,
        )
        with atomic_open(path, "wb") as handle:
            handle.write(buffer.getvalue())
        return targets
    with atomic_open(path) as handle:
        for vector in vectors:
            handle.write("\t".join(f"{v:.6g}" for v in vector) + "\n")
    with atomic_open(metadata_path(path)) as handle:
        handle.write("id\ttype\tlabel\n")
        for (node_type, node_id), label in zip(rows, labels):
            handle.write(f"{_tsv_field(node_id)}\t{node_type}\t{_tsv_field(label)}\n")
    return targets
