"""Content digests: SHA-256 of texts, bytes and files (cache keys, copy detection, fingerprints)."""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["content_digest", "file_digest"]


def content_digest(data: bytes | str) -> bytes:
    """SHA-256 digest of text (UTF-8) or raw bytes: the cache key of one item."""
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).digest()


def file_digest(path: Path) -> bytes:
    """:func:`content_digest` of a file's bytes, read in blocks (large files never sit in memory whole)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()
