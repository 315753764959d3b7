"""The k-nearest-neighbour graph of a set of face vectors, from the project's HNSW index.

Rows are faces in input order; ``ids[i]`` are the positions of face i's neighbours (itself
excluded, -1 where fewer exist) and ``dist[i]`` their Euclidean distances, nearest first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lookalike.index import Index, create_index

#: beam width of the graph's queries (raised to k + 1 when smaller); 64 and 128 cluster LFW alike
DEFAULT_EF = 64
#: the graph's own HNSW build: a throw-away index, queried once per face with a beam of k + 1 ≥ 61, can
#: be sparser (M 8) and cheaper to build (beam 32) than a gallery's; what that saves and what it costs in
#: clustering scores: ``python benchmarks/cluster.py --profile 100000`` (docs/clustering.md)
GRAPH_M = 8
GRAPH_EF_CONSTRUCTION = 32


@dataclass(frozen=True)
class KnnGraph:
    """``k`` nearest neighbours of each of ``n`` vectors (positions, Euclidean distances)."""

    ids: np.ndarray  # (n, k) int64, -1 = none
    dist: np.ndarray  # (n, k) float32, inf where ids is -1

    @property
    def n(self) -> int:
        return int(self.ids.shape[0])

    @property
    def k(self) -> int:
        return int(self.ids.shape[1])


def build_index(vectors: np.ndarray, index: str = "hnsw", ef: int = DEFAULT_EF, **params: object) -> Index:
    """An index of ``vectors`` whose ids are their positions (HNSW: the index parameters of a gallery,
    ``ef_construction = ef``, unless ``params`` say otherwise)."""
    vecs = np.ascontiguousarray(vectors, dtype=np.float32)
    if index == "hnsw":
        params = {"ef_construction": ef, "ef": ef, **params}
    ix = create_index(index, vecs.shape[1], **params)
    ix.add(vecs, np.arange(len(vecs), dtype=np.int64))
    return ix


def knn_graph(vectors: np.ndarray, k: int, index: str = "hnsw", ef: int = DEFAULT_EF,
              M: int = GRAPH_M, ef_construction: int = GRAPH_EF_CONSTRUCTION) -> KnnGraph:
    """Each vector's ``k`` nearest other vectors (HNSW: built with ``M`` and ``ef_construction``,
    searched with all threads in one batch at beam ``max(ef, k + 1)``)."""
    vecs = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(vecs)
    if n == 0:
        return KnnGraph(np.empty((0, k), np.int64), np.empty((0, k), np.float32))
    extra: dict[str, object] = {"M": M, "ef_construction": ef_construction} if index == "hnsw" else {}
    ix = build_index(vecs, index, ef, **extra)
    return query_graph(ix, vecs, k, self_ids=np.arange(n, dtype=np.int64))


def query_graph(ix: Index, queries: np.ndarray, k: int, self_ids: np.ndarray | None = None) -> KnnGraph:
    """``k`` nearest indexed vectors of each query; with ``self_ids`` the query's own id is dropped."""
    kk = min(k + (1 if self_ids is not None else 0), len(ix))
    dist, ids = ix.search(np.ascontiguousarray(queries, dtype=np.float32), kk)
    dist = dist.astype(np.float32, copy=False)
    if self_ids is not None:
        own = ids == self_ids[:, None]
        # drop the query itself (or, if the index missed it, the farthest neighbour)
        drop = np.where(own.any(1), own.argmax(1), kk - 1)
        keep = np.ones_like(own)
        keep[np.arange(len(ids)), drop] = False
        ids = ids[keep].reshape(len(ids), kk - 1)
        dist = dist[keep].reshape(len(ids), kk - 1)
    if ids.shape[1] < k:  # fewer vectors than k
        pad = k - ids.shape[1]
        ids = np.pad(ids, ((0, 0), (0, pad)), constant_values=-1)
        dist = np.pad(dist, ((0, 0), (0, pad)), constant_values=np.inf)
    dist = np.where(ids < 0, np.inf, dist).astype(np.float32)
    return KnnGraph(ids.astype(np.int64), dist)


def edges_under(graph: KnnGraph, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Undirected edges ``(i, j, distance)`` with i < j and distance < threshold, each pair once."""
    rows = np.repeat(np.arange(graph.n, dtype=np.int64), graph.k)
    cols = graph.ids.reshape(-1)
    d = graph.dist.reshape(-1)
    ok = (cols >= 0) & (d < threshold)
    i, j, d = rows[ok], cols[ok], d[ok]
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    key = lo * graph.n + hi
    key, first = np.unique(key, return_index=True)
    return lo[first], hi[first], d[first]
