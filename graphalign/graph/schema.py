"""Node and edge records of a multimodal knowledge graph.

Three node kinds exist: :class:`ConceptNode` (a named entity, e.g. a WordNet
synset), :class:`TextNode` (a description or caption) and :class:`ImageNode` (a
picture, by file path or as a PIL image). :class:`Edge` is a typed relation
``(head, relation, tail)``; any relation name works.
"""

from __future__ import annotations

import hashlib
import io
import json
import unicodedata
from dataclasses import dataclass, field
from typing import Any, ClassVar

from graphalign.typing import NodeType

__all__ = [
    "Node",
    "ConceptNode",
    "TextNode",
    "ImageNode",
    "Edge",
    "NODE_CLASSES",
    "MAX_NAME_CHARS",
    "REVERSE_PREFIX",
    "check_id",
    "check_relation",
    "brief_repr",
    "no_visible_characters",
]

MAX_NAME_CHARS = 1024
"""The longest node id or relation name accepted, in characters."""

REVERSE_PREFIX = "rev_"
"""Prefix of reverse message-passing relations (``rev_is_a``), reserved: no relation of a graph may start with it.
The helpers that add and strip it live in :mod:`graphalign.graph.convert`."""

_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
"""Unicode categories that draw nothing: control and format characters, spaces."""
_INVISIBLE_CHARACTERS = frozenset("\u034f\u115f\u1160\u3164\uffa0\u2800" + "".join(map(chr, range(0xFE00, 0xFE10))))
"""Characters outside those categories that draw nothing either: the combining
grapheme joiner, Hangul fillers, the blank Braille pattern, variation selectors."""


def _unpaired_surrogate(value: str) -> bool:
    """Whether ``value`` holds a lone UTF-16 surrogate (possible through a JSON
    ``"\\ud800"`` escape), which cannot be written as UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def brief_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut in the middle (``'aaa...aaa'``) when longer than ``limit`` characters."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit // 2]}...{text[-(limit // 2) :]}"


def _invisible(ch: str) -> bool:
    """Whether ``ch`` draws nothing on its own (space, control, format, filler)."""
    return ch.isspace() or ch in _INVISIBLE_CHARACTERS or unicodedata.category(ch) in _INVISIBLE_CATEGORIES


def _code_points(chars: str, limit: int = 3) -> str:
    """``"U+200B, U+FEFF"``: the distinct characters of ``chars``, in order, at most ``limit``."""
    distinct = list(dict.fromkeys(chars))
    shown = ", ".join(f"U+{ord(ch):04X}" for ch in distinct[:limit])
    return shown + (", ..." if len(distinct) > limit else "")


def no_visible_characters(value: str) -> str | None:
    """For a string of invisible characters only, what they are (e.g. ``"U+200B and whitespace"``); else ``None``."""
    if not all(_invisible(ch) for ch in value):
        return None
    special = "".join(ch for ch in value if not ch.isspace())
    spaces = any(ch.isspace() for ch in value)
    return _code_points(special) + (" and whitespace" if spaces else "")


def _name_problem(value: str, what: str) -> str | None:
    """Problems shared by node ids and relation names: length, control and invisible characters."""
    if len(value) <= MAX_NAME_CHARS and value.isprintable() and not (_invisible(value[0]) or _invisible(value[-1])):
        return None  # the common case, without a look at every character
    if len(value) > MAX_NAME_CHARS:
        return f"{what} {brief_repr(value)} is too long ({len(value):,} characters; at most {MAX_NAME_CHARS:,})"
    if controls := "".join(ch for ch in value if unicodedata.category(ch) == "Cc"):
        return f"{what} {value!r} contains a control character ({_code_points(controls)})"
    if only := no_visible_characters(value):
        return f"{what} {value!r} has no visible characters (only {only})"
    if _invisible(value[0]) or _invisible(value[-1]):
        edges = "".join(ch for ch in (value[0], value[-1]) if _invisible(ch))
        return f"{what} {value!r} starts or ends with an invisible character ({_code_points(edges)})"
    return None


def check_id(node_id: Any) -> str | None:
    """Returns a problem with ``node_id`` as a string, or ``None`` if it is valid.

    An id must be a non-empty string of at most :data:`MAX_NAME_CHARS`
    characters without leading or trailing whitespace, tabs or line breaks
    (``edges.tsv`` could not hold it), must not start with ``#`` (an
    ``edges.tsv`` line starting with ``#`` is a comment), must be valid unicode
    text, must hold no control characters (such as NUL) and must not start or
    end with an invisible character (such as U+200B ZERO WIDTH SPACE), which
    would make two ids that look the same differ.
    """
    if not isinstance(node_id, str):
        return f"node id must be a string, got {type(node_id).__name__} {brief_repr(node_id)}"
    if not node_id.strip():
        return "node id is empty"
    if len(node_id) > MAX_NAME_CHARS:
        return _name_problem(node_id, "node id")
    if node_id != node_id.strip():
        return f"node id {node_id!r} has leading or trailing whitespace"
    if any(ch in node_id for ch in "\t\n\r"):
        return f"node id {node_id!r} contains a tab or line break"
    if node_id.startswith("#"):
        return f"node id {node_id!r} starts with '#', which marks a comment line in edges.tsv"
    if _unpaired_surrogate(node_id):
        return f"node id {node_id!r} contains an unpaired surrogate (not valid unicode text)"
    return _name_problem(node_id, "node id")


def check_relation(relation: Any) -> str | None:
    """Returns a problem with a relation name, or ``None`` if it is valid.

    Relation names may be any non-empty text (unicode included) of at most
    :data:`MAX_NAME_CHARS` characters without tabs or line breaks, which the
    TSV format cannot hold, without ``|``, which joins the parts of an edge type
    in saved splits, and without control characters or invisible characters at
    either end; they must not start with ``rev_``, which graphalign reserves
    for reverse message-passing edges.
    """
    if not isinstance(relation, str) or not relation.strip():
        return f"relation must be a non-empty string, got {brief_repr(relation)}"
    if len(relation) > MAX_NAME_CHARS:
        return _name_problem(relation, "relation")
    if any(ch in relation for ch in "\t\n\r"):
        return f"relation {relation!r} contains a tab or line break"
    if relation != relation.strip():
        return f"relation {relation!r} has leading or trailing whitespace"
    if relation.startswith(REVERSE_PREFIX):
        return f"relation {relation!r}: the prefix {REVERSE_PREFIX!r} is reserved for reverse edges"
    if _unpaired_surrogate(relation):
        return f"relation {relation!r} contains an unpaired surrogate (not valid unicode text)"
    if "|" in relation:
        return f"relation {relation!r} contains '|', which graphalign uses to join the parts of an edge type"
    return _name_problem(relation, "relation")


def _check_text_field(value: Any, what: str, *, required: bool = True) -> str | None:
    """A problem with a string field (``None`` if fine); optional fields may be ``None``."""
    if value is None and not required:
        return None
    if not isinstance(value, str):
        return f"{what} must be a string, got {type(value).__name__}"
    if required and not value.strip():
        return f"{what} is empty"
    if _unpaired_surrogate(value):
        return f"{what} contains an unpaired surrogate (not valid unicode text)"
    if required and (only := no_visible_characters(value)):
        return f"{what} has no visible characters (only {only})"
    return None


def _check_attributes(value: Any) -> str | None:
    if not isinstance(value, dict):
        return f"attributes must be a JSON object, got {type(value).__name__}"
    if not value:
        return None
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except ValueError as error:
        if "Out of range float" in str(error):  # NaN or Infinity: nodes.jsonl could not be read back
            return "attributes hold NaN or Infinity, which JSON cannot hold; use None for a missing value"
        return f"attributes cannot be written as JSON ({type(error).__name__}: {str(error)[:100]})"
    except (TypeError, RecursionError) as error:  # a set, an object, a lone surrogate, a cycle
        return f"attributes cannot be written as JSON ({type(error).__name__}: {str(error)[:100]})"
    return None


@dataclass
class Node:
    """Base class of the node records. ``type`` is fixed per subclass."""

    id: str
    attributes: dict[str, Any] = field(default_factory=dict, kw_only=True)

    type: ClassVar[NodeType] = ""
    fields: ClassVar[tuple[str, ...]] = ()
    """Format fields of this node type besides ``id``, ``type`` and ``attributes``."""

    def problems(self) -> list[str]:
        """Everything wrong with this record (empty list if valid)."""
        found = [p for p in (check_id(self.id), _check_attributes(self.attributes)) if p]
        return found

    def to_json(self) -> dict[str, Any]:
        """The record as a ``nodes.jsonl`` object (key order is stable)."""
        obj: dict[str, Any] = {"id": self.id, "type": self.type}
        for name in self.fields:
            value = getattr(self, name)
            if value is not None:
                obj[name] = value
        if self.attributes:
            obj["attributes"] = self.attributes
        return obj

    def content_key(self) -> str:
        """The text that an encoder sees for this node (see subclasses)."""
        raise NotImplementedError


@dataclass
class ConceptNode(Node):
    """A named entity of the knowledge graph.

    Example:
        >>> ConceptNode("wn:dog", name="dog", description="a domesticated canid")
        ConceptNode(id='wn:dog', attributes={}, name='dog', description='a domesticated canid')

    Args:
        id: Unique node id.
        name: Display name.
        description: Optional gloss; encoded together with the name.
        attributes: Extra JSON-serialisable information.
    """

    name: str = ""
    description: str | None = None

    type: ClassVar[NodeType] = "concept"
    fields: ClassVar[tuple[str, ...]] = ("name", "description")

    def problems(self) -> list[str]:
        found = super().problems()
        if problem := _check_text_field(self.name, "concept name"):
            found.append(problem)
        if problem := _check_text_field(self.description, "description", required=False):
            found.append(problem)
        return found


@dataclass
class TextNode(Node):
    """A piece of text: a description, a caption, a translation.

    Example:
        >>> TextNode("t1", text="A red kangaroo.", language="en").language
        'en'

    Args:
        id: Unique node id.
        text: The text; must not be empty or whitespace.
        language: Optional language code (``"en"``, ``"fr"``, ...).
        attributes: Extra JSON-serialisable information.
    """

    text: str = ""
    language: str | None = None

    type: ClassVar[NodeType] = "text"
    fields: ClassVar[tuple[str, ...]] = ("text", "language")

    def problems(self) -> list[str]:
        found = super().problems()
        if problem := _check_text_field(self.text, "text"):
            found.append(problem)
        if problem := _check_text_field(self.language, "language", required=False):
            found.append(problem)
        return found


@dataclass
class ImageNode(Node):
    """A picture, given by a file path (relative to the dataset folder) or in memory.

    Example:
        >>> ImageNode("img:cat", path="images/cat.png").path
        'images/cat.png'

    Args:
        id: Unique node id.
        path: Image file path, relative to the dataset folder (or absolute).
        image: An in-memory PIL image instead of a path (written to ``images/``
            when the dataset is saved).
        attributes: Extra JSON-serialisable information.
    """

    path: str | None = None
    image: Any = field(default=None, repr=False, compare=False)

    type: ClassVar[NodeType] = "image"
    fields: ClassVar[tuple[str, ...]] = ("path",)

    def problems(self) -> list[str]:
        found = super().problems()
        if self.path is None and self.image is None:
            found.append("image node needs a 'path' (or an in-memory image)")
        elif self.path is not None and self.image is not None:
            found.append("image node takes a 'path' or an in-memory image, not both")
        elif self.path is not None and not isinstance(self.path, str):
            hint = " (an in-memory image goes in image=)" if hasattr(self.path, "getpixel") else ""
            found.append(f"image path must be a string, got {type(self.path).__name__}{hint}")
        elif self.path is not None and not self.path.strip():
            found.append(f"image path must be a non-empty string, got {self.path!r}")
        elif self.path is not None and ("\0" in self.path or _unpaired_surrogate(self.path)):
            found.append(f"image path {self.path!r} contains a NUL character or an unpaired surrogate")
        if self.image is not None:
            from PIL import Image

            if not isinstance(self.image, Image.Image):
                found.append(f"image must be a PIL image, got {type(self.image).__name__}")
        return found

    def pixel_hash(self) -> str:
        """Content hash of an in-memory image (mode, size and pixels)."""
        digest = hashlib.sha256(f"{self.image.mode}:{self.image.size}".encode())
        buffer = io.BytesIO()
        self.image.save(buffer, format="PNG")
        digest.update(buffer.getvalue())
        return digest.hexdigest()


NODE_CLASSES: dict[NodeType, type[Node]] = {cls.type: cls for cls in (ConceptNode, TextNode, ImageNode)}
"""Node type name → record class."""


@dataclass(frozen=True)
class Edge:
    """A typed relation ``head --relation--> tail`` between two node ids."""

    head: str
    relation: str
    tail: str

    def as_tuple(self) -> tuple[str, str, str]:
        return (self.head, self.relation, self.tail)
