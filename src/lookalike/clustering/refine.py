"""Cluster-level refinement after the graph clustering."""

from __future__ import annotations

import numpy as np

from lookalike.clustering.algorithms import relabel


def prototypes(vectors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean vector and size of each cluster ``0..max(labels)``."""
    c = int(labels.max()) + 1 if len(labels) else 0
    sizes = np.bincount(labels, minlength=c)
    sums = np.zeros((c, vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, labels, vectors)
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
