"""Add faces to an existing clustering without re-clustering everything.

The new faces are clustered among themselves with the same recipe (their own k-NN graph, the same
edge rule, the same algorithm); then each new group joins the existing cluster it has the strongest
links to — the summed edge weight from its faces to that cluster's faces among their k nearest
existing neighbours, by the same edge rule — or stays a new cluster when it has no such link.
Existing faces never move, so names and manual edits are kept.
"""

from __future__ import annotations

import time

import numpy as np

from lookalike.clustering import algorithms
from lookalike.clustering.edges import select
from lookalike.clustering.engine import Clustering, ClusterParams
from lookalike.clustering.graph import KnnGraph, knn_graph, query_graph
from lookalike.clustering.weights import edge_weights
from lookalike.index import Index


def assign(new_vectors: np.ndarray, index: Index, cluster_of: np.ndarray, scale_of: np.ndarray,
           median_scale: float, params: ClusterParams | None = None) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Cluster labels for new faces: ``>= 0`` an existing cluster, ``< 0`` a new cluster (−1, −2, …),
    and each new face's local scale.

    ``index`` holds the existing faces (it may hold the new ones too); ``cluster_of[id]`` and
    ``scale_of[id]`` are the cluster and local scale of the face with that index id, cluster −1 for
    faces not clustered yet (they are ignored). ``median_scale`` is the clustering's median scale.
    """
    params = params or ClusterParams()
    vecs = np.ascontiguousarray(new_vectors, dtype=np.float32)
    m = len(vecs)
    if m == 0:
        return np.empty(0, np.int64), np.empty(0), {}
    t0 = time.perf_counter()
    inner = knn_graph(vecs, params.k) if m > 1 else KnnGraph(np.full((1, params.k), -1), np.full((1, params.k), np.inf, np.float32))
    outer = query_graph(index, vecs, params.k)
    known = (outer.ids >= 0) & (cluster_of[np.maximum(outer.ids, 0)] >= 0)
    outer_d = np.where(known, outer.dist, np.inf)
    # a new face's local scale, as the clustering measured it for the others: with two passes the
    # distance to its outside_rank-th existing neighbour outside the cluster of its nearest one, else
    # its k-th nearest among the existing and the other new faces
    if params.local and params.passes >= 2:
        near = cluster_of[np.maximum(outer.ids[:, 0], 0)]
        other = known & (cluster_of[np.maximum(outer.ids, 0)] != near[:, None])
        d_other = np.sort(np.where(other, outer.dist, np.inf), axis=1)
        pick = d_other[:, min(params.outside_rank, outer.k) - 1].astype(np.float64)
    else:
        pick = np.sort(np.concatenate([inner.dist, outer_d], axis=1), axis=1)[:, params.k - 1].astype(np.float64)
    scale = np.where(np.isfinite(pick) & (pick > 0), pick, median_scale)
    e = select(inner, params.threshold, params.strict, params.loose, scale, median_scale)
    groups = algorithms.get(params.algorithm)(m, e.i, e.j, edge_weights(e.dn, params.weighting, params.same),
                                              **params.options)
    t1 = time.perf_counter()
    # links to existing faces by the same rule, summed per (new group, existing cluster)
    rows = np.repeat(np.arange(m), outer.k).reshape(m, outer.k)[known]
    ids = outer.ids[known]
    d = outer.dist[known].astype(np.float64)
    if params.local:
        dn = d * median_scale / np.sqrt(scale[rows] * scale_of[ids])
        ok = (d < params.strict) | ((d < params.loose) & (dn < params.threshold))
    else:
        dn = d
        ok = d < params.threshold
    rows, target, w = rows[ok], cluster_of[ids[ok]], edge_weights(dn[ok], params.weighting, params.same)
    out = -(groups + 1)
    if len(rows):
        base = int(cluster_of.max()) + 1
        key = groups[rows] * base + target
        uniq, inv = np.unique(key, return_inverse=True)
        total = np.bincount(inv.reshape(-1), weights=w)
        g_of, c_of = uniq // base, uniq % base
        order = np.lexsort((-total, g_of))  # per group, strongest cluster first
        first = order[np.r_[True, g_of[order][1:] != g_of[order][:-1]]]
        best = dict(zip(g_of[first].tolist(), c_of[first].tolist()))
        out = np.array([best.get(int(g), -(int(g) + 1)) for g in groups], dtype=np.int64)
    t2 = time.perf_counter()
    return out, scale, {"new_graph": t1 - t0, "attach": t2 - t1, "total": t2 - t0}


def extend(old: Clustering, new_vectors: np.ndarray, index: Index,
           params: ClusterParams | None = None) -> tuple[np.ndarray, dict[str, float]]:
    """Labels of old + new faces (``index`` holds the old faces under ids 0..n-1): old faces keep
    theirs, new clusters are numbered after the old ones."""
    lab, _, times = assign(new_vectors, index, old.labels, old.scale, old.median_scale, params)
    fresh = lab < 0
    if fresh.any():
        _, inv = np.unique(lab[fresh], return_inverse=True)
        lab = lab.copy()
        lab[fresh] = old.count + inv.reshape(-1)
    return np.concatenate([old.labels, lab]), times
