"""Open-set identification: "who is this, or nobody we know?" measured the usual way (DET/DIR).

Identities are split at random (seeded) into *enrolled* and *unknown*. The gallery holds
``enroll_per_person`` photos of each enrolled identity; *mated* probes are that identity's other
photos, *non-mated* probes are every photo of the unknown identities. A probe is answered by its
nearest gallery face: accepted when the distance is within the threshold, as that face's identity.

* FAR (false alarm rate): non-mated probes accepted (as anyone), over all non-mated probes.
* detection rate: mated probes accepted, over all mated probes.
* identification rate (DIR): mated probes accepted *and* named correctly, over all mated probes.

The threshold for FAR = 1% / 10% is read off the non-mated probes' nearest distances.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lookalike.errors import LookalikeError
from lookalike.evaluation.retrieval import encode_labels


@dataclass(frozen=True)
class OpenSetSplit:
    """Indices into the labelled set: gallery photos, mated probes, non-mated probes."""

    gallery: np.ndarray
    mated: np.ndarray
    nonmated: np.ndarray
    enrolled_people: int
    unknown_people: int


def split_identities(labels: Any, unknown_fraction: float = 0.5, enroll_per_person: int = 1, seed: int = 0) -> OpenSetSplit:
    """Enrol a random share of the identities that have more than ``enroll_per_person`` photos.

    Identities with too few photos to give a mated probe are always unknown (on LFW they add
    4,069 single-photo people as impostors).
    """
    if not 0.0 < unknown_fraction < 1.0:
        raise LookalikeError("unknown_fraction must be between 0 and 1")
    codes = encode_labels(labels)
    counts = np.bincount(codes)
    eligible = np.flatnonzero(counts > enroll_per_person)
    rng = np.random.default_rng(seed)
    n_enrol = round(len(eligible) * (1.0 - unknown_fraction))
    enrolled = np.zeros(len(counts), dtype=bool)
    enrolled[rng.choice(eligible, n_enrol, replace=False)] = True
    gallery, mated = [], []
    for c in np.flatnonzero(enrolled):
        members = np.flatnonzero(codes == c)
        pick = rng.permutation(members)
        gallery.extend(pick[:enroll_per_person].tolist())
        mated.extend(pick[enroll_per_person:].tolist())
    nonmated = np.flatnonzero(~enrolled[codes])
    return OpenSetSplit(np.sort(gallery), np.sort(mated), nonmated, int(enrolled.sum()), int((~enrolled).sum()))


def _nearest(gallery: np.ndarray, probes: np.ndarray, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    g = np.ascontiguousarray(gallery, dtype=np.float32)
    gn = np.einsum("ij,ij->i", g, g)
    dist, idx = [], []
    for s in range(0, len(probes), chunk):
        p = np.ascontiguousarray(probes[s : s + chunk], dtype=np.float32)
        d = gn[None, :] - 2.0 * (p @ g.T) + np.einsum("ij,ij->i", p, p)[:, None]
        j = np.argmin(d, axis=1)
        idx.append(j)
        dist.append(np.sqrt(np.maximum(d[np.arange(len(p)), j], 0.0)))
    return np.concatenate(dist), np.concatenate(idx)


def open_set(vectors: np.ndarray, labels: Any, split: OpenSetSplit, fars: tuple[float, ...] = (0.01, 0.1)) -> dict[str, Any]:
    """Detection and identification rates at the given false-alarm rates, plus the DIR-vs-FAR curve."""
    x = np.asarray(vectors, dtype=np.float32)
    codes = encode_labels(labels)
    if len(split.nonmated) == 0 or len(split.mated) == 0:
        raise LookalikeError("open-set evaluation needs both mated and non-mated probes")
    g = x[split.gallery]
    dm, jm = _nearest(g, x[split.mated])
    dn, _ = _nearest(g, x[split.nonmated])
    correct = codes[split.gallery][jm] == codes[split.mated]
    dn_sorted = np.sort(dn)
    out: dict[str, Any] = {
        "enrolled_people": split.enrolled_people,
        "unknown_people": split.unknown_people,
        "gallery_photos": len(split.gallery),
        "mated_probes": len(split.mated),
        "nonmated_probes": len(split.nonmated),
        "closed_set_rank1": float(correct.mean()),
    }
    for far in fars:
        allowed = int(np.floor(far * len(dn_sorted)))  # non-mated probes that may be accepted
        thr = float(dn_sorted[allowed] - 1e-7) if allowed < len(dn_sorted) else float("inf")
        acc = dm <= thr
        out[f"far_{far:g}"] = {
            "threshold": thr,
            "far_measured": float(np.mean(dn <= thr)),
            "detection_rate": float(acc.mean()),
            "identification_rate": float((acc & correct).mean()),
        }
    # the full curve, for the plot: thresholds at every non-mated distance
    grid = np.unique(np.concatenate([dn_sorted, [np.inf]]))
    far_curve = np.searchsorted(dn_sorted, grid, side="left") / len(dn_sorted)
    dm_ok = np.sort(dm[correct])
    dir_curve = np.searchsorted(dm_ok, grid, side="left") / len(dm)
    step = max(1, len(grid) // 400)
    out["curve"] = {"far": far_curve[::step].tolist(), "dir": dir_curve[::step].tolist()}
    return out
