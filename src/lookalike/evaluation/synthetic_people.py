"""A synthetic photo collection for clustering at scale: people with very different numbers of photos.

:func:`lookalike.evaluation.synthetic.face_like` draws each photo's identity uniformly, so every
person has ≈ 20 photos and hardly anyone is alone. A real collection is not like that: in LFW 71 %
of the people have one photo and one has 530. Here the number of photos per person follows a
discrete power law (``P(size = s) ∝ s^-a`` for ``1 ≤ s ≤ max_size``) whose exponent is fitted to a
real labelled set (:func:`fit_exponent`), and the vectors come from a
:class:`~lookalike.evaluation.synthetic.FaceModel` — identity centres and per-photo offsets whose
same- and different-person distances match real dlib vectors (:meth:`FaceModel.fit`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lookalike.evaluation.synthetic import FaceModel, distance_stats


@dataclass(frozen=True)
class SizeLaw:
    """Photos per person: ``P(s) ∝ s^-exponent`` on ``1..max_size``."""

    exponent: float
    max_size: int

    def probabilities(self) -> np.ndarray:
        s = np.arange(1, self.max_size + 1, dtype=np.float64)
        p = s ** -self.exponent
        return p / p.sum()

    def mean(self) -> float:
        return float((np.arange(1, self.max_size + 1) * self.probabilities()).sum())

    def sizes(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """People's photo counts summing to exactly ``n`` (the last person drawn is cut to fit)."""
        p = self.probabilities()
        out: list[np.ndarray] = []
        total = 0
        while total < n:
            draw = rng.choice(len(p), size=max(16, int(1.2 * (n - total) / self.mean())), p=p) + 1
            out.append(draw)
            total += int(draw.sum())
        sizes = np.concatenate(out)
        cum = np.cumsum(sizes)
        last = int(np.searchsorted(cum, n))  # first person reaching n
        sizes = sizes[: last + 1].copy()
        sizes[-1] -= int(cum[last] - n)
        return sizes[sizes > 0]


def fit_exponent(labels: np.ndarray, max_size: int | None = None) -> SizeLaw:
    """Maximum-likelihood power-law exponent of the photos-per-person counts of a labelled set
    (``max_size`` defaults to its largest count)."""
    from scipy.optimize import minimize_scalar

    counts = np.unique(np.asarray(labels), return_counts=True)[1]
    top = int(max_size or counts.max())
    logs = np.log(np.arange(1, top + 1, dtype=np.float64))
    mean_log = float(np.log(counts).mean())

    def nll(a: float) -> float:  # per person: a·E[log s] + log Z(a)
        return a * mean_log + float(np.log(np.exp(-a * logs).sum()))

    a = minimize_scalar(nll, bounds=(1.01, 5.0), method="bounded").x
    return SizeLaw(float(a), top)


def people(n: int, model: FaceModel, law: SizeLaw, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` face-like vectors (float32, shuffled) and their person labels, people sized by ``law``."""
    rng = np.random.default_rng(seed)
    sizes = law.sizes(n, rng)
    d = model.dim
    m = len(sizes)
    scale = np.exp(rng.normal(-model.scale_sigma**2 / 2, model.scale_sigma, m)).astype(np.float32)
    ident = rng.permutation(np.repeat(np.arange(m, dtype=np.int64), sizes))
    out = np.empty((n, d), dtype=np.float32)
    block = 65536  # bounded temporaries for a million vectors
    for s in range(0, m, block):  # identity centres, a block at a time
        z = rng.standard_normal((min(block, m - s), d), dtype=np.float32)
        centres = model.mean + z @ model.between.T
        sel = np.flatnonzero((ident >= s) & (ident < s + block))
        for t in range(0, len(sel), block):
            rows = sel[t : t + block]
            w = rng.standard_normal((len(rows), d), dtype=np.float32) @ model.within.T
            out[rows] = centres[ident[rows] - s] + scale[ident[rows], None] * w
    return out, ident


def describe(vectors: np.ndarray, labels: np.ndarray) -> dict[str, float | int]:
    """Sizes and distance statistics of a labelled set, to compare a synthetic set with a real one."""
    counts = np.unique(labels, return_counts=True)[1]
    return {"faces": len(labels), "people": len(counts), "people_with_one_photo": int((counts == 1).sum()),
            "faces_alone": float((counts == 1).sum() / len(labels)), "largest": int(counts.max()),
            "median_size": float(np.median(counts)), **distance_stats(vectors, labels)}
