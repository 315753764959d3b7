"""Edge strengths from distances: a calibrated same-person probability, or simpler maps.

The probability is a logistic curve ``p(d) = 1 / (1 + exp((d - threshold) / scale))``: 50 % at the
calibrated same-person threshold. ``threshold`` and ``scale`` come from labelled pairs of another data
set (:func:`fit_logistic`), never from the photos being clustered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lookalike.errors import LookalikeError

WEIGHTINGS = ("probability", "similarity", "unit")


@dataclass(frozen=True)
class SamePerson:
    """``p(same person | distance)`` as a logistic curve, 50 % at ``threshold``."""

    threshold: float
    scale: float

    def probability(self, d: np.ndarray) -> np.ndarray:
        z = np.clip((np.asarray(d, dtype=np.float64) - self.threshold) / self.scale, -60, 60)
        return 1.0 / (1.0 + np.exp(z))

    def distance_at(self, p: float) -> float:
        """The distance where the probability is ``p``."""
        return float(self.threshold + self.scale * np.log(1.0 / p - 1.0))


def fit_logistic(distances: np.ndarray, same: np.ndarray) -> SamePerson:
    """Logistic regression of ``same`` on distance with both classes weighted equally (a prior of 1/2),
    so ``threshold`` is where a same- and a different-person pair are equally likely."""
    from sklearn.linear_model import LogisticRegression

    d = np.asarray(distances, dtype=np.float64).reshape(-1, 1)
    y = np.asarray(same, dtype=bool)
    if y.all() or not y.any():
        raise LookalikeError("calibration needs both same-person and different-person pairs")
    lr = LogisticRegression(class_weight="balanced", C=1e6).fit(d, y)
    a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    if a >= 0:
        raise LookalikeError("calibration pairs do not get less alike with distance")
    return SamePerson(threshold=-b / a, scale=-1.0 / a)


def edge_weights(d: np.ndarray, how: str, same: SamePerson) -> np.ndarray:
    """Edge strengths for distances ``d``: the same-person probability, ``1 - d`` (the issue's Infomap
    baseline), or 1 (plain Chinese Whispers)."""
    if how == "probability":
        return same.probability(d)
    if how == "similarity":
        return np.clip(1.0 - np.asarray(d, dtype=np.float64), 1e-6, None)
    if how == "unit":
        return np.ones(len(d))
    raise LookalikeError(f"unknown edge weighting {how!r}; choose one of {WEIGHTINGS}")
