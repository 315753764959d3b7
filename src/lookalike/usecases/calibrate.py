"""Calibrate: measure the same-person threshold for a target false-accept rate and store it with the gallery.

The pairs come from the gallery's own labelled faces, or from LFW's ``pairs.txt`` embedded by the
gallery's own pipeline. The threshold is tied to the embedder it was measured for.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.errors import IndexMismatchError, LookalikeError
from lookalike.gallery import meta
from lookalike.gallery.gallery import Gallery
from lookalike.gallery.sources import lfw_pairs


@dataclass
class Calibration:
    """A same-person threshold measured on labelled pairs for a target false-accept rate."""

    threshold: float
    target_far: float
    far: float  # on the calibration pairs themselves
    tar: float | None  # true-accept rate on the calibration pairs (None without same-person pairs)
    n_same: int
    n_different: int
    embedder: str | None = None
    source: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def calibrate(distances_same: np.ndarray, distances_diff: np.ndarray, target_far: float) -> Calibration:
    """The largest distance threshold whose false-accept rate on ``distances_diff`` is at most ``target_far``.

    With ``n`` different-person distances sorted ascending, at most ``a = floor(target_far · n)``
    of them may be accepted; the threshold is set halfway between the ``a``-th and ``(a+1)``-th, so
    exactly ``a`` are accepted. On fresh pairs from the same population the expected FAR is then
    ``a / n`` ≤ target (the tests check it lands inside the 95% binomial interval of the target).
    """
    diff = np.sort(np.asarray(distances_diff, dtype=np.float64).reshape(-1))
    same = np.asarray(distances_same, dtype=np.float64).reshape(-1)
    if not 0.0 < target_far < 1.0:
        raise LookalikeError(f"target_far must be between 0 and 1, got {target_far}")
    if len(diff) == 0:
        raise LookalikeError("calibration needs different-person pairs")
    if target_far * len(diff) < 1.0:
        raise LookalikeError(
            f"{len(diff)} different-person pairs cannot measure a FAR of {target_far:g}; "
            f"need at least {int(np.ceil(1.0 / target_far))}"
        )
    a = int(np.floor(target_far * len(diff)))
    hi = diff[a]
    lo = diff[a - 1] if a > 0 else hi - 1e-3
    thr = float((lo + hi) / 2.0) if hi > lo else float(np.nextafter(hi, -np.inf))
    far = float(np.mean(diff <= thr))
    tar = float(np.mean(same <= thr)) if len(same) else None
    return Calibration(thr, float(target_far), far, tar, len(same), len(diff))


def labelled_pair_distances(
    vectors: np.ndarray, labels: list[str] | np.ndarray, max_different: int = 200_000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Distances of every same-label pair and of up to ``max_different`` different-label pairs
    (all of them when there are few faces, else a seeded random sample)."""
    x = np.asarray(vectors, dtype=np.float64)
    lab = np.asarray(labels)
    codes = np.unique(lab, return_inverse=True)[1].reshape(-1)
    same: list[np.ndarray] = []
    for c in np.unique(codes):
        m = np.flatnonzero(codes == c)
        if len(m) > 1:
            i, j = np.triu_indices(len(m), 1)
            same.append(np.linalg.norm(x[m[i]] - x[m[j]], axis=1))
    n = len(x)
    if n * (n - 1) // 2 <= max_different:  # few faces: every different-label pair, once
        a, b = np.triu_indices(n, 1)
    else:  # many faces: a seeded random sample of pairs
        rng = np.random.default_rng(seed)
        a = rng.integers(0, n, 3 * max_different)
        b = rng.integers(0, n, 3 * max_different)
    keep = codes[a] != codes[b]
    a, b = a[keep][:max_different], b[keep][:max_different]
    diff = np.linalg.norm(x[a] - x[b], axis=1)
    return (np.concatenate(same) if same else np.empty(0)), diff


def calibrate_gallery(gallery: Gallery, target_far: float = 1e-3, max_different: int = 200_000,
                      seed: int = 0, save: bool = True) -> Calibration:
    """Calibrate on the gallery's own labelled faces and (``save``) store the threshold with its embedder."""
    ids, vecs = gallery.store.embeddings()
    recs = gallery.store.faces(ids.tolist())
    keep = [k for k, i in enumerate(ids.tolist()) if recs.get(int(i)) is not None and recs[int(i)].person]
    if len(keep) < 2:
        raise LookalikeError("the gallery has no labelled faces to calibrate on (ingest labelled photos first)")
    labels = [recs[int(ids[k])].person for k in keep]
    same, diff = labelled_pair_distances(vecs[keep], labels, max_different, seed)
    cal = calibrate(same, diff, target_far)
    cal.embedder = gallery.embedder_name
    cal.source = f"gallery {gallery.root}: {len(set(labels))} people, {len(keep)} faces"
    if save:
        save_calibration(gallery, cal)
    return cal


def save_calibration(gallery: Gallery, cal: Calibration) -> None:
    """Store the threshold in the gallery's meta, tied to the embedder it was measured for."""
    emb = cal.embedder or gallery.embedder_name
    if gallery.embedder_name and emb != gallery.embedder_name:
        raise IndexMismatchError(
            f"the threshold was measured for {emb!r}; this gallery holds {gallery.embedder_name!r} embeddings"
        )
    gallery.store.set_meta(meta.CALIBRATION, json.dumps(cal.as_dict()))
    gallery.store.set_meta(meta.THRESHOLD_EMBEDDER, emb or "")
    gallery.store.set_meta(meta.THRESHOLD, repr(float(cal.threshold)))


def load_calibration(gallery: Gallery) -> Calibration | None:
    """The stored calibration, or None when there is none or it belongs to another embedder."""
    raw = gallery.store.get_meta(meta.CALIBRATION)
    if not raw:
        return None
    cal = Calibration(**json.loads(raw))
    if gallery.embedder_name and cal.embedder and cal.embedder != gallery.embedder_name:
        return None
    return cal


def calibrate_on_lfw(gallery: Gallery, lfw_root: str | Path, target_far: float = 1e-3, save: bool = True) -> Calibration:
    """Calibrate on LFW's 6,000 ``pairs.txt`` pairs embedded by the gallery's own pipeline
    (3,000 impostor pairs resolve a FAR down to about 1e-3)."""
    pairs = lfw_pairs(lfw_root)
    d = pairs.distances(gallery.pipeline().labelled_vectors(pairs.paths))
    cal = calibrate(d[pairs.same], d[~pairs.same], target_far)
    cal.embedder = gallery.spec.card.name
    cal.source = f"LFW pairs.txt at {lfw_root}, pipeline {gallery.spec.key}"
    if save:
        save_calibration(gallery, cal)
    return cal
