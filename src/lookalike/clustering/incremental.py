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


def new_neighbours(graph: KnnGraph, new_ids: np.ndarray) -> KnnGraph:
    """The part of ``graph`` (neighbours by index id) among the new faces, as positions in ``new_ids``,
    nearest first, padded with −1 / inf."""
    order_ids = np.argsort(new_ids)
    sorted_ids = new_ids[order_ids]
    at = np.clip(np.searchsorted(sorted_ids, graph.ids), 0, len(new_ids) - 1)
    is_new = (graph.ids >= 0) & (sorted_ids[at] == graph.ids)
    pos = np.where(is_new, order_ids[at], -1)
    first = np.argsort(~is_new, axis=1, kind="stable")  # new ones first, in distance order
    ids = np.take_along_axis(pos, first, axis=1)
    dist = np.where(ids >= 0, np.take_along_axis(graph.dist, first, axis=1), np.inf).astype(np.float32)
    return KnnGraph(ids.astype(np.int64), dist)


def assign(new_vectors: np.ndarray, index: Index, cluster_of: np.ndarray, scale_of: np.ndarray,
           median_scale: float, params: ClusterParams | None = None,
           new_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Cluster labels for new faces: ``>= 0`` an existing cluster, ``< 0`` a new cluster (−1, −2, …),
    and each new face's local scale.

    ``index`` holds the existing faces (it may hold the new ones too); ``cluster_of[id]`` and
    ``scale_of[id]`` are the cluster and local scale of the face with that index id, cluster −1 for
    faces not clustered yet (they are ignored). ``median_scale`` is the clustering's median scale.
    ``new_ids``: the new faces' ids when the index holds them (a gallery indexes every face it
    ingests): one search per new face then gives its neighbours among the old *and* the new faces,
    as a full clustering's k-NN graph would, instead of a second graph built over the new faces.
    """
    params = params or ClusterParams()
    vecs = np.ascontiguousarray(new_vectors, dtype=np.float32)
    m = len(vecs)
    if m == 0:
        return np.empty(0, np.int64), np.empty(0), {}
    t0 = time.perf_counter()
    if new_ids is not None:
        new_ids = np.asarray(new_ids, dtype=np.int64)
        outer = query_graph(index, vecs, params.k, self_ids=new_ids)
        inner = new_neighbours(outer, new_ids)
    else:
        inner = (knn_graph(vecs, params.k) if m > 1
                 else KnnGraph(np.full((1, params.k), -1), np.full((1, params.k), np.inf, np.float32)))
        outer = query_graph(index, vecs, params.k)
    known = (outer.ids >= 0) & (cluster_of[np.clip(outer.ids, 0, len(cluster_of) - 1)] >= 0) & (
        outer.ids < len(cluster_of))
    outer_d = np.where(known, outer.dist, np.inf)
    # a new face's local scale, as the clustering measured it for the others: with two passes the
    # distance to its outside_rank-th existing neighbour outside the cluster of its nearest one, else
    # its k-th nearest among the existing and the other new faces
    if params.local and params.passes >= 2:
        # the cluster of the nearest existing face (not of a new face, nor of the face itself)
        nearest = np.take_along_axis(outer.ids, known.argmax(1)[:, None], axis=1)[:, 0]
        near = np.where(known.any(1), cluster_of[np.clip(nearest, 0, len(cluster_of) - 1)], -1)
        other = known & (cluster_of[np.clip(outer.ids, 0, len(cluster_of) - 1)] != near[:, None])
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


def extend(old: Clustering, new_vectors: np.ndarray, index: Index, params: ClusterParams | None = None,
           indexed: bool = False) -> tuple[np.ndarray, dict[str, float]]:
    """Labels of old + new faces (``index`` holds the old faces under ids 0..n-1 and, if ``indexed``,
    the new ones under ids n..n+m-1, as a gallery's index holds every face): old faces keep theirs,
    new clusters are numbered after the old ones."""
    n, m = len(old.labels), len(new_vectors)
    new_ids = np.arange(n, n + m, dtype=np.int64) if indexed else None
    cluster_of = np.concatenate([old.labels, np.full(m, -1, np.int64)]) if indexed else old.labels
    scale_of = np.concatenate([old.scale, np.full(m, old.median_scale)]) if indexed else old.scale
    lab, _, times = assign(new_vectors, index, cluster_of, scale_of, old.median_scale, params, new_ids)
    fresh = lab < 0
    if fresh.any():
        _, inv = np.unique(lab[fresh], return_inverse=True)
        lab = lab.copy()
        lab[fresh] = old.count + inv.reshape(-1)
    return np.concatenate([old.labels, lab]), times
