"""Identity retrieval: every labelled photo queries the others; NDCG, mAP, rank-1/rank-5 and the CMC curve.

Relevance is binary: a gallery item is relevant to a query when it shows the same identity. The
query itself is never part of its own ranking. Queries whose identity has no other photo are
skipped (and counted). Positions are 1-based: the nearest other item is at position 1.

* NDCG   = DCG / IDCG with DCG = Σ over relevant items of 1 / log2(position + 1) over the *whole*
  ranking, and IDCG the same sum with the relevant items at positions 1..m.
* AP     = mean over the relevant items, taken in ranked order, of (how many relevant items are at or
  above it) / (its position); mAP is the mean AP over queries.
* CMC(k) = fraction of queries whose first relevant item is at position ≤ k; rank-1 = CMC(1).

**The source notebook's bug.** ``000_40171e8d6fff698e.txt`` computes::

    ranks = np.argsort(dists)                      # ranks[p] = the item AT position p
    relevant_ranks = ranks[labels == labels[idx]][1:]
    dcg = np.sum(1 / np.log2(1 + relevant_ranks))

``argsort`` returns the order (which item sits at each position), not each item's position. Indexing
it with the boolean mask of the relevant items' *indices* picks the ids of whatever items happen to
sit at positions equal to those indices — unrelated items whose ids are spread uniformly over
0..N — and uses those ids as if they were positions. ``[1:]`` meant to drop the query itself but
drops whichever entry comes first. The result measures nothing about the model: two different
models both score ≈ 0.18 on CelebA, roughly what a random ranking would get. The correct positions
are the *inverse* permutation, ``pos = np.empty(N, int); pos[ranks] = np.arange(N)``, read at the
relevant items: ``pos[relevant]`` (with the query, at position 0, removed). This module computes
exactly that, without a full sort per query: a relevant item's position is the number of items at
least as near as it (read with ``searchsorted`` from a sorted copy of the items no farther than the
farthest relevant one), ties with other items counted against it. ``tests/evaluation/test_retrieval.py`` checks it against hand-worked cases
and against the argsort-inverse definition.

Rankings come from one BLAS matrix product per chunk of queries (squared Euclidean distance less the
query's own norm: the same order) and a partial row sort; 1,000 queries against 202,599 × 128 take a few
seconds on two cores (``benchmarks/retrieval_speed.py``).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lookalike.errors import LookalikeError

#: queries per BLAS product: bounds the (chunk, n) float32 distance block (128 × 202,599 ≈ 100 MB)
DEFAULT_CHUNK = 128
CMC_MAX = 50


@dataclass
class RetrievalResult:
    """Per-query metrics (only queries with at least one relevant item) and their means."""

    ndcg: np.ndarray
    ap: np.ndarray
    first: np.ndarray  # 1-based position of the first relevant item per query
    queries: np.ndarray  # indices of the queries scored
    skipped: int  # queries with no relevant item
    cmc_max: int = CMC_MAX
    extra: dict[str, Any] = field(default_factory=dict)

    def cmc(self, max_rank: int | None = None) -> np.ndarray:
        """``cmc[k-1]`` = fraction of queries whose first relevant item is at position ≤ k."""
        m = max_rank or self.cmc_max
        if len(self.first) == 0:
            return np.zeros(m)
        counts = np.bincount(np.minimum(self.first, m + 1) - 1, minlength=m + 1)[:m]
        return np.cumsum(counts) / len(self.first)

    def summary(self) -> dict[str, Any]:
        c = self.cmc()
        return {
            "queries": len(self.queries),
            "skipped_no_relevant": int(self.skipped),
            "ndcg": float(self.ndcg.mean()) if len(self.ndcg) else float("nan"),
            "map": float(self.ap.mean()) if len(self.ap) else float("nan"),
            "rank1": float(c[0]),
            "rank5": float(c[min(4, len(c) - 1)]),
            "rank10": float(c[min(9, len(c) - 1)]),
            "cmc": c.tolist(),
            **self.extra,
        }


def encode_labels(labels: Any) -> np.ndarray:
    """Any labels (strings, ints) → dense int64 codes."""
    return np.unique(np.asarray(labels), return_inverse=True)[1].astype(np.int64).reshape(-1)


def _groups(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Items sorted by label and the start offset of each label's run (for O(1) member lookup)."""
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(codes.max() + 2 if len(codes) else 1))
    return order, starts


def relevant_positions(dist_row: np.ndarray, relevant: np.ndarray, sorted_row: np.ndarray | None = None) -> np.ndarray:
    """1-based positions, in ascending order, of the ``relevant`` items in the ranking of ``dist_row``.

    ``dist_row`` must already exclude the query (e.g. ``inf`` at its own index, which sorts last).
    Ties: an item at the same distance as a relevant one is counted as ranked before it, and
    relevant items tied with each other take consecutive positions (the pessimistic order).
    """
    s = np.sort(dist_row) if sorted_row is None else sorted_row
    rd = np.sort(dist_row[relevant])
    at_or_before = np.searchsorted(s, rd, side="right")  # items with distance ≤ each relevant one
    later_ties = np.searchsorted(rd, rd, side="right") - 1 - np.arange(len(rd))
    return at_or_before - later_ties


def _scores(pos: np.ndarray) -> tuple[float, float]:
    """(NDCG, AP) from the 1-based ascending positions of a query's relevant items."""
    m = len(pos)
    dcg = np.sum(1.0 / np.log2(pos + 1.0))
    idcg = np.sum(1.0 / np.log2(np.arange(2, m + 2, dtype=np.float64)))
    ap = np.mean(np.arange(1, m + 1) / pos)
    return float(dcg / idcg), float(ap)


def retrieval(
    vectors: np.ndarray,
    labels: Any,
    queries: np.ndarray | None = None,
    chunk: int = DEFAULT_CHUNK,
    cmc_max: int = CMC_MAX,
    threads: int = 0,
) -> RetrievalResult:
    """Leave-one-out retrieval over a labelled set: each query ranks every *other* vector.

    ``queries`` are indices into ``vectors`` (default: all). Exact: one BLAS product per chunk of
    queries; per query, a sort of the items up to its farthest relevant one and ``searchsorted``,
    on ``threads`` threads (0: one per core).
    """
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    codes = encode_labels(labels)
    if x.ndim != 2 or len(codes) != len(x):
        raise LookalikeError(f"need one label per vector: {len(codes)} labels, vectors of shape {x.shape}")
    q_idx = np.arange(len(x)) if queries is None else np.asarray(queries, dtype=np.int64).reshape(-1)
    if len(q_idx) and (q_idx.min() < 0 or q_idx.max() >= len(x)):
        raise LookalikeError("query indices out of range")
    order, starts = _groups(codes)
    # ‖q − x‖² − ‖q‖² = ‖x‖² − 2 q·x orders a query's row exactly like the distance; with x
    # augmented by a ‖x‖² column and q by 1, one BLAS product gives it with no extra pass
    xa = np.empty((len(x), x.shape[1] + 1), dtype=np.float32)
    xa[:, :-1] = x
    xa[:, -1] = np.einsum("ij,ij->i", x, x)
    results: list[tuple[int, np.ndarray] | None] = []

    def one(row: np.ndarray, q: int) -> tuple[int, np.ndarray] | None:
        members = order[starts[codes[q]] : starts[codes[q] + 1]]
        rel = members[members != q]
        if len(rel) == 0:
            return None
        # only items up to the farthest relevant one can change a relevant item's position:
        # sort just those (a short list for a good model, the whole row at worst)
        near = row[row <= row[rel].max()]
        near.sort()  # NumPy releases the GIL here, so rows run on every core
        return q, relevant_positions(row, rel, near)

    with ThreadPoolExecutor(max(1, min(threads or (os.cpu_count() or 1), 8))) as pool:
        for s in range(0, len(q_idx), chunk):
            qi = q_idx[s : s + chunk]
            qa = np.empty((len(qi), xa.shape[1]), dtype=np.float32)
            qa[:, :-1] = -2.0 * x[qi]
            qa[:, -1] = 1.0
            d = qa @ xa.T  # (c, n) BLAS
            d[np.arange(len(qi)), qi] = np.inf  # the query never ranks itself
            results.extend(pool.map(one, d, qi.tolist()))
    nd, ap, first, scored = [], [], [], []
    for res in results:
        if res is None:
            continue
        q, pos = res
        n_, a_ = _scores(pos)
        nd.append(n_)
        ap.append(a_)
        first.append(int(pos[0]))
        scored.append(q)
    skipped = sum(r is None for r in results)
    return RetrievalResult(np.array(nd), np.array(ap), np.array(first, dtype=np.int64),
                           np.array(scored, dtype=np.int64), skipped, cmc_max)


def retrieval_from_neighbours(
    neighbour_ids: np.ndarray, query_ids: np.ndarray, labels_by_id: dict[int, int], n_relevant: np.ndarray,
    cmc_max: int = CMC_MAX,
) -> RetrievalResult:
    """Truncated metrics from top-k lists (any index, approximate or not): NDCG@k, AP@k, CMC up to k.

    ``neighbour_ids`` is ``(nq, k)`` from ``Index.search`` (``-1`` padding allowed); the query's own
    id is dropped from its list. ``n_relevant[i]`` is how many relevant items query ``i`` has in all;
    IDCG@k and AP@k's denominator use ``min(n_relevant, k)``. Queries with no relevant item are skipped.
    """
    k = neighbour_ids.shape[1] - 1  # one slot was asked for the query itself
    nd, ap, first, scored = [], [], [], []
    skipped = 0
    disc = 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))
    for i, (row, qid) in enumerate(zip(neighbour_ids, query_ids)):
        m = int(n_relevant[i])
        if m == 0:
            skipped += 1
            continue
        row = row[(row != qid) & (row >= 0)][:k]
        want = labels_by_id[int(qid)]
        hits = np.array([labels_by_id.get(int(j), -1) == want for j in row], dtype=bool)
        pos = np.flatnonzero(hits) + 1
        mk = min(m, k)
        nd.append(float(disc[pos - 1].sum() / disc[:mk].sum()))
        ap.append(float((np.arange(1, len(pos) + 1) / pos).sum() / mk) if len(pos) else 0.0)
        first.append(int(pos[0]) if len(pos) else k + 10**6)
        scored.append(int(qid))
    res = RetrievalResult(np.array(nd), np.array(ap), np.array(first, dtype=np.int64),
                          np.array(scored, dtype=np.int64), skipped, min(cmc_max, k))
    res.extra["k"] = k
    return res


def truncated_exact(vectors: np.ndarray, labels: Any, k: int, queries: np.ndarray | None = None) -> RetrievalResult:
    """The same truncated metrics as :func:`retrieval_from_neighbours`, from an exact top-k search."""
    from lookalike.index.exact import ExactIndex

    x = np.ascontiguousarray(vectors, dtype=np.float32)
    codes = encode_labels(labels)
    idx = ExactIndex(x.shape[1])
    idx.add(x, np.arange(len(x)))
    q = np.arange(len(x)) if queries is None else np.asarray(queries)
    _, ids = idx.search(x[q], k + 1)
    counts = np.bincount(codes)
    return retrieval_from_neighbours(ids, q, dict(enumerate(codes.tolist())), counts[codes[q]] - 1)
