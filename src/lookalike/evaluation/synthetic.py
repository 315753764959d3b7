"""Face-like vectors for big ANN benchmarks: identity clusters shaped like real dlib embeddings.

Real dlib embeddings are not spread over the sphere: they sit in a narrow cone (norm ≈ 1.43),
photos of one person ≈ 0.44 apart, of two people ≈ 0.82 apart. :class:`FaceModel` is fitted to
real embeddings (LFW): the global mean, the covariance of identity centres (corrected for the
noise of centres estimated from few photos), the pooled within-identity covariance, and a
log-normal per-identity spread whose width matches the spread of same-person distances.
Sampling: ``centre = mean + B z``, ``photo = centre + s · W w`` with ``z, w ~ N(0, I)``.
The fitted parameters ship in ``evaluation/data/face_model.npz`` (see :func:`fit_lfw_model`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MODEL_FILE = Path(__file__).with_name("data") / "face_model.npz"


@dataclass(frozen=True)
class FaceModel:
    mean: np.ndarray  # (d,)
    between: np.ndarray  # (d, d): centre = mean + between @ z
    within: np.ndarray  # (d, d): offset = scale * within @ w
    scale_sigma: float  # per-identity spread: scale = exp(N(-σ²/2, σ))

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    # ---- fitting ---------------------------------------------------------------------------
    @classmethod
    def fit(cls, embeddings: np.ndarray, labels: np.ndarray, seed: int = 0) -> FaceModel:
        """Fit to real embeddings with identity labels (identities with one photo count for centres)."""
        x = np.asarray(embeddings, dtype=np.float64)
        lab = np.unique(np.asarray(labels), return_inverse=True)[1]
        counts = np.bincount(lab)
        centres = np.zeros((len(counts), x.shape[1]))
        np.add.at(centres, lab, x)
        centres /= counts[:, None]
        resid = x - centres[lab]
        multi = counts[lab] >= 2
        dof = multi.sum() - (counts >= 2).sum()
        cov_w = resid[multi].T @ resid[multi] / dof
        cov_c = np.cov(centres.T)
        cov_b = cov_c - np.mean(1.0 / counts) * cov_w  # remove the centres' own sampling noise
        base = cls(x.mean(0).astype(np.float32), _sqrtm(cov_b), _sqrtm(cov_w), 0.0)
        real_same = _same_distances(x, lab, 20000, np.random.default_rng(seed))
        best = min(
            (abs(np.std(_same_distances(*base.with_sigma(s).sample(20000, 2000, seed=seed), 20000,
                                        np.random.default_rng(seed))) - np.std(real_same)), s)
            for s in np.arange(0.0, 0.62, 0.04)
        )
        return base.with_sigma(float(best[1]))

    def with_sigma(self, sigma: float) -> FaceModel:
        return FaceModel(self.mean, self.between, self.within, float(sigma))

    # ---- sampling --------------------------------------------------------------------------
    def sample(self, n: int, n_identities: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``n`` face-like vectors of ``n_identities`` people (identity drawn uniformly per photo)."""
        rng = np.random.default_rng(seed)
        d = self.dim
        ident = rng.integers(0, n_identities, size=n)
        centres = self.mean + rng.standard_normal((n_identities, d), dtype=np.float32) @ self.between.T
        scale = np.exp(rng.normal(-self.scale_sigma**2 / 2, self.scale_sigma, n_identities)).astype(np.float32)
        out = np.empty((n, d), dtype=np.float32)
        for s in range(0, n, 65536):  # bounded temporaries for 1M vectors
            idc = ident[s : s + 65536]
            w = rng.standard_normal((len(idc), d), dtype=np.float32) @ self.within.T
            out[s : s + len(idc)] = centres[idc] + scale[idc, None] * w
        return out, ident.astype(np.int64)

    # ---- files -----------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, mean=self.mean, between=self.between, within=self.within,
                 scale_sigma=np.float64(self.scale_sigma))
        return buf.getvalue()

    @classmethod
    def load(cls, path: str | Path = MODEL_FILE) -> FaceModel:
        with np.load(path, allow_pickle=False) as z:
            return cls(z["mean"], z["between"], z["within"], float(z["scale_sigma"]))


def face_like(n: int, n_identities: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Face-like vectors from the shipped LFW-fitted model; ≈ 20 photos per identity by default
    (CelebA: 202,599 photos of 10,177 people)."""
    ids = n_identities or max(1, round(n * 10177 / 202599))
    return FaceModel.load().sample(n, ids, seed=seed)


def gaussian(n: int, dim: int = 128, seed: int = 0) -> np.ndarray:
    """The hard case for graph indexes: i.i.d. standard normal vectors."""
    return np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32)


def distance_stats(x: np.ndarray, labels: np.ndarray, pairs: int = 20000, seed: int = 0) -> dict[str, float]:
    """Norm and same-/different-identity distance mean ± std of a labelled set."""
    rng = np.random.default_rng(seed)
    lab = np.unique(labels, return_inverse=True)[1]
    same = _same_distances(x, lab, pairs, rng)
    diff = _diff_distances(x, lab, pairs, rng)
    norms = np.linalg.norm(x, axis=1)
    return {"norm_mean": float(norms.mean()), "norm_std": float(norms.std()),
            "same_mean": float(same.mean()), "same_std": float(same.std()),
            "diff_mean": float(diff.mean()), "diff_std": float(diff.std())}


def same_and_different(x: np.ndarray, labels: np.ndarray, pairs: int = 20000,
                       seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Samples of same-identity and different-identity Euclidean distances."""
    rng = np.random.default_rng(seed)
    lab = np.unique(labels, return_inverse=True)[1]
    return _same_distances(x, lab, pairs, rng), _diff_distances(x, lab, pairs, rng)


def _same_distances(x: np.ndarray, lab: np.ndarray, pairs: int, rng: np.random.Generator) -> np.ndarray:
    order = np.argsort(lab, kind="stable")
    counts = np.bincount(lab)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    multi = np.flatnonzero(counts >= 2)
    # choose identities in proportion to their number of pairs, then two distinct photos
    w = counts[multi] * (counts[multi] - 1.0)
    who = rng.choice(multi, size=pairs, p=w / w.sum())
    a = rng.integers(0, counts[who])
    b = (a + rng.integers(1, counts[who])) % counts[who]
    i, j = order[starts[who] + a], order[starts[who] + b]
    return np.linalg.norm(x[i] - x[j], axis=1)


def _diff_distances(x: np.ndarray, lab: np.ndarray, pairs: int, rng: np.random.Generator) -> np.ndarray:
    i = rng.integers(0, len(x), size=pairs * 2)
    j = rng.integers(0, len(x), size=pairs * 2)
    keep = lab[i] != lab[j]
    return np.linalg.norm(x[i[keep][:pairs]] - x[j[keep][:pairs]], axis=1)


def _sqrtm(cov: np.ndarray) -> np.ndarray:
    """Symmetric square root of a covariance, negative eigenvalues clipped to zero."""
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
    return ((vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T).astype(np.float32)


def fit_lfw_model(out: str | Path = MODEL_FILE) -> tuple[FaceModel, dict[str, dict[str, float]]]:
    """Fit the model to real dlib LFW embeddings, write it to ``out``; returns the model and the
    real vs synthetic distance statistics."""
    from lookalike.evaluation.lfw_embeddings import lfw_embeddings
    from lookalike.io import atomic_write_bytes

    emb, lab = lfw_embeddings()
    model = FaceModel.fit(emb, lab)
    atomic_write_bytes(Path(out), model.to_bytes())
    counts = np.bincount(lab)
    syn, slab = model.sample(len(emb), len(counts), seed=1)
    return model, {"real": distance_stats(emb, lab), "synthetic": distance_stats(syn, slab)}
