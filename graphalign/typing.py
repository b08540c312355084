"""Type aliases shared across graphalign (PyG vocabulary)."""

from __future__ import annotations

from os import PathLike
from typing import Union

NodeType = str
"""A node type: ``"concept"``, ``"text"`` or ``"image"``."""

EdgeType = tuple[str, str, str]
"""An edge type ``(source node type, relation, target node type)`` as in PyG."""

NodeId = str
"""A user-facing node identifier, unique across all node types."""

PathType = Union[str, "PathLike[str]"]

NODE_TYPES: tuple[NodeType, ...] = ("concept", "text", "image")
"""The node types graphalign knows, in canonical order."""

__all__ = ["NodeType", "EdgeType", "NodeId", "PathType", "NODE_TYPES"]
