"""Cluster-level refinement after the graph clustering."""

from __future__ import annotations

import numpy as np

from lookalike.clustering.algorithms import relabel


def sum_by_label(x: np.ndarray, labels: np.ndarray, c: int) -> np.ndarray:
    """``(c, dim)`` float64 sums of the rows of ``x`` per label ``0..c-1`` — one sparse product
    (``np.add.at`` takes seconds on a million rows)."""
    from scipy.sparse import csr_matrix

    n = len(labels)
    onehot = csr_matrix((np.ones(n), (np.asarray(labels, dtype=np.int64), np.arange(n))), shape=(c, n))
    return np.asarray(onehot @ np.asarray(x, dtype=np.float64))


def prototypes(vectors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean vector and size of each cluster ``0..max(labels)``."""
    c = int(labels.max()) + 1 if len(labels) else 0
    sizes = np.bincount(labels, minlength=c)
    sums = sum_by_label(vectors, labels, c)
    return (sums / np.maximum(sizes, 1)[:, None]).astype(np.float32), sizes


def merge_by_prototype(vectors: np.ndarray, labels: np.ndarray, threshold: float) -> np.ndarray:
    """Join clusters whose mean vectors are closer than ``threshold`` (single linkage over prototypes,
    found with an exact search among the prototypes of clusters that have any neighbour that close)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from lookalike.clustering.graph import knn_graph

    protos, _ = prototypes(vectors, labels)
    c = len(protos)
    if c < 2:
        return labels
    g = knn_graph(protos, min(10, c - 1), index="exact")
    rows = np.repeat(np.arange(c), g.k)
    ok = (g.ids.reshape(-1) >= 0) & (g.dist.reshape(-1) < threshold)
    m = coo_matrix((np.ones(ok.sum()), (rows[ok], g.ids.reshape(-1)[ok])), shape=(c, c))
    return relabel(connected_components(m, directed=False)[1][labels])


def average_linkage(vectors: np.ndarray, labels: np.ndarray, pairs: tuple[np.ndarray, np.ndarray],
                    threshold: float, max_rounds: int = 10_000) -> np.ndarray:
    """Join clusters by graph-restricted average linkage on squared distances, in reciprocal rounds.

    The linkage of clusters A and B is the root mean squared distance between their faces,
    ``sqrt(mean ||a - b||²)``, exact and O(dim) from each cluster's count, vector sum and sum of squared
    norms. Only clusters joined by a face pair in ``pairs`` are compared. Each round every cluster finds
    its nearest candidate; mutual nearest pairs under ``threshold`` merge (average linkage is reducible,
    so these rounds make the same merges as the greedy algorithm on the candidate graph).
    """
    _, lab, count, total, sq = _cluster_sums(vectors, labels)
    c = len(count)
    a, b = lab[pairs[0]], lab[pairs[1]]
    parent = np.arange(c)
    limit = threshold * threshold
    for _ in range(max_rounds):
        keep = a != b
        a, b = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
        if len(a) == 0:
            break
        key = np.unique(a * c + b)
        a, b = key // c, key % c
        mean = total / count[:, None]
        d2 = sq[a] / count[a] + sq[b] / count[b] - 2 * np.einsum("ij,ij->i", mean[a], mean[b])
        ok = d2 < limit
        if not ok.any():
            break
        a, b, d2 = a[ok], b[ok], d2[ok]
        # each cluster's nearest candidate (ties: the smaller id)
        ends = np.concatenate([a, b])
        other = np.concatenate([b, a])
        dd = np.concatenate([d2, d2])
        order = np.lexsort((other, dd, ends))
        first = order[np.r_[True, ends[order][1:] != ends[order][:-1]]]
        best = np.full(c, -1)
        best[ends[first]] = other[first]
        mutual = (best[a] == b) & (best[b] == a)
        if not mutual.any():
            break
        ma, mb = a[mutual], b[mutual]  # merge b into a
        count[ma] += count[mb]
        total[ma] += total[mb]
        sq[ma] += sq[mb]
        parent[mb] = ma
        remap = np.arange(c)
        remap[mb] = ma
        a, b = remap[a], remap[b]
    # resolve merge chains (b → a → …)
    root = parent.copy()
    while True:
        nxt = root[root]
        if np.array_equal(nxt, root):
            break
        root = nxt
    return relabel(root[lab])


def prune(vectors: np.ndarray, labels: np.ndarray, threshold: float, min_size: int = 3) -> np.ndarray:
    """Detach faces whose root mean squared distance to the other faces of their cluster is at least
    ``threshold`` (clusters of ``min_size`` or more); each detached face becomes a cluster of one."""
    x, lab, n, total, sq = _cluster_sums(vectors, labels)
    norms = (x * x).sum(1)
    m = n[lab] - 1
    big = n[lab] >= min_size
    safe = np.maximum(m, 1)
    d2 = (sq[lab] - norms) / safe + norms - 2 * np.einsum("ij,ij->i", x, total[lab] - x) / safe
    out = lab.copy()
    off = big & (d2 >= threshold * threshold)
    out[off] = len(n) + np.arange(int(off.sum()))
    return relabel(out)


def rms_spread(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per cluster, the root mean squared distance between two of its faces (0 for clusters of one)."""
    x = np.asarray(vectors, dtype=np.float64)
    c = int(labels.max()) + 1 if len(labels) else 0
    n = np.bincount(labels, minlength=c).astype(np.float64)
    total = sum_by_label(x, labels, c)
    sq = np.bincount(labels, weights=(x * x).sum(1), minlength=c)
    # mean over ordered pairs i != j of ||xi - xj||² = (2 n Σ||x||² - 2 ||Σx||²) / (n (n - 1))
    pair = (2 * n * sq - 2 * (total * total).sum(1)) / np.maximum(n * (n - 1), 1)
    return np.sqrt(np.maximum(pair, 0))


def _cluster_sums(vectors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, ...]:
    """``(vectors as float64, dense labels, count, vector sum, sum of squared norms)`` per cluster."""
    x = np.asarray(vectors, dtype=np.float64)
    lab = relabel(labels)
    c = int(lab.max()) + 1 if len(lab) else 0
    count = np.bincount(lab, minlength=c).astype(np.float64)
    total = sum_by_label(x, lab, c)
    sq = np.bincount(lab, weights=(x * x).sum(1), minlength=c)
    return x, lab, count, total, sq
