"""Vector indexes for nearest-neighbour search in the shared space.

``exact`` scans every vector with batched matrix products (the default);
``faiss`` wraps a faiss index (optional extra ``graphalign[faiss]``) and
``usearch`` a usearch HNSW index (``pip install graphalign[usearch]``) for large
collections. All return the same ``(scores, indices)`` results; a result slot
with no vector (fewer than ``k`` found) has index ``-1``.
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

__all__ = ["VectorIndex", "ExactIndex", "FaissIndex", "UsearchIndex", "INDEXES", "build_index"]


class VectorIndex(abc.ABC):
    """Inner-product search over L2-normalised vectors (= cosine similarity)."""

    @abc.abstractmethod
    def add(self, vectors: torch.Tensor) -> None:
        """Adds vectors; their row numbers (in order of addition) are the result indices.

        Shapes:
            - vectors: ``(N, d)``, a tensor or a NumPy array
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


def _tensor(vectors: Any, what: str) -> torch.Tensor:
    """``vectors`` as a tensor: a tensor, or a NumPy array (shared, not copied)."""
    if isinstance(vectors, torch.Tensor):
        return vectors
    if type(vectors).__module__ == "numpy" and hasattr(vectors, "shape"):
        return torch.from_numpy(vectors)
    raise GraphAlignError(f"{what} must be a torch.Tensor or a NumPy array (n, d), got {type(vectors).__name__}")


def _prepare(vectors: torch.Tensor, what: str, dim: int | None) -> torch.Tensor:
    """Checks a ``(n, d)`` batch (a tensor or a NumPy array) and L2-normalises it as float32."""
    vectors = _tensor(vectors, what)
    if vectors.dim() != 2:
        raise GraphAlignError(f"{what} must be a 2-d tensor (n, d), got shape {tuple(vectors.shape)}")
    if dim is not None and vectors.size(1) != dim:
        raise GraphAlignError(f"{what} have dimension {vectors.size(1)}, the index holds {dim}-d vectors")
    return F.normalize(vectors.detach().float(), dim=-1)


@INDEXES.register("exact")
class ExactIndex(VectorIndex):
    """Exact search: ``queries @ vectors.T`` in blocks, with a running top-k.

    The vectors are stored transposed, as one ``(d, N)`` float32 matrix, so that
    scoring a query streams memory in order (on a CPU about twice as fast as the
    ``(N, d)`` layout for one query: near memory bandwidth); a batch of queries
    is one matrix product per block. :meth:`add` grows the matrix geometrically,
    so many small additions stay cheap. Memory for scores stays at
    ``query_batch x block_size`` whatever the collection size.

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
        if block_size < 1 or query_batch < 1:
            raise GraphAlignError(f"block_size and query_batch must be positive, got {block_size} and {query_batch}")
        self.block_size, self.query_batch = int(block_size), int(query_batch)
        self.device = torch.device(device)
        self._columns = torch.empty(0, 0, device=self.device)  # (d, capacity): vector i is column i
        self._count = 0

    @property
    def vectors(self) -> torch.Tensor:
        """The stored, normalised vectors, as a view of the transposed matrix (do not modify).

        Shapes:
            - output: ``(N, d)``
        """
        return self._columns[:, : self._count].T

    @property
    def dim(self) -> int | None:
        """The vector size, or ``None`` before the first :meth:`add`."""
        return self._columns.size(0) if self._count else None

    def add(self, vectors: torch.Tensor) -> None:
        vectors = _prepare(vectors, "vectors", self.dim).to(self.device)  # (n, d)
        n = vectors.size(0)
        if self._count == 0:
            self._columns, self._count = vectors.T.contiguous(), n  # (d, n)
            return
        if self._count + n > self._columns.size(1):  # grow by half at least: amortised O(1) per vector
            capacity = max(self._count + n, self._columns.size(1) * 3 // 2)
            columns = torch.empty(self._columns.size(0), capacity, device=self.device)  # (d, capacity)
            columns[:, : self._count] = self._columns[:, : self._count]
            self._columns = columns
        self._columns[:, self._count : self._count + n] = vectors.T
        self._count += n

    def __len__(self) -> int:
        return self._count

    @torch.no_grad()
    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        queries = _tensor(queries, "queries")
        k = max(0, min(k, len(self)))
        queries = _prepare(queries, "queries", self.dim).to(self.device)  # (Q, d)
        scores = torch.empty(queries.size(0), k)
        indices = torch.empty(queries.size(0), k, dtype=torch.long)
        if k == 0:
            return scores, indices
        for q_start in range(0, queries.size(0), self.query_batch):
            q = queries[q_start : q_start + self.query_batch]  # (B, d)
            top_scores, top_indices = self._search_batch(q, k)
            scores[q_start : q_start + q.size(0)] = top_scores.cpu()
            indices[q_start : q_start + q.size(0)] = top_indices.cpu()
        return scores, indices

    def _search_batch(self, q: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-k of one query batch over all blocks: ``(B, k)`` scores and indices."""
        n = self._count
        if n <= self.block_size:  # one block: one product, one top-k
            return torch.topk(q @ self._columns[:, :n], k, dim=1)  # (B, N) -> (B, k)
        block_scores, block_indices = [], []
        for start in range(0, n, self.block_size):
            scores = q @ self._columns[:, start : min(start + self.block_size, n)]  # (B, block)
            top = torch.topk(scores, min(k, scores.size(1)), dim=1)
            block_scores.append(top.values)
            block_indices.append(top.indices + start)
        best = torch.topk(torch.cat(block_scores, dim=1), k, dim=1)  # over (B, blocks * k) candidates
        return best.values, torch.cat(block_indices, dim=1).gather(1, best.indices)

    def __repr__(self) -> str:
        return (
            f"ExactIndex(n={len(self)}, dim={self.dim}, block_size={self.block_size}, "
            f"query_batch={self.query_batch}, device={str(self.device)!r})"
        )


@INDEXES.register("faiss", requires="graphalign[faiss]")
class FaissIndex(VectorIndex):
    """Approximate (or exact ``flat``) search with faiss (``pip install graphalign[faiss]``).

    The defaults are tuned for recall@10 against exact search of 0.95 or more on
    clustered 384-d embeddings of 10^5 and 10^6 vectors
    (``benchmarks/query_latency.py``, results in ``benchmarks/results/``); change
    ``ef_search`` or ``nprobe`` (also later, with :meth:`set_search_params`) to
    trade recall for latency. HNSW is the better choice for large collections:
    IVF needs to visit a quarter of its cells for that recall at 10^6.

    Example:
        >>> index = FaissIndex("hnsw", m=32)  # doctest: +SKIP
        >>> index.set_search_params(ef_search=256)  # doctest: +SKIP

    Args:
        kind: ``"flat"`` (exact), ``"hnsw"`` (graph-based ANN) or ``"ivf"``.
        m: HNSW neighbours per node.
        ef_search: HNSW search breadth (higher: better recall, slower).
        ef_construction: HNSW build breadth (higher: better graph, slower build).
        nlist: IVF cells (at most one per 39 vectors of the first :meth:`add`).
        nprobe: IVF cells visited per query (at most ``nlist``).
    """

    KINDS = ("flat", "hnsw", "ivf")

    def __init__(
        self,
        kind: str = "hnsw",
        m: int = 32,
        ef_search: int = 128,
        ef_construction: int = 40,
        nlist: int = 1024,
        nprobe: int = 256,
    ) -> None:
        try:
            import faiss
        except ImportError as error:
            raise GraphAlignError(
                "the faiss index needs faiss: pip install 'graphalign[faiss]' (or faiss-cpu)"
            ) from error
        if kind not in self.KINDS:
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
        index = faiss.IndexIVFFlat(
            quantizer, dim, min(self.nlist, max(1, train.size(0) // 39)), faiss.METRIC_INNER_PRODUCT
        )
        index.train(train.numpy())
        index.nprobe = self.nprobe
        self._quantizer = quantizer  # the IVF index does not own it: keep it alive
        return index

    def set_search_params(self, ef_search: int | None = None, nprobe: int | None = None) -> None:
        """Changes the search breadth of a built index (no rebuild).

        Args:
            ef_search: New HNSW ``efSearch``.
            nprobe: New IVF ``nprobe``.
        """
        if ef_search is not None:
            self.ef_search = int(ef_search)
        if nprobe is not None:
            self.nprobe = int(nprobe)
        if self._index is not None and self.kind == "hnsw":
            self._index.hnsw.efSearch = self.ef_search
        if self._index is not None and self.kind == "ivf":
            self._index.nprobe = self.nprobe

    def add(self, vectors: torch.Tensor) -> None:
        vectors = _prepare(vectors, "vectors", self._index.d if self._index is not None else None).cpu().contiguous()
        if self._index is None:
            self._index = self._create(vectors.size(1), vectors)
        self._index.add(vectors.numpy())
        self._count += vectors.size(0)

    def __len__(self) -> int:
        return self._count

    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        queries = _tensor(queries, "queries")
        k = max(0, min(k, len(self)))
        if k == 0:
            return torch.empty(queries.size(0), 0), torch.empty(queries.size(0), 0, dtype=torch.long)
        queries = _prepare(queries, "queries", self._index.d).cpu().contiguous()
        scores, indices = self._index.search(queries.numpy(), k)
        return torch.from_numpy(scores), torch.from_numpy(indices).long()

    def __repr__(self) -> str:
        params = {
            "flat": "",
            "hnsw": f", m={self.m}, ef_search={self.ef_search}, ef_construction={self.ef_construction}",
            "ivf": f", nlist={self.nlist}, nprobe={self.nprobe}",
        }[self.kind]
        return f"FaissIndex(kind={self.kind!r}, n={len(self)}{params})"


@INDEXES.register("usearch", requires="graphalign[usearch]")
class UsearchIndex(VectorIndex):
    """Approximate search with a usearch HNSW index (``pip install graphalign[usearch]``).

    Example:
        >>> index = UsearchIndex(connectivity=32, expansion_search=128)  # doctest: +SKIP

    Args:
        connectivity: HNSW neighbours per node.
        expansion_add: Build breadth (higher: better graph, slower build).
        expansion_search: Search breadth (higher: better recall, slower).
        dtype: Storage of the vectors: ``"f32"``, or ``"f16"`` / ``"i8"`` to save memory.
    """

    def __init__(
        self, connectivity: int = 32, expansion_add: int = 40, expansion_search: int = 128, dtype: str = "f32"
    ) -> None:
        try:
            from usearch.index import Index
        except ImportError as error:
            raise GraphAlignError("the usearch index needs usearch: pip install graphalign[usearch]") from error
        self._Index = Index
        self.connectivity, self.expansion_add, self.expansion_search, self.dtype = (
            connectivity,
            expansion_add,
            expansion_search,
            dtype,
        )
        self._index: Any = None
        self._count = 0

    def set_search_params(self, expansion_search: int | None = None) -> None:
        """Changes the search breadth of a built index (no rebuild)."""
        if expansion_search is not None:
            self.expansion_search = int(expansion_search)
            if self._index is not None:
                self._index.expansion_search = self.expansion_search

    def add(self, vectors: torch.Tensor) -> None:
        import numpy as np

        vectors = _prepare(vectors, "vectors", self._index.ndim if self._index is not None else None).cpu().contiguous()
        if self._index is None:
            self._index = self._Index(
                ndim=vectors.size(1),
                metric="ip",
                dtype=self.dtype,
                connectivity=self.connectivity,
                expansion_add=self.expansion_add,
                expansion_search=self.expansion_search,
            )
        keys = np.arange(self._count, self._count + vectors.size(0), dtype=np.uint64)
        self._index.add(keys, vectors.numpy())
        self._count += vectors.size(0)

    def __len__(self) -> int:
        return self._count

    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        import numpy as np

        queries = _tensor(queries, "queries")
        k = max(0, min(k, len(self)))
        scores = torch.full((queries.size(0), k), float("-inf"))
        indices = torch.full((queries.size(0), k), -1, dtype=torch.long)
        if k == 0 or queries.size(0) == 0:
            return scores, indices
        queries = _prepare(queries, "queries", self._index.ndim).cpu().contiguous()
        matches = self._index.search(queries.numpy(), k)
        keys = np.atleast_2d(matches.keys)  # (Q, k); one query gives 1-d results
        distances = np.atleast_2d(matches.distances)
        counts = np.atleast_1d(getattr(matches, "counts", keys.shape[1]))
        for row, count in enumerate(counts.tolist()):
            count = min(int(count), k)
            indices[row, :count] = torch.from_numpy(keys[row, :count].astype(np.int64))
            scores[row, :count] = torch.from_numpy(
                1.0 - distances[row, :count].astype(np.float32)
            )  # ip distance = 1 - dot
        return scores, indices

    def __repr__(self) -> str:
        return (
            f"UsearchIndex(n={len(self)}, connectivity={self.connectivity}, expansion_add={self.expansion_add}, "
            f"expansion_search={self.expansion_search}, dtype={self.dtype!r})"
        )


def build_index(spec: str | VectorIndex = "exact", kwargs: dict[str, Any] | None = None) -> VectorIndex:
    """An index by registered name (``exact``, ``faiss``, ``usearch``) and keyword arguments."""
    return INDEXES.build(spec, kwargs)
