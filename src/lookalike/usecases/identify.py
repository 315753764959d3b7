"""Identify ("who is this?"): a k-nearest-neighbour vote within the same-person threshold, else unknown."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.faces.pipeline import Selection, Timings
from lookalike.gallery.gallery import Gallery, Neighbour
from lookalike.settings import similarity
from lookalike.usecases.search import analyze

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
        return {"person": self.person, "known": self.person is not None, "distance": self.distance,
                "similarity": self.similarity, "votes": self.votes,
                "neighbours": [n.as_dict() for n in self.neighbours]}


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
        score[n.person] += threshold - n.distance + 1e-9  # type: ignore[index]
        count[n.person] += 1  # type: ignore[index]
        nearest.setdefault(n.person, n.distance)  # type: ignore[arg-type]
    person = max(score, key=lambda p: (score[p], -nearest[p]))
    d = nearest[person]
    return Identification(person, d, similarity(d, threshold), count[person], neighbours)


def identify_vectors(gallery: Gallery, vectors: np.ndarray, k: int = DEFAULT_VOTERS,
                     threshold: float | None = None) -> list[Identification]:
    """Identify each embedding against the gallery (open set)."""
    thr = gallery.threshold if threshold is None else float(threshold)
    return [vote(row, thr) for row in gallery.search_vectors(vectors, k)]


@dataclass
class FaceIdentity:
    """A face of the photo (``number`` 1 = largest), its box, and who it is."""

    number: int
    box: dict[str, int]
    identity: Identification

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "box": self.box, **self.identity.as_dict()}


@dataclass
class PhotoIdentities:
    width: int
    height: int
    face_count: int
    threshold: float
    faces: list[FaceIdentity]

    def as_dict(self) -> dict[str, Any]:
        return {"width": self.width, "height": self.height, "face_count": self.face_count,
                "threshold": self.threshold, "faces": [f.as_dict() for f in self.faces]}


def identify_photo(gallery: Gallery, photo: str | Path | bytes, k: int = DEFAULT_VOTERS,
                   threshold: float | None = None, *, select: Selection = "all",
                   timings: Timings | None = None, **caps: Any) -> PhotoIdentities:
    """Who is each selected face of the photo, or "unknown"? Raises NoFaceError when it has none."""
    t = timings or Timings()
    res = analyze(gallery, photo, select, timings=t, **caps)
    thr = gallery.threshold if threshold is None else float(threshold)
    with t.stage("search"):
        ids = identify_vectors(gallery, res.vectors(), k, thr)
    faces = [FaceIdentity(f.number, f.box.as_dict(), i) for f, i in zip(res.faces, ids)]
    return PhotoIdentities(res.width, res.height, res.face_count, thr, faces)
