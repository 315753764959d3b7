"""Recognition on top of look-alike search: identify (open set, with "unknown") and verify.

The functions work on embeddings so the web service, the CLI and the evaluation harness share them;
threshold calibration (``calibrate``) is added by the evaluation work and stores its result in the
gallery's meta table, tied to the embedder.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lookalike.gallery.gallery import Gallery, Neighbour
from lookalike.settings import similarity

#: how many neighbours vote in identification
DEFAULT_VOTERS = 5


@dataclass
class Identification:
    """Who a face is, or ``person=None`` when nobody in the gallery is near enough ("unknown")."""

    person: str | None
    distance: float
    similarity: float
    votes: int
    neighbours: list[Neighbour] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "person": self.person,
            "known": self.person is not None,
            "distance": self.distance,
            "similarity": self.similarity,
            "votes": self.votes,
            "neighbours": [n.as_dict() for n in self.neighbours],
        }


@dataclass
class Verification:
    """Whether two faces are the same person under a threshold on Euclidean distance."""

    same: bool
    distance: float
    threshold: float
    similarity: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def vote(neighbours: list[Neighbour], threshold: float) -> Identification:
    """k-NN vote among the neighbours closer than ``threshold``; ties go to the nearest face.

    Each voter weighs ``threshold - distance`` so near faces count more than borderline ones. With
    no voter within the threshold the answer is "unknown".
    """
    voters = [n for n in neighbours if n.distance <= threshold]
    if not voters:
        best = neighbours[0].distance if neighbours else float("inf")
        return Identification(None, best, similarity(best, threshold), 0, neighbours)
    score: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    nearest: dict[str, float] = {}
    for n in voters:
        score[n.person] += threshold - n.distance + 1e-9
        count[n.person] += 1
        nearest.setdefault(n.person, n.distance)
    person = max(score, key=lambda p: (score[p], -nearest[p]))
    d = nearest[person]
    return Identification(person, d, similarity(d, threshold), count[person], neighbours)


def identify_vectors(
    gallery: Gallery, vectors: np.ndarray, k: int = DEFAULT_VOTERS, threshold: float | None = None
) -> list[Identification]:
    """Identify each embedding against the gallery (open set)."""
    thr = gallery.threshold if threshold is None else float(threshold)
    return [vote(row, thr) for row in gallery.search_vectors(vectors, k)]


def verify_vectors(a: np.ndarray, b: np.ndarray, threshold: float) -> Verification:
    """Same person? Euclidean distance of two embeddings against ``threshold``."""
    d = float(np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32)))
    return Verification(d <= threshold, d, float(threshold), similarity(d, threshold))
