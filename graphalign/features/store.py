"""A built graph: the knowledge graph plus encoder features, saved as a folder.

``GRAPH_DIR`` holds ``graph.json`` (format version, source folder, encoder
config and identities, counts), ``nodes.jsonl`` + ``edges.tsv`` (the graph in the
interchange format) and ``features.safetensors`` (``x.<node type>``). It is
written to a temporary folder first and swapped in at the end, so an interrupted
build never leaves a half-written graph: a process killed before the swap leaves
the old folder (and a hidden ``.GRAPH_DIR.tmp-*`` staging folder, deleted by the
next save); one killed between the two renames of the swap leaves the old folder
as ``.GRAPH_DIR.old-*``, which :meth:`BuiltGraph.load` and the next save put back.
Loading reads JSON and safetensors only, never a pickle.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from graphalign.atomic import (
    atomic_save_safetensors,
    atomic_write_json,
    read_safetensors,
    read_versioned_json,
)
from graphalign.errors import CheckpointError, GraphAlignError, GraphValidationError
from graphalign.features.featurize import GraphConfig
from graphalign.graph.convert import NodeIndex, check_features, to_hetero_data
from graphalign.graph.io import EDGES_FILE, NODES_FILE, load_dataset, write_records
from graphalign.graph.knowledge_graph import KnowledgeGraph
from graphalign.outputs import (
    OutputLayout,
    check_output_dir,
    remove_own_folder,
    write_marker,
)
from graphalign.typing import NodeType

if TYPE_CHECKING:
    from torch_geometric.data import HeteroData


logger = logging.getLogger(__name__)

__all__ = ["BuiltGraph", "GRAPH_FORMAT_VERSION", "GRAPH_LAYOUT", "check_graph_output"]

GRAPH_FORMAT_VERSION = 1
GRAPH_META = "graph.json"
FEATURES_FILE = "features.safetensors"
GRAPH_LAYOUT = OutputLayout(
    "graph",
    files=(GRAPH_META, NODES_FILE, EDGES_FILE, FEATURES_FILE),
    folders=(("images", OutputLayout("images", patterns=("*.png",), marked=False)),),
    metadata=GRAPH_META,
    metadata_format="graphalign-graph",
)
"""What a graph folder holds (see :mod:`graphalign.outputs`)."""
GRAPH_STAGING_LAYOUT = dataclasses.replace(GRAPH_LAYOUT, marked=False)
"""A graph folder being written (its marker comes last)."""
STALE_STAGING_SECONDS = 3600.0
"""A staging folder older than this belongs to a killed build and is deleted by the next save."""


@dataclass
class BuiltGraph:
    """A knowledge graph with an initial feature vector for every node.

    Example:
        >>> built, stats = graphalign.build_graph("tuxpaint_small")  # doctest: +SKIP
        >>> built.hetero_data["image"].x.shape  # 1280 image features + 384 ConSE  # doctest: +SKIP
        torch.Size([298, 1664])

    Args:
        graph: The knowledge graph (its ``root`` is the dataset folder).
        features: ``(num nodes of type, dim)`` float32 features per node type.
        config: The :class:`GraphConfig` (as a dict) used to encode.
        encoders: Encoder identity per modality (``"text"``, ``"image"``).
        spaces: Feature space per node type; node types in one space share the
            model's input projection (default: every type its own space).
    """

    graph: KnowledgeGraph
    features: dict[NodeType, torch.Tensor]
    config: dict[str, Any] = field(default_factory=dict)
    encoders: dict[str, str] = field(default_factory=dict)
    spaces: dict[NodeType, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_features(self.index, self.features)  # a clear error here, not a traceback in training

    @cached_property
    def index(self) -> NodeIndex:
        """The id ↔ (type, row) mapping."""
        return NodeIndex.from_graph(self.graph)

    @cached_property
    def hetero_data(self) -> HeteroData:
        """PyG ``HeteroData`` with ``x`` per node type and reverse edge types."""
        return to_hetero_data(self.graph, self.features)

    @property
    def feature_dims(self) -> dict[NodeType, int]:
        return {t: int(x.size(1)) for t, x in self.features.items()}

    def graph_config(self) -> GraphConfig:

        return GraphConfig.from_dict(self.config)

    def with_edges(self, triples: Iterable[tuple[str, str, str]]) -> BuiltGraph:
        """A copy with more ``(head, relation, tail)`` edges (same nodes and features;
        duplicates of one another are added once). The graph's own checks apply."""
        graph = KnowledgeGraph(
            self.graph.root,
            allow_self_loops=self.graph.allow_self_loops,
            allow_outside_root=self.graph.allow_outside_root,
        )
        for node in self.graph.nodes():
            graph.add_node(node)
        for edge in self.graph.edges:
            graph.add_edge(edge.head, edge.relation, edge.tail)
        triples = [tuple(t) if isinstance(t, list) else t for t in triples]  # lists, e.g. read from JSON
        graph.add_edges(list(dict.fromkeys(triples)))  # every bad triple in one report
        return dataclasses.replace(self, graph=graph)

    def summary(self) -> dict[str, Any]:
        """Counts by node and edge type, feature sizes, encoder names (as registered) and identities."""
        names = {m: self.config.get(f"{m}_encoder") for m in self.encoders}
        return {
            **self.graph.counts(),
            "feature_dims": self.feature_dims,
            "encoder_names": {m: n for m, n in names.items() if isinstance(n, str)},
            "encoders": self.encoders,
        }

    def save(self, folder: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Writes the graph folder atomically (temp folder, then swap).

        Args:
            folder: A new or empty folder, or (with ``overwrite``) a graph folder
                graphalign wrote.
            overwrite: Replace graphalign's own graph folder. A folder holding
                anything graphalign did not write is refused even then.

        Raises:
            OutputError: If ``folder`` may not be written (see
                :func:`graphalign.outputs.check_output_dir`); nothing is changed.
        """
        folder = Path(folder)
        _recover_interrupted_swap(folder)
        check_graph_output(folder, overwrite)
        folder.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(folder)
        staging = folder.parent / f".{folder.name}.tmp-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        try:
            write_records(self.graph, staging)
            atomic_save_safetensors(staging / FEATURES_FILE, {f"x.{t}": x for t, x in self.features.items()})
            meta = {
                "format": "graphalign-graph",
                "version": GRAPH_FORMAT_VERSION,
                "source": str(self.graph.root.resolve()) if self.graph.root else None,
                "config": self.config,
                "encoders": self.encoders,
                "spaces": self.spaces,
                **self.summary(),
            }
            atomic_write_json(staging / GRAPH_META, meta)
            write_marker(staging, GRAPH_LAYOUT)
            _swap_in(staging, folder, overwrite)
        except BaseException:
            remove_own_folder(staging, GRAPH_STAGING_LAYOUT)
            raise
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> BuiltGraph:
        """Loads a graph folder written by :meth:`save` (no pickle involved).

        Raises:
            CheckpointError: If the folder is missing or not a graph folder.
        """
        folder = Path(folder)
        _recover_interrupted_swap(folder)
        meta = read_versioned_json(
            folder / GRAPH_META,
            "graphalign-graph",
            GRAPH_FORMAT_VERSION,
            f"not a graphalign graph folder (no {GRAPH_META}); build one with `graphalign build`",
        )
        source = meta.get("source")
        for key, kind in (("config", dict), ("encoders", dict), ("spaces", dict)):
            if not isinstance(meta.get(key, {}), kind):
                raise CheckpointError(f"{folder / GRAPH_META}: field {key!r} must be a JSON object")
        if source is not None and not isinstance(source, str):
            raise CheckpointError(f"{folder / GRAPH_META}: field 'source' must be a string or null")
        _check_graph_config(meta.get("config", {}), folder / GRAPH_META)
        try:
            root = Path(source) if source and Path(source).is_dir() else folder
        except (OSError, ValueError):
            root = folder
        graph = load_dataset(folder, check_images=False)
        graph.root = root
        tensors, _ = read_safetensors(folder / FEATURES_FILE, "features")
        features: dict[NodeType, torch.Tensor] = {}
        for key, value in tensors.items():
            node_type = key.split(".", 1)[1] if key.startswith("x.") else None
            if node_type is None or value.dim() != 2 or not value.is_floating_point():
                raise CheckpointError(
                    f"{folder / FEATURES_FILE}: unexpected tensor {key!r} {tuple(value.shape)} {value.dtype}"
                )
            features[node_type] = value.float()
        try:  # the record checks its features (rows, NaN or an infinity) once
            built = cls(
                graph=graph,
                features=features,
                config=meta.get("config", {}),
                encoders=meta.get("encoders", {}),
                spaces=meta.get("spaces", {}),
            )
        except GraphValidationError as error:  # rows, NaN, or a node type without features
            raise CheckpointError(f"{folder / FEATURES_FILE}: {error}") from None
        return built


def check_graph_output(folder: str | os.PathLike[str], overwrite: bool = False) -> None:
    """Checks, before any work, that :meth:`BuiltGraph.save` may write ``folder``.

    Raises:
        OutputError: See :func:`graphalign.outputs.check_output_dir`.
    """
    check_output_dir(folder, GRAPH_LAYOUT, overwrite)


def _check_graph_config(config: dict[str, Any], path: Path) -> None:
    """The encoder config saved in ``graph.json`` must be a valid :class:`GraphConfig` (checked on load,
    so a query never builds an encoder from out-of-range values). A graph whose features came from
    elsewhere (its config names no GraphConfig field, e.g. a synthetic graph) has no encoder to check."""
    if not config.keys() & {f.name for f in dataclasses.fields(GraphConfig)}:
        return
    try:
        GraphConfig.from_dict(config)
    except (GraphAlignError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: key 'config': {error}") from None


def _siblings(folder: Path, tag: str) -> list[Path]:
    """Hidden siblings ``.<name>.<tag>-*`` of ``folder`` (staging or old copies)."""
    if not folder.parent.is_dir():
        return []
    prefix = f".{folder.name}.{tag}-"
    return sorted(p for p in folder.parent.iterdir() if p.name.startswith(prefix) and p.is_dir())


def _recover_interrupted_swap(folder: Path) -> None:
    """Puts back the old graph folder if a save was killed between the two renames of the swap."""
    if folder.exists():
        return
    for old in _siblings(folder, "old"):
        if (old / GRAPH_META).is_file():
            with contextlib.suppress(OSError):  # another process may be finishing its swap right now
                os.replace(old, folder)
                logger.warning("%s: restored the previous graph folder left by an interrupted save", folder)
                return


def _remove_stale_staging(folder: Path) -> None:
    """Deletes staging folders of killed saves (old enough not to be another live save's)."""
    now = time.time()
    for staging in _siblings(folder, "tmp"):
        with contextlib.suppress(OSError):
            if now - staging.stat().st_mtime > STALE_STAGING_SECONDS:
                remove_own_folder(staging, GRAPH_STAGING_LAYOUT)
    if folder.exists():
        for old in _siblings(folder, "old"):  # the swap finished; only its clean-up was cut short
            remove_own_folder(old, GRAPH_LAYOUT)


def _swap_in(staging: Path, folder: Path, overwrite: bool = False, attempts: int = 10) -> None:
    """Replaces ``folder`` by ``staging`` with renames (old content removed last).

    Another process saving to the same folder at the same time may win the race
    for a rename; then this one tries again (with ``overwrite``), so the last
    save wins and the folder is always one complete graph. The folder is checked
    again right before it is moved away, and only graphalign's own files of the
    old folder are deleted.
    """
    for _ in range(attempts):
        old = None
        if folder.exists() or folder.is_symlink():
            if check_output_dir(folder, GRAPH_LAYOUT, overwrite) == "empty":
                with contextlib.suppress(OSError):
                    folder.rmdir()  # the rename below puts the graph in its place
            else:
                old = folder.parent / f".{folder.name}.old-{uuid.uuid4().hex[:8]}"
                try:
                    os.replace(folder, old)
                except FileNotFoundError:
                    continue  # another process moved it away first
                except OSError as error:
                    if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                        raise
                    continue
        try:
            os.replace(staging, folder)
        except OSError as error:
            if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            if old is not None:
                remove_own_folder(old, GRAPH_LAYOUT)
            continue  # another process swapped its folder in between our renames
        if old is not None:
            remove_own_folder(old, GRAPH_LAYOUT)
        return
    raise GraphAlignError(f"{folder}: could not replace the folder (other processes keep writing it)")
