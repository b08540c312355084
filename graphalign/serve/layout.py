"""The explorer's map: 2-D coordinates of every node of a run, computed once and cached in the run folder.

Coordinates come from UMAP (cosine metric) where ``umap-learn`` is installed
(``pip install umap-learn``), else from PCA of the stored embeddings
(``torch.pca_lowrank``: seconds for 10^5 nodes). Points are grouped for colour
by node type and by *top-level concept*: for every node the ancestor of its
concept at the shallowest ``is_a`` depth that splits the depicted concepts into
at least :data:`MIN_GROUPS` groups, none larger than :data:`MAX_SHARE` of them (images: the concept they depict; texts:
through the image or concept they describe). The map is written to
``RUN_DIR/map.json`` (atomically) with a fingerprint of the weights, and
computed again when the weights change.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from graphalign.atomic import atomic_write_json
from graphalign.digest import file_digest
from graphalign.graph.knowledge_graph import KnowledgeGraph
from graphalign.query import Aligner
from graphalign.training.checkpoint import MAP_FILE, MODEL_FILE
from graphalign.typing import NODE_TYPES

logger = logging.getLogger(__name__)

__all__ = ["MAP_FILE", "MIN_GROUPS", "MAX_GROUPS", "load_or_compute_map", "compute_map", "concept_groups"]

MIN_GROUPS = 6
"""The top-level concepts split the depicted concepts into at least this many groups (where the hierarchy can)."""
MAX_SHARE = 0.4
"""... and none of them holds more than this share of the depicted concepts (else the depth where the largest
group is smallest)."""
MAX_GROUPS = 12
"""Groups beyond the largest ones are shown as ``other``."""


def _parents(graph: KnowledgeGraph) -> dict[str, list[str]]:
    parents: dict[str, list[str]] = {}
    for edge in graph.edges:
        if edge.relation == "is_a":
            parents.setdefault(edge.head, []).append(edge.tail)
    return parents


def _chain(concept: str, parents: dict[str, list[str]]) -> list[str]:
    """``concept`` and its first ``is_a`` ancestors up to a root, root first."""
    chain, seen = [concept], {concept}
    while parents.get(chain[-1]):
        parent = parents[chain[-1]][0]
        if parent in seen:  # a cycle: stop there
            break
        chain.append(parent)
        seen.add(parent)
    return chain[::-1]


def _concept_of(graph: KnowledgeGraph) -> dict[str, str]:
    """The concept each image depicts and each text is about (through its image or concept)."""
    concept_of: dict[str, str] = {n.id: n.id for n in graph.nodes("concept")}
    for edge in graph.edges:
        if edge.relation == "depicts":
            concept_of.setdefault(edge.head, edge.tail)
    for edge in graph.edges:
        if edge.relation == "describes" and edge.tail in concept_of:
            concept_of.setdefault(edge.head, concept_of[edge.tail])
    return concept_of


def concept_groups(graph: KnowledgeGraph) -> dict[str, str]:
    """Each node's top-level concept label (see the module docstring); nodes without a concept are absent."""
    parents = _parents(graph)
    concept_of = _concept_of(graph)
    chains = {c: _chain(c, parents) for c in set(concept_of.values())}
    depicted = {concept_of[n.id] for n in graph.nodes("image") if n.id in concept_of}
    best_depth, best_share = 0, 2.0
    for depth in range(0, max((len(chain) for chain in chains.values()), default=1)):
        counts = Counter(chains[c][min(depth, len(chains[c]) - 1)] for c in depicted)
        share = max(counts.values()) / len(depicted) if depicted else 1.0
        if len(counts) >= MIN_GROUPS and share <= MAX_SHARE:
            best_depth = depth
            break
        if share < best_share:
            best_depth, best_share = depth, share
    top = {c: chain[min(best_depth, len(chain) - 1)] for c, chain in chains.items()}
    return {node: graph.display_name(top[concept]) for node, concept in concept_of.items()}


def compute_map(aligner: Aligner, seed: int = 0) -> dict[str, Any]:
    """2-D coordinates, types and groups of every node (see the module docstring).

    Returns:
        ``{"method", "ids", "types", "type_names", "x", "y", "groups", "group_names"}``: parallel lists,
        types and groups as indices into their name lists.
    """
    types = [t for t in NODE_TYPES if t in aligner.embeddings]
    vectors = torch.cat([aligner.embeddings[t].float() for t in types])  # (N, dim)
    ids = [i for t in types for i in aligner.node_index.ids[t]]
    kinds = [k for k, t in enumerate(types) for _ in aligner.node_index.ids[t]]
    coords, method = _project(vectors, seed)
    coords = (coords - coords.min(0).values) / (coords.max(0).values - coords.min(0).values).clamp_min(1e-9)
    groups = concept_groups(aligner.graph)
    counts = Counter(groups.get(i, "other") for i in ids)
    names = [name for name, _ in counts.most_common() if name != "other"][: MAX_GROUPS - 1] + ["other"]
    index = {name: k for k, name in enumerate(names)}
    return {
        "method": method,
        "ids": ids,
        "types": kinds,
        "type_names": types,
        "x": [round(float(v), 4) for v in coords[:, 0]],
        "y": [round(float(v), 4) for v in coords[:, 1]],
        "groups": [index.get(groups.get(i, "other"), index["other"]) for i in ids],
        "group_names": names,
    }


def _project(vectors: torch.Tensor, seed: int) -> tuple[torch.Tensor, str]:
    """``(N, 2)`` coordinates: UMAP where installed, else PCA."""
    try:
        import umap  # type: ignore[import-not-found]
    except ImportError:
        umap = None
    if umap is not None and vectors.size(0) > 10:
        reducer = umap.UMAP(n_components=2, metric="cosine", random_state=seed)
        return torch.as_tensor(reducer.fit_transform(vectors.numpy())), "umap"
    torch.manual_seed(seed)
    centred = vectors - vectors.mean(0)
    _, _, v = torch.pca_lowrank(centred, q=min(2, *centred.shape), center=False)
    coords = centred @ v[:, :2]
    if coords.size(1) < 2:
        coords = torch.cat([coords, torch.zeros(coords.size(0), 2 - coords.size(1))], dim=1)
    return coords, "pca"


def _fingerprint(run_dir: Path) -> str:
    weights = run_dir / MODEL_FILE
    return file_digest(weights).hex() if weights.is_file() else ""


def load_or_compute_map(aligner: Aligner, run_dir: Path | None) -> dict[str, Any]:
    """The cached map of ``run_dir`` when its weights are the same, else a new one (cached there)."""
    path = run_dir / MAP_FILE if run_dir is not None else None
    fingerprint = _fingerprint(run_dir) if run_dir is not None else ""
    if path is not None and path.is_file():
        try:
            cached = json.loads(path.read_text(encoding="utf-8"))
            if cached.get("fingerprint") == fingerprint and len(cached.get("ids", [])) == sum(
                len(aligner.node_index.ids[t]) for t in aligner.embeddings
            ):
                return cached
        except (OSError, json.JSONDecodeError) as error:
            logger.warning("%s: cannot read the cached map (%s); computing it again", path, error)
    computed = {**compute_map(aligner), "fingerprint": fingerprint}
    if path is not None:
        try:
            atomic_write_json(path, computed)
        except OSError as error:  # a read-only run folder: serve the map uncached
            logger.warning("%s: cannot cache the map (%s)", path, error)
    return computed
