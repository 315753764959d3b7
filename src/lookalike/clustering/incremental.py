"""Add faces to an existing clustering without re-clustering everything.

The new faces are clustered among themselves with the same recipe (their own k-NN graph, edges
under the threshold, the same algorithm); then each new group joins the existing cluster it has the
strongest links to — the summed edge probability from its faces to that cluster's faces among
their k nearest existing neighbours — or stays a new cluster when it has no link under the
threshold. Existing faces never move, so names and manual edits are kept.
"""

from __future__ import annotations

import time

import numpy as np

from lookalike.clustering import algorithms
from lookalike.clustering.engine import Clustering, ClusterParams
from lookalike.clustering.graph import edges_under, knn_graph, query_graph
from lookalike.clustering.weights import edge_weights
from lookalike.index import Index


def assign(new_vectors: np.ndarray, index: Index, cluster_of: np.ndarray,
           params: ClusterParams | None = None) -> tuple[np.ndarray, dict[str, float]]:
    """Cluster labels for new faces: ``>= 0`` an existing cluster, ``< 0`` a new cluster (−1, −2, …).

    ``index`` holds the existing faces (and may hold the new ones too) and ``cluster_of[id]`` is the
    cluster of the face with that index id, −1 for faces not clustered yet (they are ignored).
    """
    params = params or ClusterParams()
    vecs = np.ascontiguousarray(new_vectors, dtype=np.float32)
    m = len(vecs)
    if m == 0:
        return np.empty(0, np.int64), {}
    t0 = time.perf_counter()
    # the new faces' own graph and its clustering
    inner = knn_graph(vecs, min(params.k, max(m - 1, 1)))
    i, j, d = edges_under(inner, params.threshold)
    groups = algorithms.get(params.algorithm)(m, i, j, edge_weights(d, params.weighting, params.same),
                                              **params.options)
    t1 = time.perf_counter()
    # links to existing faces, summed per (group, existing cluster)
    outer = query_graph(index, vecs, params.k)
    ok = (outer.ids >= 0) & (outer.dist < params.threshold)
    ok[ok] = cluster_of[outer.ids[ok]] >= 0  # neighbours not yet clustered (other new faces) do not count
    rows = np.repeat(np.arange(m), outer.k).reshape(m, outer.k)[ok]
    target = cluster_of[outer.ids[ok]]
    w = edge_weights(outer.dist[ok], params.weighting, params.same)
    out = -(groups + 1)
    if len(rows):
        key = groups[rows] * (int(cluster_of.max()) + 1) + target
        uniq, inv = np.unique(key, return_inverse=True)
        total = np.bincount(inv.reshape(-1), weights=w)
        g_of, c_of = uniq // (int(cluster_of.max()) + 1), uniq % (int(cluster_of.max()) + 1)
        order = np.lexsort((-total, g_of))  # per group, strongest cluster first
        first = order[np.r_[True, g_of[order][1:] != g_of[order][:-1]]]
        best = dict(zip(g_of[first].tolist(), c_of[first].tolist()))
        out = np.array([best.get(int(g), -(int(g) + 1)) for g in groups], dtype=np.int64)
    t2 = time.perf_counter()
    return out, {"new_graph": t1 - t0, "attach": t2 - t1, "total": t2 - t0}


def extend(old: Clustering, old_vectors: np.ndarray, new_vectors: np.ndarray, index: Index,
           params: ClusterParams | None = None) -> tuple[np.ndarray, dict[str, float]]:
    """Labels of old + new faces, old faces keeping theirs, new clusters numbered after the old ones."""
    lab, times = assign(new_vectors, index, old.labels, params)
    fresh = lab < 0
    if fresh.any():
        _, inv = np.unique(lab[fresh], return_inverse=True)
        lab = lab.copy()
        lab[fresh] = old.count + inv.reshape(-1)
    return np.concatenate([old.labels, lab]), times
