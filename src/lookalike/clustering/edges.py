"""Which k-NN pairs become edges, and how strong they are.

Plain rule: every pair closer than ``threshold``. Local scaling (after Zelnik-Manor & Perona's
self-tuning scale, 2004): a pair's distance is compared with the distances around its two faces,
``d' = d · M / sqrt(s_i · s_j)``, where ``s_i`` is face i's distance to its k-th neighbour and ``M``
the median of ``s`` over the collection. In a crowded part of the space (dlib's vectors put faces of
many different people of some groups close together) ``d'`` grows and weak links drop; in a sparse
part it shrinks. A pair is an edge if ``d < strict`` (sure anyway), or ``d < loose`` and
``d' < threshold``. The three distances are the calibrated false-accept points of another data set.

A second pass (:func:`scale_outside`) measures ``s_i`` against faces of *other* clusters of the first
pass, so a person with many photos is not mistaken for a crowded region.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lookalike.clustering.graph import KnnGraph, edges_under


@dataclass(frozen=True)
class Edges:
    """Undirected edges ``i < j`` with their distance ``d`` and locally scaled distance ``dn``."""

    i: np.ndarray
    j: np.ndarray
    d: np.ndarray
    dn: np.ndarray


def local_scale(graph: KnnGraph) -> np.ndarray:
    """Each face's distance to its farthest (k-th) neighbour; faces with fewer neighbours get the largest."""
    s = graph.dist[:, -1].astype(np.float64)
    finite = np.isfinite(s)
    fill = s[finite].max() if finite.any() else 1.0
    return np.where(finite & (s > 0), s, fill)


def scale_outside(graph: KnnGraph, labels: np.ndarray, rank: int) -> np.ndarray:
    """Each face's distance to its ``rank``-th neighbour from another cluster than its own — the
    distance to *other people* around it, even for a person with hundreds of photos (whose k-th
    neighbour is still that person). Faces with fewer such neighbours fall back to :func:`local_scale`."""
    other = (graph.ids >= 0) & (labels[np.maximum(graph.ids, 0)] != labels[:, None])
    d = np.sort(np.where(other, graph.dist, np.inf), axis=1)
    r = min(rank, graph.k)
    s = np.where(other.sum(1) >= r, d[:, r - 1], local_scale(graph)).astype(np.float64)
    return np.where(np.isfinite(s) & (s > 0), s, local_scale(graph))


def select(graph: KnnGraph, threshold: float, strict: float | None = None, loose: float | None = None,
           scale: np.ndarray | None = None, median: float | None = None,
           pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> Edges:
    """Edges by the plain rule (``strict``/``loose`` None) or by local scaling (``scale`` per face,
    default :func:`local_scale`, and its ``median``). ``pairs``: ``edges_under(graph, max(loose, strict))``
    when the caller has it already (a second pass over the same graph)."""
    if strict is None or loose is None:
        i, j, d = edges_under(graph, threshold)
        return Edges(i, j, d.astype(np.float64), d.astype(np.float64))
    s = local_scale(graph) if scale is None else scale
    m = float(np.median(s)) if median is None else median
    i, j, d = pairs if pairs is not None else edges_under(graph, max(loose, strict))
    d = d.astype(np.float64)
    dn = d * m / np.sqrt(s[i] * s[j])
    keep = (d < strict) | ((d < loose) & (dn < threshold))
    return Edges(i[keep], j[keep], d[keep], dn[keep])
