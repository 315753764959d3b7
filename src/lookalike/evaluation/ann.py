"""Quality of approximate nearest-neighbour answers against exact ground truth.

Distances are recomputed here from the vectors (an index's own distances are not trusted), and
ties count as hits (ann-benchmarks' rule). Besides recall@k, the metrics of the source report
(`001_4b5ee9de1fffadc1.txt`): *chosen position* (true rank of the first answer, 0 = exact),
*in 10 best* (answers among the true 10 nearest) and DCG with ``rel = 1 / (1 + true rank)``
divided by ``log2(2 + answer position)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_REL_EPS = 1e-5  # relative slack when comparing recomputed float32 distances


@dataclass(frozen=True)
class GroundTruth:
    """Exact neighbours of each query: ids and Euclidean distances, ``(nq, depth)`` nearest first."""

    ids: np.ndarray
    distances: np.ndarray

    @property
    def depth(self) -> int:
        return int(self.ids.shape[1])


def ground_truth(data: np.ndarray, queries: np.ndarray, depth: int = 100, chunk: int = 0) -> GroundTruth:
    """Brute-force neighbours (float64 distances, so ties and rounding never decide)."""
    x = np.asarray(data, dtype=np.float32)
    chunk = chunk or max(8, min(256, 50_000_000 // max(len(x), 1)))  # bounds the (chunk, n) temporaries
    xn = np.einsum("ij,ij->i", x, x, dtype=np.float64)
    depth = min(depth, len(x))
    ids = np.empty((len(queries), depth), dtype=np.int64)
    dist = np.empty((len(queries), depth), dtype=np.float64)
    for s in range(0, len(queries), chunk):
        q = np.asarray(queries[s : s + chunk], dtype=np.float32)
        d2 = np.einsum("ij,ij->i", q, q, dtype=np.float64)[:, None] + xn[None] - 2.0 * (q @ x.T).astype(np.float64)
        part = np.argpartition(d2, depth - 1, axis=1)[:, :depth]
        # exact re-ranking of the candidates in float64
        diff = x[part].astype(np.float64) - q[:, None, :].astype(np.float64)
        exact = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
        order = np.argsort(exact, axis=1, kind="stable")
        ids[s : s + len(q)] = np.take_along_axis(part, order, axis=1)
        dist[s : s + len(q)] = np.take_along_axis(exact, order, axis=1)
    return GroundTruth(ids, dist)


def true_distances(data: np.ndarray, queries: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Euclidean distances of the answered ids, recomputed; inf where the id is -1."""
    safe = np.where(ids >= 0, ids, 0)
    diff = np.asarray(data, dtype=np.float64)[safe] - np.asarray(queries, dtype=np.float64)[:, None, :]
    d = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    d[ids < 0] = np.inf
    return d


def true_ranks(answer_dist: np.ndarray, gt: GroundTruth) -> np.ndarray:
    """0-based true rank of each answer (how many points are strictly nearer); capped at the depth."""
    tol = gt.distances * _REL_EPS + 1e-9
    lower = gt.distances - tol
    return np.stack([np.searchsorted(lower[i], answer_dist[i], side="left") for i in range(len(gt.ids))])


def recall_at(answer_dist: np.ndarray, gt: GroundTruth, k: int) -> float:
    """Mean fraction of the first k answers within the true k-th distance (ties count)."""
    k = min(k, gt.depth, answer_dist.shape[1])
    limit = gt.distances[:, k - 1 : k] * (1 + _REL_EPS) + 1e-9
    return float(np.mean(np.sum(answer_dist[:, :k] <= limit, axis=1) / k))


def source_metrics(answer_dist: np.ndarray, gt: GroundTruth, k: int) -> dict[str, float]:
    """The source report's metrics for answers of size k: chosen position, in 10 best, DCG."""
    a = answer_dist[:, :k]
    ranks = true_ranks(a, gt)
    chosen = ranks[:, 0]
    top = min(k, 10)
    in10 = np.sum(ranks[:, :top] < 10, axis=1)
    rel = np.where(np.isfinite(a), 1.0 / (1.0 + ranks), 0.0)
    dcg = np.sum(rel / np.log2(2.0 + np.arange(k))[None, :], axis=1)
    return {"chosen_position": float(chosen.mean()), "in_10_best": float(in10.mean()), "dcg": float(dcg.mean())}


def answer_quality(data: np.ndarray, queries: np.ndarray, ids: np.ndarray, gt: GroundTruth,
                   ks: tuple[int, ...] = (1, 5, 10, 100)) -> dict[str, float]:
    """recall@1/10/100 and the source report's metrics for each k in ``ks`` from one ``(nq, max k)`` answer."""
    dup = np.array([len(set(r[r >= 0].tolist())) != int(np.sum(r >= 0)) for r in ids])
    if dup.any():
        raise ValueError("an index answered the same id twice for one query")
    d = true_distances(data, queries, ids)
    out: dict[str, float] = {}
    for k in (1, 10, 100):
        if k <= ids.shape[1]:
            out[f"recall@{k}"] = recall_at(d, gt, k)
    for k in ks:
        if k <= ids.shape[1]:
            for name, v in source_metrics(d, gt, k).items():
                out[f"{name}@{k}"] = v
    return out
