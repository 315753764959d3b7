"""Cluster face vectors: k-NN graph → edges under the same-person distance → graph clustering → refinement.

:func:`cluster` is the whole recipe behind one frozen :class:`ClusterParams`; every step is a
function of its own (graph.py, weights.py, algorithms.py, refine.py) so the benchmark can measure
each variant.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from lookalike.clustering import algorithms, refine
from lookalike.clustering.refine import prototypes
from lookalike.clustering.graph import KnnGraph, edges_under, knn_graph
from lookalike.clustering.weights import SamePerson, edge_weights

#: Same-person curve measured on the labelled sets that are not LFW (ORL, Yale, deepface_celebs:
#: 620 photos, 68 people, every pair; dlib ResNet, plain recipe): the distance where the pooled
#: false-accept rate is 1e-3, and the scale of a logistic fit. Regenerate with
#: ``python benchmarks/cluster.py --calibrate``.
REFERENCE = SamePerson(threshold=0.479, scale=0.029)


@dataclass(frozen=True)
class ClusterParams:
    """How to cluster. Defaults are the benchmark's chosen setting (docs/clustering.md)."""

    algorithm: str = "infomap"
    k: int = 30  # neighbours per face in the graph
    threshold: float = REFERENCE.threshold  # edges only under this distance
    scale: float = REFERENCE.scale  # logistic width of the edge probability
    weighting: str = "probability"  # "probability" | "linear" | "unit"
    merge: float = 0.0  # merge clusters whose prototypes are closer than this (0 = off)
    options: dict[str, Any] = field(default_factory=dict, hash=False)  # algorithm keyword arguments

    @property
    def same(self) -> SamePerson:
        return SamePerson(self.threshold, self.scale)

    def with_(self, **changes: Any) -> ClusterParams:
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Clustering:
    """Labels ``0..c-1`` per face, with each cluster's prototype (mean vector) and size."""

    labels: np.ndarray
    prototypes: np.ndarray
    sizes: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return int(len(self.sizes))


def cluster_graph(vectors: np.ndarray, graph: KnnGraph, params: ClusterParams) -> Clustering:
    """Cluster faces whose k-NN graph is already built."""
    t0 = time.perf_counter()
    i, j, d = edges_under(graph, params.threshold)
    w = edge_weights(d, params.weighting, params.same)
    t1 = time.perf_counter()
    labels = algorithms.get(params.algorithm)(graph.n, i, j, w, **params.options)
    t2 = time.perf_counter()
    if params.merge > 0:
        labels = refine.merge_by_prototype(vectors, labels, params.merge)
    protos, sizes = prototypes(vectors, labels)
    t3 = time.perf_counter()
    return Clustering(labels, protos, sizes, {"edges": t1 - t0, "cluster": t2 - t1, "refine": t3 - t2})


def cluster(vectors: np.ndarray, params: ClusterParams | None = None, index: str = "hnsw") -> Clustering:
    """Cluster face vectors (one row per face) into people."""
    params = params or ClusterParams()
    vecs = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(vecs) == 0:
        return Clustering(np.empty(0, np.int64), np.empty((0, vecs.shape[1] if vecs.ndim == 2 else 0), np.float32),
                          np.empty(0, np.int64))
    t0 = time.perf_counter()
    graph = knn_graph(vecs, params.k, index=index)
    t1 = time.perf_counter()
    out = cluster_graph(vecs, graph, params)
    out.timings = {"graph": t1 - t0, **out.timings, "total": time.perf_counter() - t0}
    return out
