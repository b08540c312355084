"""Vector indexes for nearest-neighbour search in the shared space.

``exact`` scans every vector with batched matrix products (the default);
``faiss`` wraps a faiss index (optional extra ``graphalign[faiss]``) for large
collections. All return the same ``(scores, indices)`` results.
"""

from __future__ import annotations

import abc
import logging
from typing import Any

import torch
import torch.nn.functional as F

from graphalign.errors import GraphAlignError
from graphalign.registry import Registry

logger = logging.getLogger(__name__)

__all__ = ["VectorIndex", "ExactIndex", "FaissIndex", "INDEXES", "build_index"]


class VectorIndex(abc.ABC):
    """Inner-product search over L2-normalised vectors (= cosine similarity)."""

    @abc.abstractmethod
    def add(self, vectors: torch.Tensor) -> None:
        """Adds vectors; their row numbers (in order of addition) are the result indices.

        Shapes:
            - vectors: ``(N, d)``
        """

    @abc.abstractmethod
    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` most similar stored vectors of each query, best first.

        Returns:
            ``(scores, indices)``, each ``(Q, min(k, N))``.
        """

    @abc.abstractmethod
    def __len__(self) -> int: ...


INDEXES: Registry[VectorIndex] = Registry("index")


@INDEXES.register("exact")
class ExactIndex(VectorIndex):
    """Exact search: ``queries @ vectors.T`` in blocks, with a running top-k.

    Memory stays at ``query_batch x block`` scores whatever the collection size.

    Example:
        >>> index = ExactIndex()
        >>> index.add(torch.eye(3))
        >>> index.search(torch.tensor([[0.0, 1.0, 0.0]]), k=1)[1].tolist()
        [[1]]

    Args:
        block_size: Stored vectors scored at once.
        query_batch: Queries scored at once.
        device: Where to keep the vectors.
    """

    def __init__(self, block_size: int = 262_144, query_batch: int = 256, device: str | torch.device = "cpu") -> None:
        self.block_size, self.query_batch = block_size, query_batch
        self.device = torch.device(device)
        self._vectors = torch.empty(0, 0)

    def add(self, vectors: torch.Tensor) -> None:
        vectors = F.normalize(vectors.detach().float(), dim=-1).to(self.device)
        self._vectors = vectors if self._vectors.numel() == 0 else torch.cat([self._vectors, vectors])

    def __len__(self) -> int:
        return self._vectors.size(0)

    @torch.no_grad()
    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self)
        k = min(k, n)
        queries = F.normalize(queries.detach().float(), dim=-1).to(self.device)
        all_scores, all_indices = [], []
        for q_start in range(0, queries.size(0), self.query_batch):
            q = queries[q_start : q_start + self.query_batch]  # (B, d)
            best_scores = torch.full((q.size(0), 0), float("-inf"), device=self.device)
            best_indices = torch.empty((q.size(0), 0), dtype=torch.long, device=self.device)
            for start in range(0, n, self.block_size):
                scores = q @ self._vectors[start : start + self.block_size].T  # (B, block)
                top = torch.topk(scores, min(k, scores.size(1)), dim=1)
                best_scores = torch.cat([best_scores, top.values], dim=1)
                best_indices = torch.cat([best_indices, top.indices + start], dim=1)
                if best_scores.size(1) > k:
                    keep = torch.topk(best_scores, k, dim=1)
                    best_scores, best_indices = keep.values, best_indices.gather(1, keep.indices)
            all_scores.append(best_scores.cpu())
            all_indices.append(best_indices.cpu())
        if not all_scores:
            return torch.empty(0, k), torch.empty(0, k, dtype=torch.long)
        return torch.cat(all_scores), torch.cat(all_indices)


@INDEXES.register("faiss")
class FaissIndex(VectorIndex):
    """Approximate (or exact ``flat``) search with faiss (``pip install graphalign[faiss]``).

    Example:
        >>> index = FaissIndex("hnsw", m=32)  # doctest: +SKIP

    Args:
        kind: ``"flat"`` (exact), ``"hnsw"`` (graph-based ANN) or ``"ivf"``.
        m: HNSW neighbours per node.
        ef_search: HNSW search breadth (higher: better recall, slower).
        ef_construction: HNSW build breadth.
        nlist: IVF cells; ``nprobe``: cells visited per query.
    """

    def __init__(
        self, kind: str = "hnsw", m: int = 32, ef_search: int = 128, ef_construction: int = 200, nlist: int = 1024, nprobe: int = 32
    ) -> None:
        try:
            import faiss
        except ImportError as error:
            raise GraphAlignError("the faiss index needs faiss: pip install 'graphalign[faiss]' (or faiss-cpu)") from error
        if kind not in ("flat", "hnsw", "ivf"):
            raise GraphAlignError(f"unknown faiss index kind {kind!r}; choose flat, hnsw or ivf")
        self._faiss = faiss
        self.kind, self.m, self.ef_search, self.ef_construction = kind, m, ef_search, ef_construction
        self.nlist, self.nprobe = nlist, nprobe
        self._index: Any = None
        self._count = 0

    def _create(self, dim: int, train: torch.Tensor) -> Any:
        faiss = self._faiss
        if self.kind == "flat":
            return faiss.IndexFlatIP(dim)
        if self.kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, self.m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = self.ef_construction
            index.hnsw.efSearch = self.ef_search
            return index
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, min(self.nlist, max(1, train.size(0) // 39)), faiss.METRIC_INNER_PRODUCT)
        index.train(train.numpy())
        index.nprobe = self.nprobe
        self._quantizer = quantizer  # the IVF index does not own it: keep it alive
        return index

    def add(self, vectors: torch.Tensor) -> None:
        vectors = F.normalize(vectors.detach().float(), dim=-1).cpu().contiguous()
        if self._index is None:
            self._index = self._create(vectors.size(1), vectors)
        self._index.add(vectors.numpy())
        self._count += vectors.size(0)

    def __len__(self) -> int:
        return self._count

    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        k = min(k, len(self))
        queries = F.normalize(queries.detach().float(), dim=-1).cpu().contiguous()
        scores, indices = self._index.search(queries.numpy(), k)
        return torch.from_numpy(scores), torch.from_numpy(indices).long()


def build_index(spec: str | VectorIndex = "exact", kwargs: dict[str, Any] | None = None) -> VectorIndex:
    """An index by registered name (``exact``, ``faiss``) and keyword arguments."""
    return INDEXES.build(spec, kwargs)
