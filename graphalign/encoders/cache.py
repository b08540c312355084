"""On-disk feature cache keyed by encoder identity and content hash.

Layout::

    CACHE_DIR/<sha256(identity)[:24]>/identity.json
    CACHE_DIR/<sha256(identity)[:24]>/shard-<unique>.safetensors

Each shard is a safetensors file with ``keys`` (``(n, 32)`` uint8 SHA-256
digests of the encoded content) and ``vectors`` (``(n, dim)`` float32), plus a
checksum of both in its metadata. Shards are written atomically (temp file +
rename) and never modified, so several processes can share one cache: each adds
its own shards, and a merge writes the merged shard before it deletes the old
ones. No lock is needed. A process killed while writing leaves at most a hidden
``.shard-*.tmp`` file, which readers ignore and a later merge deletes. The cache
reads, renames and deletes only regular files with these names, in its own
encoder folders: anything else in ``CACHE_DIR`` (a user's files included) is never
touched, and an encoder folder that is a symbolic link is refused. A shard
that fails to load (a planted pickle included: shards are read with safetensors
only, never unpickled) or whose checksum does not match is moved aside
(``*.corrupt``) with a warning and its entries are recomputed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from graphalign.atomic import TEMP_SUFFIX, atomic_save_safetensors, atomic_write_json
from graphalign.digest import content_digest
from graphalign.errors import OutputError

logger = logging.getLogger(__name__)

__all__ = ["FeatureCache", "CacheReport", "content_digest", "default_cache_dir"]

CACHE_ENV = "GRAPHALIGN_CACHE"
MAX_SHARDS = 32
"""Above this many shards, :meth:`FeatureCache.put` merges them into one."""
STALE_TEMP_SECONDS = 3600.0
"""Temporary files older than this are leftovers of a killed writer (a live one
finishes a shard in far less), and :meth:`FeatureCache.compact` deletes them."""
IDENTITY_FILE = "identity.json"
SHARD_NAME = re.compile(r"shard-.+\.safetensors")
"""The names of the shards the cache writes (and the only files it reads, merges or moves aside)."""
TEMP_NAME = re.compile(r"\.(shard-.+\.safetensors|identity\.json)\..+" + re.escape(TEMP_SUFFIX))
"""The temporary files of the cache's own interrupted writes (the only ones it deletes)."""


@dataclass
class CacheReport:
    """What :meth:`FeatureCache.verify` found; :attr:`ok` when no shard is bad.

    Attributes:
        identity: The encoder identity.
        shards: Number of shard files.
        entries: Distinct cached items in the valid shards.
        problems: ``"<shard file>: <problem>"`` for each bad shard.
        temp_files: Leftover temporary files of interrupted writes (harmless).
    """

    identity: str
    shards: int = 0
    entries: int = 0
    problems: list[str] = field(default_factory=list)
    temp_files: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def default_cache_dir() -> Path:
    """``$GRAPHALIGN_CACHE``, else ``$XDG_CACHE_HOME/graphalign``, else ``~/.cache/graphalign``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "graphalign"


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

    def _own_files(self, pattern: re.Pattern[str]) -> list[Path]:
        """The regular files in the cache folder whose names match ``pattern`` (links never count)."""
        if not self._folder_ok():
            return []
        with os.scandir(self.folder) as entries:
            return sorted(
                Path(e.path) for e in entries if pattern.fullmatch(e.name) and e.is_file(follow_symlinks=False)
            )

    def _folder_ok(self) -> bool:
        """Whether the encoder's cache folder exists; refuses one that is a link or a file.

        Raises:
            OutputError: If the folder is a symbolic link or not a folder.
        """
        if self.folder.is_symlink() or (self.folder.exists() and not self.folder.is_dir()):
            raise OutputError(
                f"feature cache folder {self.folder} is a symbolic link or a file, not a folder graphalign "
                "wrote; move it away, choose another --cache-dir, or pass --no-cache"
            )
        return self.folder.is_dir()

    def _shards(self) -> list[Path]:
        return self._own_files(SHARD_NAME)

    def _check_shard(self, path: Path) -> tuple[torch.Tensor, torch.Tensor] | str | None:
        """Reads one shard: ``(keys, vectors)``, a problem string, or ``None`` if it is gone."""
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as handle:
                meta = handle.metadata() or {}
                keys, vectors = handle.get_tensor("keys"), handle.get_tensor("vectors")
        except FileNotFoundError:
            return None  # merged away by another process in the meantime
        except Exception as error:  # safetensors raises several types on bad files
            return f"unreadable ({type(error).__name__}: {str(error)[:200]})"
        if meta.get("identity") != self.identity:
            return "identity mismatch"
        if (
            keys.dtype != torch.uint8
            or keys.dim() != 2
            or keys.size(1) != 32
            or vectors.dim() != 2
            or vectors.size(0) != keys.size(0)
        ):
            return "bad shapes"
        if vectors.dtype != torch.float32:
            return f"bad dtype {vectors.dtype}"
        if self.dim is not None and vectors.size(1) != self.dim:
            return f"dimension {vectors.size(1)} != {self.dim}"
        if meta.get("checksum") != _checksum(keys, vectors):
            return "checksum mismatch"
        if not torch.isfinite(vectors).all():
            return "non-finite values"
        return keys, vectors

    def _read_shard(self, path: Path) -> tuple[torch.Tensor, torch.Tensor] | None:
        shard = self._check_shard(path)
        if isinstance(shard, str):
            self._quarantine(path, shard)
            return None
        return shard

    def _quarantine(self, path: Path, reason: str) -> None:
        logger.warning("feature cache shard %s is corrupt (%s); its entries will be recomputed", path, reason)
        target = path.with_suffix(".corrupt")
        if target.exists() or target.is_symlink():  # never replace an existing file
            target = path.with_suffix(f".{uuid.uuid4().hex[:8]}.corrupt")
        with contextlib.suppress(OSError):
            os.replace(path, target)

    def _temp_files(self) -> list[Path]:
        return self._own_files(TEMP_NAME)

    def verify(self) -> CacheReport:
        """Checks every shard (loadable, checksum, identity, shapes, finite values).

        Changes nothing: a bad shard is reported, not moved aside.

        Example:
            >>> report = FeatureCache("/tmp/cache", identity="my-encoder:v1").verify()  # doctest: +SKIP
            >>> report.ok, report.entries  # doctest: +SKIP
            (True, 75)
        """
        report = CacheReport(identity=self.identity, temp_files=len(self._temp_files()))
        keys_seen: set[bytes] = set()
        for path in self._shards():
            shard = self._check_shard(path)
            if shard is None:
                continue
            report.shards += 1
            if isinstance(shard, str):
                report.problems.append(f"{path}: {shard}")
                continue
            keys_seen.update(key.tobytes() for key in shard[0].numpy())
        report.entries = len(keys_seen)
        return report

    @classmethod
    def all_in(cls, root: str | os.PathLike[str]) -> list[FeatureCache]:
        """One cache per encoder identity found under ``root`` (read from ``identity.json``)."""
        caches = []
        root = Path(root)
        for folder in sorted(root.iterdir()) if root.is_dir() else []:
            info = folder / IDENTITY_FILE
            try:
                identity = json.loads(info.read_text(encoding="utf-8"))["identity"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            cache = cls(root, identity)
            if cache.folder == folder:
                caches.append(cache)
        return caches

    def _load(self) -> dict[bytes, torch.Tensor]:
        if self._rows is None:
            rows: dict[bytes, torch.Tensor] = {}
            dim = self.dim
            for path in self._shards():
                shard = self._read_shard(path)
                if shard is None:
                    continue
                keys, vectors = shard
                if dim is not None and vectors.size(1) != dim:  # only a tampered shard can disagree
                    self._quarantine(path, f"dimension {vectors.size(1)} != {dim} of the other shards")
                    continue
                dim = vectors.size(1)
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
        if not self._folder_ok():
            self.folder.mkdir(parents=True, exist_ok=True)
        info = self.folder / IDENTITY_FILE
        if not info.exists():
            atomic_write_json(info, {"identity": self.identity, "dim": int(vectors.size(1))})
        path = self.folder / f"shard-{uuid.uuid4().hex}.safetensors"
        meta = {"identity": self.identity, "checksum": _checksum(keys, vectors), "count": str(keys.size(0))}
        atomic_save_safetensors(path, {"keys": keys, "vectors": vectors}, metadata=meta, checksum=False)  # has its own
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
        now = time.time()
        for leftover in self._temp_files():
            with contextlib.suppress(OSError):
                if now - leftover.stat().st_mtime > STALE_TEMP_SECONDS:
                    leftover.unlink()
        logger.info("merged %d cache shards into one (%d entries)", len(old), len(rows))
