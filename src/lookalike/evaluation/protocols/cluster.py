"""Clustering protocol: group every LFW photo by person with the labels hidden, then score.

* Data: all 13,233 LFW photos, one vector per photo — the labelled face, from :func:`face_vectors`
  (the pipeline's labelled vectors), shuffled with a fixed seed (LFW's own order is person by person
  and would leak the labels to an order-dependent clustering).
* Setting: one :class:`~lookalike.clustering.ClusterParams`, chosen without LFW's labels: its distance
  threshold and probability scale come from :func:`reference_calibration` (other labelled sets).
* Scores: pairwise and BCubed precision / recall / F over all photos; every unclustered photo is a
  cluster of one (the literature's convention); clusters against LFW's 5,749 people; wall time from
  stored vectors (graph + clustering + refinement).
* Incremental: cluster a seeded 90 % of the photos, then add the other 10 % with
  :func:`lookalike.clustering.incremental.extend` — as a gallery does: its index already holds the
  new faces (ingesting put them there), so one search per new face finds its old and new neighbours;
  time and scores against a full re-cluster.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.clustering import ClusterParams, cluster, score
from lookalike.clustering.graph import build_index
from lookalike.clustering.incremental import extend
from lookalike.clustering.weights import fit_logistic

#: the labelled sets used for calibration — none of them is LFW
REFERENCE_SETS = ("orl_att_faces", "yale_faces", "deepface_celebs")
#: the false-accept rate whose distance is the edge threshold (the gallery's `calibrate` default)
REFERENCE_FAR = 1e-3


def face_vectors(paths: Sequence[str | Path], pipeline: Any = None) -> np.ndarray:
    """``(n, dim)`` float32: the labelled face of each photo, through the one pipeline (the default
    spec unless ``pipeline`` is given), cached by spec."""
    from lookalike.faces.batch import labelled
    from lookalike.faces.pipeline import FacePipeline

    pipe = pipeline or FacePipeline()
    return labelled(pipe, [str(p) for p in paths], progress=False).vectors


def describe_vectors(pipeline: Any = None) -> str:
    """The model and pipeline spec the vectors come from, for the results."""
    from lookalike.faces.pipeline import FacePipeline

    pipe = pipeline or FacePipeline()
    sp = pipe.spec
    return (f"{pipe.card.name} [{sp.describe()} spec {sp.key}: {sp.detector} detector, {sp.fallback} fallback, "
            f"padding {sp.padding}, mirror averaging {'on' if sp.mirror else 'off'}]")


def lfw_collection(root: str | Path | None = None) -> tuple[list[Path], np.ndarray]:
    """Every LFW photo and its person (the labels are used for scoring only)."""
    from lookalike.gallery.sources import lfw
    from lookalike.settings import datasets_dir

    items = lfw(Path(root) if root else datasets_dir() / "lfw")
    return [it.path for it in items], np.array([it.person for it in items])


def reference_calibration(far: float = REFERENCE_FAR, sets: Sequence[str] = REFERENCE_SETS,
                          pipeline: Any = None) -> dict[str, Any]:
    """Same-person curve from every pair of the reference sets: the distance at ``far`` false accepts
    (the edge threshold) and the width of a balanced logistic fit (the probability scale)."""
    from lookalike.gallery.sources import folder_per_person
    from lookalike.settings import datasets_dir

    dists, same, sizes = [], [], {}
    for name in sets:
        items = folder_per_person(datasets_dir() / name)
        v = face_vectors([it.path for it in items], pipeline).astype(np.float64)
        lab = np.array([it.person for it in items])
        iu = np.triu_indices(len(v), 1)
        dists.append(np.linalg.norm(v[iu[0]] - v[iu[1]], axis=1))
        same.append(lab[iu[0]] == lab[iu[1]])
        sizes[name] = {"photos": len(items), "people": len(set(lab))}
    d, s = np.concatenate(dists), np.concatenate(same)
    fit = fit_logistic(d, s)
    threshold = float(np.quantile(d[~s], far))
    return {"sets": sizes, "far": far, "threshold": threshold, "scale": fit.scale,
            "balanced_threshold": fit.threshold, "same_pairs": int(s.sum()), "different_pairs": int((~s).sum()),
            "true_accept_rate": float((d[s] < threshold).mean())}


def reference_params(pipeline: Any = None) -> tuple[ClusterParams, dict[str, Any]]:
    """The chosen setting with its three distances from :func:`reference_calibration` (FAR 1e-4, 1e-3,
    1e-2), and the calibration itself."""
    cal = {f: reference_calibration(f, pipeline=pipeline) for f in (1e-4, 1e-3, 1e-2)}
    t = {f: round(c["threshold"], 3) for f, c in cal.items()}
    params = ClusterParams(strict=t[1e-4], threshold=t[1e-3], loose=t[1e-2], prune=t[1e-2],
                           scale=round(cal[1e-3]["scale"], 3))
    return params, {str(f): c for f, c in cal.items()}


def run(vectors: np.ndarray, labels: np.ndarray, params: ClusterParams, repeat: int = 1) -> dict[str, Any]:
    """Cluster, score and time (best of ``repeat``)."""
    best, times = None, []
    for _ in range(repeat):
        t0 = time.perf_counter()
        c = cluster(vectors, params)
        times.append(time.perf_counter() - t0)
        best = c if best is None else best
    assert best is not None
    return {"params": params.as_dict(), **score(best.labels, labels).as_dict(), "seconds": min(times),
            "all_seconds": times, "steps": best.timings}


def incremental(vectors: np.ndarray, labels: np.ndarray, params: ClusterParams, fraction: float = 0.1,
                seed: int = 0, repeat: int = 1) -> dict[str, Any]:
    """Cluster a seeded ``1 - fraction`` of the photos, add the rest incrementally; compare with a full run."""
    order = np.random.default_rng(seed).permutation(len(vectors))
    cut = round(len(vectors) * (1 - fraction))
    old, new = order[:cut], order[cut:]
    base = cluster(vectors[old], params)
    # a gallery's index holds every face it ingested, the new ones too (ids: old 0..cut-1, new after);
    # building it is ingesting, not the increment
    index = build_index(vectors[order])
    times, lab = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        lab, _ = extend(base, vectors[new], index, params, indexed=True)
        times.append(time.perf_counter() - t0)
    full_times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        full = cluster(vectors[order], params)
        full_times.append(time.perf_counter() - t0)
    inc = score(lab, labels[order])
    ref = score(full.labels, labels[order])
    return {"fraction": fraction, "seed": seed, "old": len(old), "new": len(new),
            "incremental": {**inc.as_dict(), "seconds": min(times)},
            "full": {**ref.as_dict(), "seconds": min(full_times)},
            "time_ratio": min(times) / min(full_times),
            "pairwise_f_gap": ref.pairwise_f - inc.pairwise_f, "bcubed_f_gap": ref.bcubed_f - inc.bcubed_f}


class LfwClustering:
    """`lookalike eval` protocol: all of LFW clustered with the labels hidden, one setting from other sets."""

    name = "lfw-cluster"
    summary = "all of LFW grouped by person, labels hidden: pairwise and BCubed P/R/F, clusters, time"
    needs = ("lfw", *REFERENCE_SETS)

    def run(self, ctx: Any) -> dict[str, Any]:
        params, cal = reference_params(ctx.pipeline)
        paths, labels = ctx.labelled_photos("lfw", 1)
        order = np.random.default_rng(0).permutation(len(paths))
        vecs = ctx.vectors(paths)[order]
        out = run(vecs, np.asarray(labels)[order], params)
        return {**out, "calibration": {k: {"threshold": v["threshold"], "true_accept_rate": v["true_accept_rate"]}
                                       for k, v in cal.items()}, "people": len(set(labels))}

    def markdown(self, r: dict[str, Any], ctx: Any) -> list[str]:
        p = r["params"]
        return [f"## LFW clustering ({r['classes']:,} people, labels hidden)", "",
                (f"Setting from other labelled sets: edges under {p['strict']} / {p['threshold']} / {p['loose']} "
                "(FAR 1e-4 / 1e-3 / 1e-2 there). Faces alone count as clusters of one."), "",
                "| pairwise P | pairwise R | pairwise F | BCubed P | BCubed R | BCubed F | clusters | seconds |",
                "|---|---|---|---|---|---|---|---|",
                (f"| {100 * r['pairwise_precision']:.2f}% | {100 * r['pairwise_recall']:.2f}% | "
                f"{100 * r['pairwise_f']:.2f}% | {100 * r['bcubed_precision']:.2f}% | {100 * r['bcubed_recall']:.2f}% | "
                f"{100 * r['bcubed_f']:.2f}% | {r['clusters']:,} | {r['seconds']:.1f} |"), ""]
