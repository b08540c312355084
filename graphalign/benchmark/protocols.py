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

import re
from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from graphalign.graph.convert import edge_index_dict
from graphalign.features.store import BuiltGraph
from graphalign.data.split import LABEL_FREE_RELATIONS, EdgeSplit, fold_text, is_aligned
from graphalign.typing import EdgeType

__all__ = ["ProtocolSplit", "Query", "make_protocol_split", "is_letter_stamp"]

DEPICTS = ("image", "depicts", "concept")
DESCRIBES = ("text", "describes", "image")


def is_letter_stamp(attributes: dict) -> bool:
    """Letters and sign-language stamps (``symbols/alphabets/...``)."""
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


class _UnionFind:
    """Disjoint sets of items; an item joins the set of the first item that shared one of its keys."""

    def __init__(self, items: list[int]) -> None:
        self.parent = {item: item for item in items}
        self.first: dict[Hashable, int] = {}

    def find(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, item: int, other: int) -> None:
        self.parent[self.find(item)] = self.find(other)

    def union_by_keys(self, item: int, keys: list[Hashable]) -> None:
        for key in keys:
            if key in self.first:
                self.union(item, self.first[key])
            else:
                self.first[key] = item

    def groups(self) -> dict[int, list[int]]:
        """Root → members, both in the order the items were given."""
        groups: dict[int, list[int]] = defaultdict(list)
        for item in self.parent:
            groups[self.find(item)].append(item)
        return groups


def _image_groups(built: BuiltGraph, concept_of: dict[int, int], threshold: float) -> list[list[int]]:
    """Union of identical files, same concept + same name stem, same concept + near-identical features."""
    images = list(built.graph.nodes("image"))
    sets = _UnionFind(list(range(len(images))))
    for row, node in enumerate(images):
        stamp = node.attributes.get("stamp") or node.id.rsplit("/", 1)[-1]
        sets.union_by_keys(row, [("sha", node.attributes.get("sha256") or node.id), ("stem", concept_of.get(row, -1), _stem(stamp))])
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


def _description_groups(texts: list, normalised: list[str], text_image: dict[int, int], images: set[int]) -> list[list[int]]:
    """Descriptions of the images in ``images``, grouped into copies of each other:
    the descriptions of one image in one primary language (``en``, ``en-GB``,
    ``en-AU``), and every description with the same text (after case folding and
    whitespace normalisation), on whichever image. A group is held out whole."""
    rows = sorted(t for t, i in text_image.items() if i in images)
    sets = _UnionFind(rows)
    for t in rows:
        sets.union_by_keys(t, [("language", text_image[t], _primary_language(texts[t].language)),
                               ("text", normalised[t])])
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


def _pick(items: list, fraction: float, generator: torch.Generator, carry: list[float]) -> tuple[list, list]:
    order = [items[i] for i in torch.randperm(len(items), generator=generator).tolist()]
    carry[0] += fraction * len(items)
    n = min(int(carry[0]), len(order))
    carry[0] -= n
    return order[:n], order[n:]


def make_protocol_split(
    built: BuiltGraph,
    seed: int,
    image_test: float = 0.2,
    image_val: float = 0.1,
    zero_shot: float = 0.15,
    text_test: float = 0.2,
    text_val: float = 0.05,
    link_test: float = 0.1,
    link_val: float = 0.05,
    supervision_only: float = 0.3,
    near_duplicate: float = 0.92,
    label_free: tuple[str, ...] = LABEL_FREE_RELATIONS,
    hide_concepts: float = 0.0,
) -> ProtocolSplit:
    """Draws every protocol's held-out set for one seed (see the module docstring)."""
    g = torch.Generator().manual_seed(seed)
    edges = edge_index_dict(built.graph, built.index)
    depicts = edges[DEPICTS]
    concept_of = dict(zip(depicts[0].tolist(), depicts[1].tolist()))
    n_images = built.index.num_nodes("image")

    # (c) zero-shot concepts: all images of ~15% of the depicted concepts.
    depicted = sorted(set(concept_of.values()))
    zs_concepts, _ = _pick(depicted, zero_shot, g, [0.0])
    zs_set = set(zs_concepts)
    zs_images = {i for i, c in concept_of.items() if c in zs_set}
    # (a) held-out images: groups of near-duplicates, stratified by concept.
    groups = [grp for grp in _image_groups(built, concept_of, near_duplicate) if not zs_images & set(grp)]
    by_concept: dict[int, list[list[int]]] = defaultdict(list)
    for grp in groups:
        by_concept[concept_of.get(grp[0], -1)].append(grp)
    test_images, val_images = set(), set()
    carry_test, carry_val = [0.0], [0.0]
    for concept in sorted(by_concept):
        picked, rest = _pick(by_concept[concept], image_test, g, carry_test)
        val_picked, _ = _pick(rest, image_val / max(1e-9, 1 - image_test), g, carry_val)
        test_images.update(i for grp in picked for i in grp)
        val_images.update(i for grp in val_picked for i in grp)
    heldout_images = test_images | val_images | zs_images
    train_images = set(range(n_images)) - heldout_images
    seen_concepts = {concept_of[i] for i in train_images if i in concept_of}

    # (b)/(e) held-out descriptions of training images.
    texts = list(built.graph.nodes("text"))
    normalised = [fold_text(node.text or "") for node in texts]  # case- and whitespace-folded, for copies
    describes = edges.get(DESCRIBES, torch.empty(2, 0, dtype=torch.long))
    text_image = dict(zip(describes[0].tolist(), describes[1].tolist()))
    # Descriptions are held out in groups of copies (trap: en-GB / en-AU
    # descriptions mostly repeat the English one word for word, so a held-out
    # English description would still sit on its image, and in the training
    # pairs, as an identical en-GB text).
    copy_groups = _description_groups(texts, normalised, text_image, train_images)
    english = [grp for grp in copy_groups if any(_primary_language(texts[t].language) == "en" for t in grp)]
    other = [grp for grp in copy_groups if not any(_primary_language(texts[t].language) == "en" for t in grp)]
    en_test_groups, en_rest = _pick(english, text_test, g, [0.0])
    en_val_groups, _ = _pick(en_rest, text_val / (1 - text_test), g, [0.0])
    xl_test_groups, _ = _pick(other, text_test, g, [0.0])
    en_test = [_representative(texts, grp) for grp in en_test_groups]
    en_val = [_representative(texts, grp) for grp in en_val_groups]
    xl_test = [t for grp in xl_test_groups for t in _distinct_texts(normalised, grp)]
    queried = set(en_test) | set(en_val) | set(xl_test)
    copies = {t for grp in en_test_groups + en_val_groups + xl_test_groups for t in grp} - queried
    heldout_texts = queried | copies

    parts: dict[str, dict[EdgeType, torch.Tensor]] = {p: {} for p in ("message_passing", "supervision", "val", "test")}
    link_held: dict[EdgeType, tuple[torch.Tensor, torch.Tensor]] = {}
    for edge_type, edge_index in edges.items():
        src, _, dst = edge_type
        n = edge_index.size(1)
        test = torch.zeros(n, dtype=torch.bool)
        val = torch.zeros(n, dtype=torch.bool)
        dropped = torch.zeros(n, dtype=torch.bool)  # neither trained nor evaluated
        if edge_type == DEPICTS:
            rows = edge_index[0].tolist()
            test = torch.tensor([r in test_images or r in zs_images for r in rows])
            val = torch.tensor([r in val_images for r in rows])
        elif edge_type == DESCRIBES:
            heads, tails = edge_index[0].tolist(), edge_index[1].tolist()
            test_set, val_set = set(en_test) | set(xl_test), set(en_val)
            test = torch.tensor([h in test_set for h in heads]) if n else test
            val = torch.tensor([h in val_set for h in heads]) if n else val
            dropped = torch.tensor([t in heldout_images or h in copies for h, t in zip(heads, tails)]) if n else dropped
            test, val = test & ~dropped, val & ~dropped
        elif src == dst == "concept":
            order = torch.randperm(n, generator=g)
            n_test, n_val = round(link_test * n), round(link_val * n)
            test[order[:n_test]] = True
            val[order[n_test : n_test + n_val]] = True
            link_held[edge_type] = (edge_index[:, test], edge_index[:, val])
        elif edge_type[1] in label_free:
            pass  # feature-similarity edges use no labels: kept for held-out nodes too
        else:  # any other relation: drop edges touching held-out nodes
            for side, node_type in ((0, src), (1, dst)):
                held = heldout_images if node_type == "image" else heldout_texts if node_type == "text" else set()
                if held:
                    dropped |= torch.tensor([r in held for r in edge_index[side].tolist()])
        train = ~(test | val | dropped)
        aligned = is_aligned(edge_type, None) and edge_type[1] not in label_free
        if aligned:
            parts["test"][edge_type] = edge_index[:, test]
            parts["val"][edge_type] = edge_index[:, val]
            sup = edge_index[:, train]
            parts["supervision"][edge_type] = sup
            hidden = torch.rand(sup.size(1), generator=g) < supervision_only
            if edge_type == DEPICTS and hide_concepts > 0:
                # Train for zero-shot concepts: some concepts see none of their images.
                hide = torch.rand(built.index.num_nodes("concept"), generator=g) < hide_concepts
                hidden |= hide[sup[1]]
            parts["message_passing"][edge_type] = sup[:, ~hidden]
        else:
            parts["message_passing"][edge_type] = edge_index[:, train]
    aligned_types = [et for et in edges if is_aligned(et, None) and et[1] not in label_free]
    heldout = {
        "test": {"image": torch.tensor(sorted(test_images | zs_images)), "text": torch.tensor(sorted(set(en_test) | set(xl_test) | copies))},
        "val": {"image": torch.tensor(sorted(val_images)), "text": torch.tensor(sorted(en_val))},
    }
    split = EdgeSplit(edges=parts, heldout=heldout, aligned_edge_types=aligned_types)

    # The queries of each protocol.
    known_ic = depicts
    letters = torch.tensor([is_letter_stamp(n.attributes) for n in built.graph.nodes("image")])

    def image_query(images: set[int]) -> Query:
        rows = sorted(images)
        pairs = torch.tensor([rows, [concept_of[r] for r in rows]], dtype=torch.long).reshape(2, -1)
        seen = torch.tensor([concept_of[r] in seen_concepts for r in rows], dtype=torch.bool)
        no_letters = ~letters[pairs[0]] if rows else torch.zeros(0, dtype=torch.bool)
        return Query("image", "concept", pairs, known_ic, {"seen": seen, "unseen": ~seen, "no_letters": no_letters})

    # Trap: variants of a stamp often share one description word for word, so a
    # query text describes every image that carries it: all are true answers
    # (filtered ranking), not only the image the query node is attached to.
    images_of_text: dict[str, set[int]] = defaultdict(set)
    for t, i in text_image.items():
        images_of_text[normalised[t]].add(i)
    known_ti = torch.tensor([[t, j] for t in sorted(text_image) for j in sorted(images_of_text[normalised[t]])],
                            dtype=torch.long).t().reshape(2, -1)

    def text_query(selected: list[int]) -> Query:
        rows = sorted(selected)
        pairs = torch.tensor([rows, [text_image[r] for r in rows]], dtype=torch.long).reshape(2, -1)
        no_letters = ~letters[pairs[1]] if rows else torch.zeros(0, dtype=torch.bool)
        return Query("text", "image", pairs, known_ti, {"no_letters": no_letters})

    queries = {
        "a:image->concept": image_query(test_images),
        "c:zero-shot image->concept": image_query(zs_images),
        "b:text->image": text_query(en_test),
        "e:cross-language text->image": text_query(xl_test),
        "val:image->concept": image_query(val_images),
    }
    a = queries["a:image->concept"]
    queries["a:concept->image"] = Query("concept", "image", a.pairs.flip(0), known_ic.flip(0), {"no_letters": a.groups["no_letters"]})
    # Trap 1: descriptions name their concept; reported, not counted as proof.
    b = queries["b:text->image"]
    desc_concepts = torch.tensor([concept_of.get(int(i), -1) for i in b.pairs[1]], dtype=torch.long)
    keep = desc_concepts >= 0
    text_concept_known = torch.tensor(
        [[t, concept_of[i]] for t, i in text_image.items() if i in concept_of], dtype=torch.long
    ).t().reshape(2, -1)
    queries["b':text->concept (name matching)"] = Query("text", "concept", torch.stack([b.pairs[0][keep], desc_concepts[keep]]), text_concept_known)
    for edge_type, (held_test, _) in link_held.items():
        if held_test.size(1):
            queries[f"d:{edge_type[1]} (link prediction)"] = Query("concept", "concept", held_test, edges[edge_type])
    counts = {name: int(q.pairs.size(1)) for name, q in queries.items()}
    counts.update(zero_shot_concepts=len(zs_set), image_groups=len(groups), dropped_description_copies=len(copies))
    return ProtocolSplit(split=split, queries=queries, counts=counts)
