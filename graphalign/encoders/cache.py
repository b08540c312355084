"""On-disk feature cache keyed by encoder identity and content hash.

Layout::

    CACHE_DIR/<sha256(identity)[:24]>/identity.json
    CACHE_DIR/<sha256(identity)[:24]>/shard-<unique>.safetensors

Each shard is a safetensors file with ``keys`` (``(n, 32)`` uint8 SHA-256
digests of the encoded content) and ``vectors`` (``(n, dim)`` float32), plus a
checksum of both in its metadata. Shards are written atomically (temp file +
rename) and never modified, so several processes can share one cache: each adds
its own shards. A shard that fails to load or whose checksum does not match is
moved aside (``*.corrupt``) and its entries are recomputed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import uuid
from pathlib import Path

import numpy as np
import torch

from graphalign.atomic import atomic_save_safetensors, atomic_write_json

logger = logging.getLogger(__name__)

__all__ = ["FeatureCache", "content_digest", "default_cache_dir"]

CACHE_ENV = "GRAPHALIGN_CACHE"
MAX_SHARDS = 32
"""Above this many shards, :meth:`FeatureCache.put` merges them into one."""


def default_cache_dir() -> Path:
    """``$GRAPHALIGN_CACHE``, else ``$XDG_CACHE_HOME/graphalign``, else ``~/.cache/graphalign``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "graphalign"


def content_digest(data: bytes | str) -> bytes:
    """SHA-256 digest of text (UTF-8) or raw bytes: the cache key of one item."""
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).digest()


def _checksum(keys: torch.Tensor, vectors: torch.Tensor) -> str:
    digest = hashlib.sha256(keys.numpy().tobytes())
    digest.update(vectors.numpy().tobytes())
    return digest.hexdigest()


def _key_tensor(keys: list[bytes]) -> torch.Tensor:
    return torch.from_numpy(np.frombuffer(b"".join(keys), dtype=np.uint8).copy()).reshape(-1, 32)


class FeatureCache:
    """Cache of encoder outputs for one encoder identity.

    Example:
        >>> cache = FeatureCache("/tmp/cache", identity="my-encoder:v1", dim=4)  # doctest: +SKIP
        >>> cache.put([content_digest("a")], torch.ones(1, 4))  # doctest: +SKIP
        >>> cache.get([content_digest("a"), content_digest("b")])[1]  # doctest: +SKIP
        [1]

    Args:
        root: The cache folder (shared by all encoders).
        identity: The encoder identity (see :attr:`Encoder.identity`).
        dim: The vector size; a stored shard of another size counts as corrupt.
    """

    def __init__(self, root: str | os.PathLike[str], identity: str, dim: int | None = None) -> None:
        self.root = Path(root)
        self.identity = identity
        self.dim = dim
        self.folder = self.root / hashlib.sha256(identity.encode()).hexdigest()[:24]
        self._rows: dict[bytes, torch.Tensor] | None = None

    def _shards(self) -> list[Path]:
        return sorted(self.folder.glob("shard-*.safetensors")) if self.folder.is_dir() else []

    def _read_shard(self, path: Path) -> tuple[torch.Tensor, torch.Tensor] | None:
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as handle:
                meta = handle.metadata() or {}
                keys, vectors = handle.get_tensor("keys"), handle.get_tensor("vectors")
        except FileNotFoundError:
            return None  # merged away by another process in the meantime
        except Exception as error:  # safetensors raises several types on bad files
            self._quarantine(path, f"unreadable ({error})")
            return None
        problem = None
        if meta.get("identity") != self.identity:
            problem = "identity mismatch"
        elif keys.dtype != torch.uint8 or keys.dim() != 2 or keys.size(1) != 32 or vectors.size(0) != keys.size(0):
            problem = "bad shapes"
        elif self.dim is not None and vectors.size(1) != self.dim:
            problem = f"dimension {vectors.size(1)} != {self.dim}"
        elif meta.get("checksum") != _checksum(keys, vectors):
            problem = "checksum mismatch"
        elif not torch.isfinite(vectors).all():
            problem = "non-finite values"
        if problem:
            self._quarantine(path, problem)
            return None
        return keys, vectors

    def _quarantine(self, path: Path, reason: str) -> None:
        logger.warning("feature cache shard %s is corrupt (%s); its entries will be recomputed", path, reason)
        with contextlib.suppress(OSError):
            os.replace(path, path.with_suffix(".corrupt"))

    def _load(self) -> dict[bytes, torch.Tensor]:
        if self._rows is None:
            rows: dict[bytes, torch.Tensor] = {}
            for path in self._shards():
                shard = self._read_shard(path)
                if shard is None:
                    continue
                keys, vectors = shard
                for key, vector in zip(keys.numpy(), vectors):
                    rows[key.tobytes()] = vector
            self._rows = rows
        return self._rows

    def __len__(self) -> int:
        return len(self._load())

    def get(self, keys: list[bytes]) -> tuple[dict[int, torch.Tensor], list[int]]:
        """Looks up content digests.

        Returns:
            ``(hits, misses)``: position → cached vector for the hits, and the
            positions that must be encoded.
        """
        rows = self._load()
        hits, misses = {}, []
        for position, key in enumerate(keys):
            vector = rows.get(key)
            if vector is None:
                misses.append(position)
            else:
                hits[position] = vector
        return hits, misses

    def put(self, keys: list[bytes], vectors: torch.Tensor) -> None:
        """Stores new entries as one new shard (atomic), merging shards if there are many.

        Shapes:
            - keys: ``n`` digests of 32 bytes
            - vectors: ``(n, dim)``
        """
        if not keys:
            return
        vectors = vectors.detach().to(torch.float32).cpu().contiguous()
        key_tensor = _key_tensor(keys)
        self._write_shard(key_tensor, vectors)
        rows = self._load()
        for key, vector in zip(keys, vectors):
            rows[key] = vector
        if len(self._shards()) > MAX_SHARDS:
            self.compact()

    def _write_shard(self, keys: torch.Tensor, vectors: torch.Tensor) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        info = self.folder / "identity.json"
        if not info.exists():
            atomic_write_json(info, {"identity": self.identity, "dim": int(vectors.size(1))})
        path = self.folder / f"shard-{uuid.uuid4().hex}.safetensors"
        meta = {"identity": self.identity, "checksum": _checksum(keys, vectors), "count": str(keys.size(0))}
        atomic_save_safetensors(path, {"keys": keys, "vectors": vectors}, metadata=meta)
        return path

    def compact(self) -> None:
        """Merges all shards into one. Safe with concurrent readers and writers:
        the merged shard is written before the old ones are removed."""
        old = self._shards()
        self._rows = None
        rows = self._load()
        if not rows:
            return
        keys = _key_tensor(list(rows))
        vectors = torch.stack(list(rows.values()))
        self._write_shard(keys, vectors)
        for path in old:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        logger.info("merged %d cache shards into one (%d entries)", len(old), len(rows))

