"""Clustering quality against known labels: pairwise and BCubed precision / recall / F.

Both count every item. A face left on its own is a cluster of one (that is how Otto, Wang and Jain,
TPAMI 2018, and the BCubed literature score unclustered items): it adds no pair, so it costs pairwise
recall only through the pairs it misses, and it has BCubed precision 1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import sparse


@dataclass(frozen=True)
class ClusterScores:
    """Pairwise and BCubed scores of one clustering, with cluster counts."""

    pairwise_precision: float
    pairwise_recall: float
    pairwise_f: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f: float
    clusters: int
    singletons: int
    classes: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _f(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def _contingency(pred: np.ndarray, truth: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    _, p = np.unique(np.asarray(pred), return_inverse=True)
    _, t = np.unique(np.asarray(truth), return_inverse=True)
    m = sparse.coo_matrix((np.ones(len(p), dtype=np.int64), (p, t))).tocsr()
    m.sum_duplicates()
    return m, p, t


def score(pred: np.ndarray, truth: np.ndarray) -> ClusterScores:
    """Scores of cluster labels ``pred`` against true labels ``truth`` (both length n, any hashables)."""
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape or pred.ndim != 1:
        raise ValueError(f"labels must be two 1-d arrays of one length, got {pred.shape} and {truth.shape}")
    n = len(pred)
    if n == 0:
        return ClusterScores(1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0, 0, 0)
    m, p, t = _contingency(pred, truth)
    coo = m.tocoo()
    rows, cols, cells = coo.row, coo.col, coo.data.astype(np.float64)
    sizes_p = np.bincount(p).astype(np.float64)
    sizes_t = np.bincount(t).astype(np.float64)
    tp = float((cells * (cells - 1)).sum() / 2)
    pp = float((sizes_p * (sizes_p - 1)).sum() / 2)
    tt = float((sizes_t * (sizes_t - 1)).sum() / 2)
    prec = tp / pp if pp else 1.0
    rec = tp / tt if tt else 1.0
    # BCubed: item i has precision |cell(i)| / |cluster(i)| and recall |cell(i)| / |class(i)|;
    # summing over the items of a cell gives cell² / size
    bp = float((cells**2 / sizes_p[rows]).sum() / n)
    br = float((cells**2 / sizes_t[cols]).sum() / n)
    return ClusterScores(prec, rec, _f(prec, rec), bp, br, _f(bp, br),
                         len(sizes_p), int((sizes_p == 1).sum()), len(sizes_t))
