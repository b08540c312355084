"""Evaluation protocols of the quality benchmark, all drawn in one split per seed.

One seed gives one :class:`ProtocolSplit` that holds out, at the same time:

(a) ``heldout_images``: 20% of images (stratified by concept), after grouping
    identical and near-identical images so that a group never straddles the
    split; (c) ``zero_shot``: all images of ~15% of the depicted concepts;
(b) ``descriptions``: 20% of the English descriptions of training images;
(e) ``cross_language``: 20% of the other-language descriptions of training images;
    descriptions are held out in groups of copies: the descriptions of one
    image in one primary language (``en``, ``en-GB``, ``en-AU``) or with the
    same text (after case folding and whitespace normalisation) on any image;
    the copies of a held-out description are dropped (neither trained on nor
    passed as messages), since in the Tux Paint data 854 of 949 en-GB
    descriptions repeat the English one word for word, and variants of a stamp
    often share one description; a text query counts every image that carries
    its text as a true answer (filtered ranking);
(d) ``links``: 10% of the concept–concept relations (``is_a``, ``part_of``).

Held-out images lose every edge (their descriptions too: a description names
the concept, so it would leak the label). Category folders are not edges of
the graph at all (they only steer the word-sense choice of the recipe), so they
cannot leak.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from graphalign.data.split import (
    LABEL_FREE_RELATIONS,
    PARTS,
    EdgeSplit,
    UnionFind,
    add_aligned_parts,
    fold_text,
    is_aligned,
    link_holdout,
    node_mask,
    stratified_holdout,
    touches,
    without_held_out_pairs,
)
from graphalign.errors import GraphValidationError, check_config_keys
from graphalign.evaluation.evaluator import every_pair
from graphalign.features.store import BuiltGraph
from graphalign.graph.convert import edge_index_dict
from graphalign.graph.schema import TextNode
from graphalign.typing import EdgeType

__all__ = ["ProtocolConfig", "ProtocolSplit", "Query", "check_protocol_graph", "make_protocol_split", "is_letter_stamp"]

DEPICTS = ("image", "depicts", "concept")
VAL_CONCEPT_IMAGE = ("val:image->concept", "val:concept->image")
DESCRIBES = ("text", "describes", "image")


def is_letter_stamp(attributes: dict) -> bool:
    """Images that image features cannot tell apart by what they show: letters and sign-language
    stamps (Tux Paint's ``symbols/alphabets/...``), and images a recipe marks ``kind`` ``letter`` or
    ``flag`` (Open Clip Art). The ``no_letters`` subsets leave them out."""
    if attributes.get("kind") in ("letter", "flag"):
        return True
    return str(attributes.get("category", "")).startswith("symbols/alphabets")


@dataclass
class Query:
    """One evaluated direction: rank ``cand_type`` nodes for each ``(query, target)`` pair."""

    query_type: str
    cand_type: str
    pairs: torch.Tensor  # (2, P): query rows, target rows
    known: torch.Tensor  # (2, K): all true (query, candidate) pairs, for filtering
    groups: dict[str, torch.Tensor] = field(default_factory=dict)  # subset name -> bool mask over pairs


@dataclass
class ProtocolSplit:
    """An :class:`EdgeSplit` for training plus the queries of each protocol."""

    split: EdgeSplit
    queries: dict[str, Query]
    counts: dict[str, int]


def _stem(name: str) -> str:
    original = name.lower()
    name = re.sub(r"(cartoon|outline[d]?|filled|upper(case)?|lower(case)?)", "", original).strip("-_ ")
    name = re.sub(r"([-_ ]+[a-z]|[-_ ]*\d+[a-z]?)$", "", name)
    return re.sub(r"[-_ ]+", "", name) or original


def _image_groups(built: BuiltGraph, concept_of: dict[int, int], threshold: float) -> list[list[int]]:
    """Union of identical files, same concept + same name stem, same concept + near-identical features."""
    images = list(built.graph.nodes("image"))
    sets = UnionFind(list(range(len(images))))
    for row, node in enumerate(images):
        stamp = node.attributes.get("stamp") or node.id.rsplit("/", 1)[-1]
        sets.union_by_keys(
            row, [("sha", node.attributes.get("sha256") or node.id), ("stem", concept_of.get(row, -1), _stem(stamp))]
        )
    x = F.normalize(built.features["image"], dim=-1)
    by_concept: dict[int, list[int]] = defaultdict(list)
    for row, concept in concept_of.items():
        by_concept[concept].append(row)
    for rows in by_concept.values():
        if len(rows) > 1:
            sims = x[rows] @ x[rows].T
            for a, b in (sims > threshold).triu(1).nonzero().tolist():
                sets.union(rows[a], rows[b])
    return list(sets.groups().values())


def _primary_language(language: str | None) -> str:
    """``"en-GB"`` -> ``"en"``; no language counts as English."""
    return (language or "en").split("-")[0].lower()


def _description_groups(
    texts: list, normalised: list[str], text_image: dict[int, int], images: set[int]
) -> list[list[int]]:
    """Descriptions of the images in ``images``, grouped into copies of each other:
    the descriptions of one image in one primary language (``en``, ``en-GB``,
    ``en-AU``), and every description with the same text (after case folding and
    whitespace normalisation), on whichever image. A group is held out whole."""
    rows = sorted(t for t, i in text_image.items() if i in images)
    sets = UnionFind(rows)
    for t in rows:
        sets.union_by_keys(
            t, [("language", text_image[t], _primary_language(texts[t].language)), ("text", normalised[t])]
        )
    return sorted(sets.groups().values(), key=min)


def _representative(texts: list, group: list[int]) -> int:
    """The query of an English group: its ``en`` description (else its first English one)."""
    english = [t for t in group if _primary_language(texts[t].language) == "en"]
    exact = [t for t in english if (texts[t].language or "en") == "en"]
    return (exact or english or group)[0]


def _distinct_texts(normalised: list[str], group: list[int]) -> list[int]:
    """One description per distinct text of a group (copies are not queried twice)."""
    seen: dict[str, int] = {}
    for t in group:
        seen.setdefault(normalised[t], t)
    return sorted(seen.values())


@dataclass
class ProtocolConfig:
    """How much each protocol holds out; JSON-friendly via :meth:`to_dict`.

    Example:
        >>> ProtocolConfig(zero_shot=0.2).image_test
        0.2

    Args:
        image_test: (a) Fraction of image groups (per concept) held out for test.
        image_val: Fraction of image groups held out for validation.
        zero_shot: (c) Fraction of depicted concepts whose images are all held out.
        zero_shot_val: Fraction of depicted concepts whose images are all held out
            for validation (zero-shot validation queries).
        text_test: (b)/(e) Fraction of description groups held out for test.
        text_val: Fraction of English description groups held out for validation.
        link_test: (d) Fraction of each concept–concept relation held out for test.
        link_val: The same, for validation.
        supervision_only: Fraction of training aligned edges hidden from message passing.
        near_duplicate: Cosine similarity of image features above which two images
            of one concept are near-duplicates (held out together).
        label_free: Relations that use no label (kept for held-out nodes, never aligned).
        hide_concepts: Fraction of concepts none of whose training images pass
            messages to them (trains for zero-shot concepts).
    """

    image_test: float = 0.2
    image_val: float = 0.1
    zero_shot: float = 0.15
    zero_shot_val: float = 0.05
    text_test: float = 0.2
    text_val: float = 0.05
    link_test: float = 0.1
    link_val: float = 0.05
    supervision_only: float = 0.3
    near_duplicate: float = 0.92
    label_free: tuple[str, ...] = LABEL_FREE_RELATIONS
    hide_concepts: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProtocolConfig:
        check_config_keys(cls, data, "protocol")
        return cls(**data)


@dataclass
class _HeldoutImages:
    """(a) and (c): held-out image rows, and what the counts report."""

    test: set[int]
    val: set[int]
    zero_shot: set[int]
    zero_shot_val: set[int]
    zero_shot_concepts: int
    num_groups: int

    @property
    def all(self) -> set[int]:
        return self.test | self.val | self.zero_shot | self.zero_shot_val


def _hold_out_images(
    built: BuiltGraph, concept_of: dict[int, int], config: ProtocolConfig, generator: torch.Generator
) -> _HeldoutImages:
    """Zero-shot concepts first (all their images), then groups of near-duplicates, stratified by concept."""
    depicted = sorted(set(concept_of.values()))
    zs_concepts, zs_val_concepts = stratified_holdout({0: depicted}, config.zero_shot, config.zero_shot_val, generator)
    zs_set, zs_val_set = set(zs_concepts), set(zs_val_concepts)
    zs_images = {i for i, c in concept_of.items() if c in zs_set}
    zs_val_images = {i for i, c in concept_of.items() if c in zs_val_set}
    groups = [
        grp
        for grp in _image_groups(built, concept_of, config.near_duplicate)
        if not (zs_images | zs_val_images) & set(grp)
    ]
    by_concept: dict[int, list[list[int]]] = defaultdict(list)
    for grp in groups:
        by_concept[concept_of.get(grp[0], -1)].append(grp)
    test, val = stratified_holdout(by_concept, config.image_test, config.image_val, generator, val_of_rest=True)
    return _HeldoutImages(
        test={i for grp in test for i in grp},
        val={i for grp in val for i in grp},
        zero_shot=zs_images,
        zero_shot_val=zs_val_images,
        zero_shot_concepts=len(zs_set),
        num_groups=len(groups),
    )


@dataclass
class _Descriptions:
    """The text nodes, their folded texts (copies compare equal) and the image each describes."""

    texts: list[TextNode]
    normalised: list[str]
    text_image: dict[int, int]

    @classmethod
    def of(cls, built: BuiltGraph, edges: dict[EdgeType, torch.Tensor]) -> _Descriptions:
        texts = list(built.graph.nodes("text"))
        describes = edges.get(DESCRIBES, torch.empty(2, 0, dtype=torch.long))
        return cls(
            texts=texts,
            normalised=[fold_text(node.text or "") for node in texts],
            text_image=dict(zip(describes[0].tolist(), describes[1].tolist())),
        )


@dataclass
class _HeldoutTexts:
    """(b) and (e): the queried descriptions, and the copies of them that are dropped."""

    en_test: list[int]
    en_val: list[int]
    xl_test: list[int]
    copies: set[int]

    @property
    def test(self) -> set[int]:
        return set(self.en_test) | set(self.xl_test)

    @property
    def all(self) -> set[int]:
        return self.test | set(self.en_val) | self.copies


def _hold_out_descriptions(
    descriptions: _Descriptions, train_images: set[int], config: ProtocolConfig, generator: torch.Generator
) -> _HeldoutTexts:
    """Descriptions of training images, held out in groups of copies.

    Trap: en-GB / en-AU descriptions mostly repeat the English one word for
    word, so a held-out English description would still sit on its image, and
    in the training pairs, as an identical en-GB text.
    """
    texts, normalised = descriptions.texts, descriptions.normalised
    copy_groups = _description_groups(texts, normalised, descriptions.text_image, train_images)
    is_english = [any(_primary_language(texts[t].language) == "en" for t in grp) for grp in copy_groups]
    english = [grp for grp, en in zip(copy_groups, is_english) if en]
    other = [grp for grp, en in zip(copy_groups, is_english) if not en]
    en_test_groups, en_val_groups = stratified_holdout(
        {0: english}, config.text_test, config.text_val, generator, val_of_rest=True
    )
    xl_test_groups, _ = stratified_holdout({0: other}, config.text_test, 0.0, generator)
    en_test = [_representative(texts, grp) for grp in en_test_groups]
    en_val = [_representative(texts, grp) for grp in en_val_groups]
    xl_test = [t for grp in xl_test_groups for t in _distinct_texts(normalised, grp)]
    queried = set(en_test) | set(en_val) | set(xl_test)
    copies = {t for grp in en_test_groups + en_val_groups + xl_test_groups for t in grp} - queried
    return _HeldoutTexts(en_test=en_test, en_val=en_val, xl_test=xl_test, copies=copies)


@dataclass
class _HeldoutMasks:
    """The held-out rows as boolean masks, for the edge rules of :func:`_edge_masks`."""

    image_test: torch.Tensor
    image_val: torch.Tensor
    image_all: torch.Tensor
    text_test: torch.Tensor
    text_val: torch.Tensor
    text_copies: torch.Tensor
    text_all: torch.Tensor

    @classmethod
    def of(cls, built: BuiltGraph, images: _HeldoutImages, texts: _HeldoutTexts) -> _HeldoutMasks:
        num_images, num_texts = built.index.num_nodes("image"), built.index.num_nodes("text")
        return cls(
            image_test=node_mask(images.test | images.zero_shot, num_images),
            image_val=node_mask(images.val | images.zero_shot_val, num_images),
            image_all=node_mask(images.all, num_images),
            text_test=node_mask(texts.test, num_texts),
            text_val=node_mask(texts.en_val, num_texts),
            text_copies=node_mask(texts.copies, num_texts),
            text_all=node_mask(texts.all, num_texts),
        )


def _edge_masks(
    edge_type: EdgeType,
    edge_index: torch.Tensor,
    held: _HeldoutMasks,
    config: ProtocolConfig,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(test, val, dropped)`` masks over the edges of one type; dropped edges are neither trained nor evaluated."""
    none = torch.zeros(edge_index.size(1), dtype=torch.bool)
    if edge_type == DEPICTS:
        return held.image_test[edge_index[0]], held.image_val[edge_index[0]], none
    if edge_type == DESCRIBES:
        heads, tails = edge_index
        dropped = held.image_all[tails] | held.text_copies[heads]
        return held.text_test[heads] & ~dropped, held.text_val[heads] & ~dropped, dropped
    if edge_type[0] == edge_type[2] == "concept":
        test, val = link_holdout(edge_index.size(1), config.link_test, config.link_val, generator)
        return test, val, none
    if edge_type[1] in config.label_free:  # feature-similarity edges use no labels: kept for held-out nodes too
        return none, none, none
    # Any other relation: drop edges touching held-out nodes.
    return none, none, touches({"image": held.image_all, "text": held.text_all}, edge_type, edge_index)


def _hide_concepts(
    num_concepts: int, fraction: float, generator: torch.Generator
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Train for zero-shot concepts: some concepts see none of their images."""

    def hide(supervision: torch.Tensor) -> torch.Tensor:
        return (torch.rand(num_concepts, generator=generator) < fraction)[supervision[1]]

    return hide


def _protocol_parts(
    built: BuiltGraph,
    edges: dict[EdgeType, torch.Tensor],
    held: _HeldoutMasks,
    config: ProtocolConfig,
    generator: torch.Generator,
) -> tuple[dict[str, dict[EdgeType, torch.Tensor]], dict[EdgeType, torch.Tensor]]:
    """The edge parts of the training split, and the held-out test links per concept–concept relation."""
    parts: dict[str, dict[EdgeType, torch.Tensor]] = {p: {} for p in PARTS}
    link_tests: dict[EdgeType, torch.Tensor] = {}
    for edge_type, edge_index in edges.items():
        test, val, dropped = _edge_masks(edge_type, edge_index, held, config, generator)
        if edge_type[0] == edge_type[2] == "concept":
            link_tests[edge_type] = edge_index[:, test]
        train = ~(test | val | dropped)
        if not (is_aligned(edge_type, None) and edge_type[1] not in config.label_free):
            parts["message_passing"][edge_type] = edge_index[:, train]
            continue
        hide = None
        if edge_type == DEPICTS and config.hide_concepts > 0:
            hide = _hide_concepts(built.index.num_nodes("concept"), config.hide_concepts, generator)
        add_aligned_parts(parts, edge_type, edge_index, test, val, train, config.supervision_only, generator, hide)
    without_held_out_pairs(parts)
    return parts, link_tests


class _QueryMaker:
    """Builds the :class:`Query` of each protocol from held-out rows."""

    def __init__(
        self,
        built: BuiltGraph,
        depicts: torch.Tensor,
        concept_of: dict[int, int],
        seen_concepts: set[int],
        descriptions: _Descriptions,
    ) -> None:
        self.known_ic = depicts
        self.concept_of = concept_of
        self.seen_concepts = seen_concepts
        self.text_image = descriptions.text_image
        self.letters = torch.tensor([is_letter_stamp(n.attributes) for n in built.graph.nodes("image")])
        # Trap: variants of a stamp often share one description word for word, so a
        # query text describes every image that carries it: all are true answers
        # (filtered ranking), not only the image the query node is attached to.
        normalised = descriptions.normalised
        images_of_text: dict[str, set[int]] = defaultdict(set)
        for t, i in self.text_image.items():
            images_of_text[normalised[t]].add(i)
        self.known_ti = (
            torch.tensor(
                [[t, j] for t in sorted(self.text_image) for j in sorted(images_of_text[normalised[t]])],
                dtype=torch.long,
            )
            .t()
            .reshape(2, -1)
        )

    def image(self, images: set[int]) -> Query:
        rows = sorted(images)
        pairs = torch.tensor([rows, [self.concept_of[r] for r in rows]], dtype=torch.long).reshape(2, -1)
        seen = torch.tensor([self.concept_of[r] in self.seen_concepts for r in rows], dtype=torch.bool)
        return Query(
            "image", "concept", pairs, self.known_ic, {"seen": seen, "unseen": ~seen, **self.letter_groups(pairs[0])}
        )

    def text(self, selected: list[int]) -> Query:
        rows = sorted(selected)
        pairs = torch.tensor([rows, [self.text_image[r] for r in rows]], dtype=torch.long).reshape(2, -1)
        return Query("text", "image", pairs, self.known_ti, self.letter_groups(pairs[1]))

    def letter_groups(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"no_letters": mask}`` over queries about ``images``; none on a dataset without letters or flags."""
        return {"no_letters": ~self.letters[images]} if bool(self.letters.any()) else {}

    def text_concept(self, text_image_query: Query) -> Query:
        """Trap 1: descriptions name their concept; reported, not counted as proof."""
        pairs = text_image_query.pairs
        desc_concepts = torch.tensor([self.concept_of.get(int(i), -1) for i in pairs[1]], dtype=torch.long)
        keep = desc_concepts >= 0
        known = (
            torch.tensor(
                [[t, self.concept_of[i]] for t, i in self.text_image.items() if i in self.concept_of], dtype=torch.long
            )
            .t()
            .reshape(2, -1)
        )
        return Query("text", "concept", torch.stack([pairs[0][keep], desc_concepts[keep]]), known)


def _queries(
    make: _QueryMaker,
    images: _HeldoutImages,
    texts: _HeldoutTexts,
    edges: dict[EdgeType, torch.Tensor],
    link_tests: dict[EdgeType, torch.Tensor],
) -> dict[str, Query]:
    queries = {
        "a:image->concept": make.image(images.test),
        "c:zero-shot image->concept": make.image(images.zero_shot),
        "b:text->image": make.text(texts.en_test),
        "e:cross-language text->image": make.text(texts.xl_test),
        "val:image->concept": make.image(images.val),
        "val:zero-shot image->concept": make.image(images.zero_shot_val),
        "val:text->image": make.text(texts.en_val),
    }
    for image_concept, concept_image in (("a:image->concept", "a:concept->image"), VAL_CONCEPT_IMAGE):
        forward = queries[image_concept]
        queries[concept_image] = Query(
            "concept",
            "image",
            forward.pairs.flip(0),
            make.known_ic.flip(0),
            {k: v for k, v in forward.groups.items() if k == "no_letters"},
        )
    # Validation ranks as model selection does (the training's LinkEvaluator): it reads no test link, and
    # the test's images are no candidates in it
    test_images = torch.tensor(sorted(images.test | images.zero_shot), dtype=torch.long)
    for name in ("val:image->concept", "val:zero-shot image->concept", "val:text->image", VAL_CONCEPT_IMAGE[1]):
        query = queries[name]
        image_row = 0 if query.query_type == "image" else 1
        known = query.known[:, ~torch.isin(query.known[image_row], test_images)]
        if query.cand_type == "image":
            known = torch.cat([known, every_pair(query.pairs[0], test_images)], 1)
        queries[name] = dataclasses.replace(query, known=known)
    queries["b':text->concept (name matching)"] = make.text_concept(queries["b:text->image"])
    for edge_type, held_test in link_tests.items():
        if held_test.size(1):
            queries[f"d:{edge_type[1]} (link prediction)"] = Query("concept", "concept", held_test, edges[edge_type])
    return queries


def check_protocol_graph(edge_counts: Mapping[EdgeType, int]) -> None:
    """Refuses a graph the protocols cannot split: every protocol starts from ``image depicts concept`` links.

    Args:
        edge_counts: How many edges the graph has of each edge type.

    Raises:
        GraphValidationError: Naming the edge types the graph has.
    """
    if not edge_counts.get(DEPICTS):
        present = ", ".join("|".join(e) for e in sorted(t for t, n in edge_counts.items() if n)) or "none"
        raise GraphValidationError(
            f"the benchmark needs images linked to concepts by '{DEPICTS[1]}' edges (image {DEPICTS[1]} concept); "
            f"this graph has none (its edge types: {present})"
        )


def make_protocol_split(
    built: BuiltGraph, seed: int, config: ProtocolConfig | None = None, **overrides: Any
) -> ProtocolSplit:
    """Draws every protocol's held-out set for one seed (see the module docstring).

    Args:
        built: The graph (image features find near-duplicate images).
        seed: Random seed; the same seed gives the same split.
        config: The fractions held out; default :class:`ProtocolConfig`.
        **overrides: Fields of :class:`ProtocolConfig` to change.
    """
    config = config or ProtocolConfig()
    if overrides:
        config = ProtocolConfig.from_dict({**config.to_dict(), **overrides})
    g = torch.Generator().manual_seed(seed)
    edges = edge_index_dict(built.graph, built.index)
    check_protocol_graph({edge_type: index.size(1) for edge_type, index in edges.items()})
    depicts = edges[DEPICTS]
    concept_of = dict(zip(depicts[0].tolist(), depicts[1].tolist()))
    images = _hold_out_images(built, concept_of, config, g)
    train_images = set(range(built.index.num_nodes("image"))) - images.all
    seen_concepts = {concept_of[i] for i in train_images if i in concept_of}
    descriptions = _Descriptions.of(built, edges)
    texts = _hold_out_descriptions(descriptions, train_images, config, g)
    parts, link_tests = _protocol_parts(built, edges, _HeldoutMasks.of(built, images, texts), config, g)
    aligned_types = [et for et in edges if is_aligned(et, None) and et[1] not in config.label_free]
    heldout = {
        "test": {
            "image": torch.tensor(sorted(images.test | images.zero_shot)),
            "text": torch.tensor(sorted(texts.test | texts.copies)),
        },
        "val": {
            "image": torch.tensor(sorted(images.val | images.zero_shot_val)),
            "text": torch.tensor(sorted(texts.en_val)),
        },
    }
    split = EdgeSplit(edges=parts, heldout=heldout, aligned_edge_types=aligned_types)
    make = _QueryMaker(built, depicts, concept_of, seen_concepts, descriptions)
    queries = _queries(make, images, texts, edges, link_tests)
    counts = {name: int(q.pairs.size(1)) for name, q in queries.items()}
    counts.update(
        zero_shot_concepts=images.zero_shot_concepts,
        image_groups=images.num_groups,
        dropped_description_copies=len(texts.copies),
    )
    return ProtocolSplit(split=split, queries=queries, counts=counts)
