"""The honest protocol for trained models: LFW View 2's ten identity-disjoint folds.

For fold *i* a model is trained on the people of the other nine folds (all their photos) and
scored on fold *i*'s people, whom it never saw:

* **verification** — accuracy on fold *i*'s 600 ``pairs.txt`` pairs with the threshold chosen on
  the other nine folds' 5,400 pairs (:func:`~lookalike.evaluation.verification.best_threshold`, as
  LFW's protocol does), and — beside it — the source documents' rule "same person if closer than
  the largest identity-cloud diameter" with the diameter measured on the training people (a
  baseline that shows why the threshold is calibrated);
* **TAR @ FAR 1e-3** — over *every* pair of fold *i*'s photos (all same-person pairs, all
  different-person pairs: about a million impostors, so a FAR of 1e-3 is resolved; the 300
  impostor pairs of ``pairs.txt`` could only resolve 3e-3);
* **identity retrieval** — each photo of fold *i* whose person has another photo there queries all
  other photos of fold *i* (one-photo people stay in as distractors): NDCG, mAP, rank-1
  (:func:`~lookalike.evaluation.retrieval.retrieval`).

Each number is reported as mean ± sample std over the folds scored. Cross-data-set sets (ORL, Yale)
are never trained on: every fold's model embeds them and their retrieval scores are averaged the
same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.errors import LookalikeError
from lookalike.evaluation.retrieval import retrieval
from lookalike.evaluation.verification import accuracy, best_threshold, roc

FAR = 1e-3


@dataclass(frozen=True)
class FoldData:
    """LFW's photos with person and fold, and ``pairs.txt`` as indices into those photos."""

    people: np.ndarray  # (n,) str
    fold: np.ndarray  # (n,) int
    pair_left: np.ndarray  # (6000,) indices into the photos
    pair_right: np.ndarray
    pair_same: np.ndarray
    pair_fold: np.ndarray

    @classmethod
    def build(cls, paths: list[str], people: np.ndarray, fold: np.ndarray, pairs: Any) -> FoldData:
        """From photo paths and a :class:`~lookalike.evaluation.verification.PairSet` over the same files."""
        at = {p: i for i, p in enumerate(paths)}
        try:
            left = np.array([at[pairs.paths[i]] for i in pairs.left])
            right = np.array([at[pairs.paths[i]] for i in pairs.right])
        except KeyError as exc:
            raise LookalikeError(f"pairs.txt names a photo outside the fold set: {exc}") from None
        return cls(np.asarray(people), np.asarray(fold), left, right, np.asarray(pairs.same, bool),
                   np.asarray(pairs.folds))

    def restrict(self, rows: np.ndarray) -> FoldData:
        """Only the photos ``rows`` (in that order) and the pairs whose two photos are among them."""
        at = np.full(len(self.people), -1)
        at[rows] = np.arange(len(rows))
        keep = (at[self.pair_left] >= 0) & (at[self.pair_right] >= 0)
        return FoldData(self.people[rows], self.fold[rows], at[self.pair_left[keep]], at[self.pair_right[keep]],
                        self.pair_same[keep], self.pair_fold[keep])


def diameter(vectors: np.ndarray, people: np.ndarray) -> float:
    """The largest distance between two photos of one person (the source documents' threshold D)."""
    best = 0.0
    order = np.argsort(people, kind="stable")
    _, starts = np.unique(people[order], return_index=True)
    for a, b in pairwise([*starts, len(order)]):
        if b - a < 2:
            continue
        v = vectors[order[a:b]].astype(np.float64)
        sq = (v * v).sum(1)
        d2 = sq[:, None] + sq[None, :] - 2 * v @ v.T
        best = max(best, float(np.sqrt(max(d2.max(), 0.0))))
    return best


def _all_pair_distances(v: np.ndarray, people: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = v.astype(np.float64)
    sq = (x * x).sum(1)
    iu = np.triu_indices(len(x), 1)
    d2 = sq[:, None] + sq[None, :] - 2 * x @ x.T
    return np.sqrt(np.maximum(d2[iu], 0.0)), (people[:, None] == people[None, :])[iu]


def score_fold(vectors: np.ndarray, data: FoldData, test_fold: int, threshold: float | None = None) -> dict[str, float]:
    """Every number of the protocol for one fold, given the fold's model's vectors of *all* LFW photos.

    ``threshold`` overrides the one chosen on the other folds' pairs (for a model scored on a
    subset of the training photos, see :meth:`FoldData.restrict`)."""
    v = np.asarray(vectors, np.float32)
    if len(v) != len(data.people):
        raise LookalikeError(f"got {len(v)} vectors for {len(data.people)} photos")
    d = np.linalg.norm(v[data.pair_left].astype(np.float64) - v[data.pair_right], axis=1)
    test_pairs = data.pair_fold == test_fold
    thr = best_threshold(d[~test_pairs], data.pair_same[~test_pairs]) if threshold is None else threshold
    train = data.fold != test_fold
    diam = diameter(v[train], data.people[train])
    test = np.flatnonzero(~train)
    ad, asame = _all_pair_distances(v[test], data.people[test])
    tar, tar_thr = roc(ad, asame).tar_at(FAR)
    r = retrieval(v[test], data.people[test]).summary()
    return {
        "accuracy": accuracy(d[test_pairs], data.pair_same[test_pairs], thr),
        "threshold": thr,
        "diameter_rule_accuracy": accuracy(d[test_pairs], data.pair_same[test_pairs], diam),
        "diameter": diam,
        "tar_at_far_1e-3": tar,
        "far_1e-3_threshold": tar_thr,
        "impostor_pairs": int((~asame).sum()),
        "ndcg": r["ndcg"],
        "map": r["map"],
        "rank1": r["rank1"],
        "queries": r["queries"],
    }


def score_cross(vectors: np.ndarray, people: np.ndarray) -> dict[str, float]:
    """Retrieval on a data set never trained on (ORL, Yale)."""
    r = retrieval(np.asarray(vectors, np.float32), people).summary()
    return {"ndcg": r["ndcg"], "map": r["map"], "rank1": r["rank1"]}


def summarize(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """``{metric: {"mean", "std", "n"}}`` over folds (sample std, 0 for one fold)."""
    out: dict[str, dict[str, float]] = {}
    for key in rows[0] if rows else []:
        vals = np.array([r[key] for r in rows], dtype=np.float64)
        out[key] = {"mean": float(vals.mean()), "std": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0,
                    "n": len(vals)}
    return out


def run_protocol(
    embed_fold: Callable[[int], tuple[np.ndarray, Mapping[str, np.ndarray]]],
    data: FoldData,
    folds: list[int],
    cross_people: Mapping[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """For each fold: ``embed_fold(i)`` trains (or fits) the model without fold *i*'s people and returns
    its vectors of every LFW photo and of each cross-data-set set; all are scored and summarised."""
    per_fold, cross_rows = [], {name: [] for name in (cross_people or {})}
    for i in folds:
        lfw_vecs, cross = embed_fold(i)
        per_fold.append({"fold": i, **score_fold(lfw_vecs, data, i)})
        for name, people in (cross_people or {}).items():
            cross_rows[name].append(score_cross(cross[name], people))
    summary = summarize([{k: v for k, v in r.items() if k != "fold"} for r in per_fold])
    return {"folds": folds, "per_fold": per_fold, "summary": summary,
            "cross": {name: summarize(rows) for name, rows in cross_rows.items()}}


# --------------------------------------------------------------------- for training (curves, cards)
def retrieval_validator(inputs: Any, people: np.ndarray, kind: str, device: str = "auto") -> Any:
    """``validate(model)`` → rank-1 and mAP of identity retrieval on a held-out set (for the curves only)."""
    from lookalike.training.loop import embed_array, resolve_device
    from lookalike.usecases.train import forward_of

    dev = resolve_device(device)

    def validate(model: Any) -> dict[str, float]:
        v = embed_array(forward_of(model, kind), inputs.array, dev)
        s = retrieval(v, people).summary()
        return {"val_rank1": s["rank1"], "val_map": s["map"]}

    return validate


def threshold_on(vectors: np.ndarray, people: np.ndarray, max_pairs: int = 400_000, seed: int = 0) -> float:
    """Same-person distance with the best accuracy over sampled training pairs (every same pair, as many
    different ones): the threshold a saved model carries."""
    rng = np.random.default_rng(seed)
    order = np.argsort(people, kind="stable")
    _, starts, counts = np.unique(people[order], return_index=True, return_counts=True)
    same = [(order[s + a], order[s + b]) for s, c in zip(starts, counts) if c > 1
            for a in range(c) for b in range(a + 1, c)][:max_pairs]
    if not same:
        raise LookalikeError("no same-person pairs to choose a threshold on")
    sa = np.array(same)
    da = rng.integers(0, len(people), (len(sa) * 2, 2))
    da = da[people[da[:, 0]] != people[da[:, 1]]][: len(sa)]
    pairs = np.concatenate([sa, da])
    d = np.linalg.norm(vectors[pairs[:, 0]] - vectors[pairs[:, 1]], axis=1)
    return best_threshold(d, np.r_[np.ones(len(sa), bool), np.zeros(len(da), bool)])


class LfwFoldScorer:
    """The :class:`~lookalike.usecases.train.HeldOutScorer` of ``lookalike train``: this protocol on LFW."""

    def __init__(self, lfw_root: str | Path) -> None:
        self.root = Path(lfw_root)

    def validator(self, inputs: Any, people: np.ndarray, device: str) -> Any:
        return retrieval_validator(inputs, people, inputs.kind, device)

    def score(self, vectors: np.ndarray, folds: Any, holdout: int) -> dict[str, float]:
        from lookalike.evaluation.verification import lfw_pairs

        data = FoldData.build(folds.paths, folds.people, folds.fold, lfw_pairs(self.root))
        return score_fold(vectors, data, holdout)

    def threshold(self, vectors: np.ndarray, people: np.ndarray) -> float:
        return threshold_on(vectors, people)
