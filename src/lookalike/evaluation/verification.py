"""Face verification protocols: LFW's 10-fold "unrestricted, labeled outside data" protocol, ROC, TAR@FAR.

LFW View 2 (``pairs.txt``) holds 10 folds of 300 same-person and 300 different-person pairs, in
that order inside each fold. The protocol: for each fold, choose the distance threshold on the other
9 folds, measure accuracy on the held-out fold; report the mean and the (sample, ``ddof=1``) standard
deviation of the 10 accuracies. View 1 (``pairsDevTrain.txt`` / ``pairsDevTest.txt``) is for
choosing a method before View 2 is scored.

A pair is called "same person" when the Euclidean distance of its descriptors is ``<= threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from lookalike.errors import LookalikeError
from lookalike.gallery.sources import PairSet, lfw_pairs

__all__ = ["PairSet", "lfw_pairs"]  # the pair reader lives with the other data-set readers

#: how a threshold is picked on training pairs: the middle of the best-accuracy plateau, or its first point
ThresholdRule = Literal["plateau-middle", "first"]


def best_threshold(distances: np.ndarray, same: np.ndarray, rule: ThresholdRule = "plateau-middle") -> float:
    """Threshold with the best accuracy on these pairs.

    Candidates are the midpoints between consecutive sorted distances (plus both ends). Several
    thresholds usually tie; ``"plateau-middle"`` takes the median of the tied ones — less sensitive
    to the one or two pairs at the edge than ``"first"`` (the smallest best threshold).
    """
    d = np.asarray(distances, dtype=np.float64)
    s = np.asarray(same, dtype=bool)
    if len(d) == 0:
        raise LookalikeError("no pairs to choose a threshold on")
    order = np.argsort(d, kind="stable")
    ds, ss = d[order], s[order]
    # accepting the first i pairs (i = 0..n): correct = same among them + different among the rest
    tp = np.concatenate([[0], np.cumsum(ss)])
    fp = np.concatenate([[0], np.cumsum(~ss)])
    correct = tp + (fp[-1] - fp)
    # only cut between distinct distances
    cut_ok = np.concatenate([[True], ds[1:] > ds[:-1], [True]])
    correct = np.where(cut_ok, correct, -1)
    cands = np.concatenate([[ds[0] - 1e-6], (ds[:-1] + ds[1:]) / 2.0, [ds[-1] + 1e-6]])
    best = np.flatnonzero(correct == correct.max())
    pick = best[0] if rule == "first" else best[len(best) // 2]
    return float(cands[pick])


def accuracy(distances: np.ndarray, same: np.ndarray, threshold: float) -> float:
    return float(np.mean((np.asarray(distances) <= threshold) == np.asarray(same, dtype=bool)))


@dataclass
class KFoldResult:
    """Per-fold thresholds and accuracies of the k-fold protocol."""

    accuracies: np.ndarray
    thresholds: np.ndarray

    @property
    def mean(self) -> float:
        return float(self.accuracies.mean())

    @property
    def std(self) -> float:
        return float(self.accuracies.std(ddof=1)) if len(self.accuracies) > 1 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "mean_accuracy": self.mean,
            "std_accuracy": self.std,
            "std_error": self.std / np.sqrt(len(self.accuracies)),
            "fold_accuracies": self.accuracies.tolist(),
            "fold_thresholds": self.thresholds.tolist(),
        }


def kfold(distances: np.ndarray, same: np.ndarray, folds: np.ndarray, rule: ThresholdRule = "plateau-middle") -> KFoldResult:
    """Threshold chosen on all folds but one, accuracy measured on that one; for every fold."""
    d, s, f = np.asarray(distances), np.asarray(same, dtype=bool), np.asarray(folds)
    ids = np.unique(f)
    if len(ids) < 2:
        raise LookalikeError("k-fold needs at least two folds")
    accs, thrs = [], []
    for k in ids:
        test = f == k
        t = best_threshold(d[~test], s[~test], rule)
        thrs.append(t)
        accs.append(accuracy(d[test], s[test], t))
    return KFoldResult(np.array(accs), np.array(thrs))


@dataclass
class Roc:
    """ROC over all pairs: false-accept rate, true-accept rate and the distance thresholds."""

    far: np.ndarray
    tar: np.ndarray
    thresholds: np.ndarray
    auc: float = field(default=0.0)

    def tar_at(self, far: float) -> tuple[float, float]:
        """``(TAR, threshold)`` at the largest threshold whose FAR does not exceed ``far``."""
        ok = np.flatnonzero(self.far <= far + 1e-12)
        i = ok[-1]
        return float(self.tar[i]), float(self.thresholds[i])


def roc(distances: np.ndarray, same: np.ndarray) -> Roc:
    """Exact ROC (every distinct distance a threshold), AUC by the trapezoid rule."""
    d = np.asarray(distances, dtype=np.float64)
    s = np.asarray(same, dtype=bool)
    npos, nneg = int(s.sum()), int((~s).sum())
    if npos == 0 or nneg == 0:
        raise LookalikeError("ROC needs both same-person and different-person pairs")
    order = np.argsort(d, kind="stable")
    ds, ss = d[order], s[order]
    last = np.concatenate([ds[1:] > ds[:-1], [True]])  # last index of each run of equal distances
    tp = np.cumsum(ss)[last]
    fp = np.cumsum(~ss)[last]
    tar = np.concatenate([[0.0], tp / npos])
    far = np.concatenate([[0.0], fp / nneg])
    thr = np.concatenate([[ds[0] - 1e-6], ds[last]])
    return Roc(far, tar, thr, float(np.trapezoid(tar, far)))


def verification_report(pairs: PairSet, vectors: np.ndarray, rule: ThresholdRule = "plateau-middle",
                        fixed_threshold: float | None = 0.6) -> dict[str, Any]:
    """Everything the README reports for one pair set: k-fold accuracy, AUC, TAR@FAR, fixed-threshold accuracy."""
    d = pairs.distances(vectors)
    out: dict[str, Any] = {"pairs": len(pairs), "photos": len(pairs.paths)}
    if len(np.unique(pairs.folds)) > 1:
        out["kfold"] = kfold(d, pairs.same, pairs.folds, rule).as_dict()
    r = roc(d, pairs.same)
    out["auc"] = r.auc
    for far in (1e-3, 1e-2):
        tar, thr = r.tar_at(far)
        out[f"tar_at_far_{far:g}"] = {"tar": tar, "threshold": thr}
    out["best_threshold_all_pairs"] = best_threshold(d, pairs.same, rule)
    if fixed_threshold is not None:
        out[f"accuracy_at_{fixed_threshold:g}"] = accuracy(d, pairs.same, fixed_threshold)
    out["mean_distance_same"] = float(d[pairs.same].mean())
    out["mean_distance_different"] = float(d[~pairs.same].mean())
    return out
