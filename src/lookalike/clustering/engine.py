"""Cluster face vectors: k-NN graph → calibrated edges → graph clustering → refinement.

:func:`cluster` is the whole recipe behind one frozen :class:`ClusterParams`; each step is a
function of its own (graph.py, edges.py, weights.py, algorithms.py, refine.py) so the benchmark can
measure every variant.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from lookalike.clustering import algorithms, refine
from lookalike.clustering.edges import local_scale, scale_outside, select
from lookalike.clustering.graph import KnnGraph, edges_under, knn_graph
from lookalike.clustering.refine import prototypes
from lookalike.clustering.weights import SamePerson, edge_weights


@dataclass(frozen=True)
class Reference:
    """Distances at three false-accept rates and a logistic width, measured on labelled sets that are
    not the photos being clustered (``python benchmarks/cluster.py --calibrate`` prints them)."""

    far_1e4: float
    far_1e3: float
    far_1e2: float
    scale: float


#: ORL + Yale + deepface_celebs (620 photos, 68 people, every pair), dlib ResNet on the vectors of
#: :func:`lookalike.evaluation.protocols.cluster.face_vectors` (the default spec: padding 0.20, mirror
#: averaging); see benchmarks/results/cluster.json
REFERENCE = Reference(far_1e4=0.414, far_1e3=0.468, far_1e2=0.556, scale=0.026)


@dataclass(frozen=True)
class ClusterParams:
    """How to cluster. The defaults are the setting chosen in docs/clustering.md."""

    algorithm: str = "label-propagation"  # see algorithms.ALGORITHMS
    k: int = 60  # neighbours per face in the graph (the k-th also sets the local scale)
    threshold: float = REFERENCE.far_1e3  # edge under this (locally scaled) distance
    strict: float | None = REFERENCE.far_1e4  # always an edge under this distance (None: plain rule)
    loose: float | None = REFERENCE.far_1e2  # never an edge over this distance (None: plain rule)
    scale: float = REFERENCE.scale  # logistic width of the "probability" weighting
    weighting: str = "similarity"  # "similarity" (1 - d) | "probability" | "unit"
    prune: float = REFERENCE.far_1e2  # detach faces this far (RMS) from their cluster (0 = off)
    merge: float = 0.0  # join clusters whose mean vectors are closer than this (0 = off)
    passes: int = 2  # 2: cluster again with each face's scale measured against other clusters
    outside_rank: int = 10  # second pass: the scale is the distance to this many-th face of another cluster
    options: dict[str, Any] = field(default_factory=dict, hash=False)  # algorithm keyword arguments

    @property
    def local(self) -> bool:
        return self.strict is not None and self.loose is not None

    @property
    def same(self) -> SamePerson:
        return SamePerson(self.threshold, self.scale)

    def with_(self, **changes: Any) -> ClusterParams:
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Clustering:
    """Labels ``0..c-1`` per face, each cluster's prototype (mean vector) and size, and each face's
    local scale (for adding faces later)."""

    labels: np.ndarray
    prototypes: np.ndarray
    sizes: np.ndarray
    scale: np.ndarray
    median_scale: float
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.sizes)


def _one_pass(vectors: np.ndarray, graph: KnnGraph, params: ClusterParams, s: np.ndarray,
              med: float, pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    e = select(graph, params.threshold, params.strict, params.loose, s, med, pairs)
    w = edge_weights(e.dn, params.weighting, params.same)
    labels = algorithms.get(params.algorithm)(graph.n, e.i, e.j, w, **params.options)
    if params.prune > 0:
        labels = refine.prune(vectors, labels, params.prune)
    return labels


def cluster_graph(vectors: np.ndarray, graph: KnnGraph, params: ClusterParams) -> Clustering:
    """Cluster faces whose k-NN graph is already built."""
    t0 = time.perf_counter()
    s = local_scale(graph)
    med = float(np.median(s)) if len(s) else 1.0
    # the candidate pairs (under the loose distance) are the same in both passes: find them once
    pairs = edges_under(graph, max(params.loose, params.strict)) if params.local else None
    labels = _one_pass(vectors, graph, params, s, med, pairs)
    t1 = time.perf_counter()
    if params.local and params.passes >= 2:
        s = scale_outside(graph, labels, params.outside_rank)
        med = float(np.median(s))
        labels = _one_pass(vectors, graph, params, s, med, pairs)
    t2 = time.perf_counter()
    if params.merge > 0:
        labels = refine.merge_by_prototype(vectors, labels, params.merge)
    protos, sizes = prototypes(vectors, labels)
    t3 = time.perf_counter()
    return Clustering(labels, protos, sizes, s, med, {"pass1": t1 - t0, "pass2": t2 - t1, "refine": t3 - t2})


def cluster(vectors: np.ndarray, params: ClusterParams | None = None, index: str = "hnsw") -> Clustering:
    """Cluster face vectors (one row per face) into people."""
    params = params or ClusterParams()
    vecs = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(vecs) == 0:
        dim = vecs.shape[1] if vecs.ndim == 2 else 0
        return Clustering(np.empty(0, np.int64), np.empty((0, dim), np.float32), np.empty(0, np.int64),
                          np.empty(0), 1.0)
    t0 = time.perf_counter()
    graph = knn_graph(vecs, min(params.k, max(len(vecs) - 1, 1)), index=index)
    t1 = time.perf_counter()
    out = cluster_graph(vecs, graph, params)
    out.timings = {"graph": t1 - t0, **out.timings, "total": time.perf_counter() - t0}
    return out
