"""Encoding through the feature cache: only what the cache lacks is encoded, chunk by chunk."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from graphalign.encoders.base import Encoder
from graphalign.encoders.cache import FeatureCache
from graphalign.errors import EncoderError
from graphalign.image_io import check_image_file

__all__ = ["encode_with_cache"]


def _locate_bad_images(items: Sequence[Any], labels: Sequence[str]) -> list[str]:
    """``node 'id': problem`` for every image item that cannot be decoded (on the error path only)."""
    found = []
    for item, label in zip(items, labels):
        if isinstance(item, str):
            return []  # a text encoder: nothing to locate this way
        if problem := check_image_file(item):
            found.append(f"node {label!r}: {problem}")
    return found


def _encode_chunk(encoder: Encoder, items: list[Any], labels: list[str]) -> torch.Tensor:
    """Encodes one chunk; errors name the node(s) at fault."""
    try:
        vectors = encoder.encode(items)
    except EncoderError as error:
        culprits = _locate_bad_images(items, labels)
        if culprits:
            more = f" (and {len(culprits) - 3} more)" if len(culprits) > 3 else ""
            raise EncoderError("; ".join(culprits[:3]) + more) from error
        raise
    if vectors.dim() != 2 or vectors.size(0) != len(items):
        raise EncoderError(f"encoder {encoder.identity} returned shape {tuple(vectors.shape)} for {len(items)} items")
    bad = (~torch.isfinite(vectors)).any(dim=1).nonzero().flatten().tolist()
    if bad:
        names = [labels[i] for i in bad[:5]]
        raise EncoderError(f"encoder {encoder.identity} gave NaN/inf features for: {', '.join(map(repr, names))}")
    return vectors


def encode_with_cache(
    encoder: Encoder,
    items: Sequence[Any],
    keys: list[bytes],
    cache: FeatureCache | None,
    labels: Sequence[str] | None = None,
    *,
    chunk_size: int | None = None,
) -> tuple[torch.Tensor, int]:
    """Encodes ``items``, taking what it can from ``cache`` and storing the rest.

    The model is loaded only if something is missing from the cache. Missing
    items are encoded in chunks of ``chunk_size`` and each chunk is stored as
    soon as it is done, so an interruption loses at most one chunk of work.
    Items with the same key are encoded once and share its vector, so the
    result does not depend on how copies fall into batches.

    Args:
        encoder: The encoder.
        items: Raw items (texts, paths, PIL images).
        keys: Content digest of each item.
        cache: The cache, or ``None`` to encode everything.
        labels: Node ids, for error messages.
        chunk_size: Distinct items per encode-and-store step (default: all at once).

    Returns:
        ``(vectors (n, dim), number of items not found in the cache)``.

    Raises:
        EncoderError: If an item cannot be encoded or gives NaN/inf, naming it.
            Chunks finished before the failure stay in the cache.
    """
    labels = list(labels) if labels is not None else [str(i) for i in range(len(items))]
    hits, misses = cache.get(keys) if cache is not None else ({}, list(range(len(items))))
    # Each distinct content is encoded once, at its first position: a vector does not depend on
    # which copy's batch it came from, and the cache never holds two vectors for one key.
    first: dict[bytes, int] = {}
    for position in misses:
        first.setdefault(keys[position], position)
    distinct = list(first.values())
    size = max(1, chunk_size or len(distinct) or 1)
    chunks = [distinct[start : start + size] for start in range(0, len(distinct), size)]
    fresh: list[tuple[list[int], torch.Tensor]] = []
    show = encoder.progress
    bar = tqdm(total=len(distinct), desc="encoding", unit="item", disable=not show or len(chunks) < 2, leave=False)
    if len(chunks) > 1:
        encoder.progress = False  # one bar over the chunks instead of one per chunk
    try:
        for chunk in chunks:
            vectors = _encode_chunk(encoder, [items[i] for i in chunk], [labels[i] for i in chunk])
            if cache is not None:
                cache.put([keys[i] for i in chunk], vectors)
            fresh.append((chunk, vectors))
            bar.update(len(chunk))
    except EncoderError as error:
        done = sum(len(c) for c, _ in fresh)
        if done and cache is not None:
            raise EncoderError(f"{error} ({done} item(s) encoded before the failure are saved in the cache)") from error
        raise
    finally:
        encoder.progress = show
        bar.close()
    dim = fresh[0][1].size(1) if fresh else (next(iter(hits.values())).numel() if hits else 0)
    out = torch.empty(len(items), dim)
    for position, vector in hits.items():
        out[position] = vector
    for chunk, vectors in fresh:
        out[torch.tensor(chunk, dtype=torch.long)] = vectors
    copies = [(position, first[keys[position]]) for position in misses if first[keys[position]] != position]
    if copies:
        to, source = torch.tensor(copies, dtype=torch.long).unbind(1)
        out[to] = out[source]
    return out, len(misses)
