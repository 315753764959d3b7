"""Verify ("are these two the same person?"): Euclidean distance of two faces against a threshold."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.errors import ImageTooLargeError, NoFaceError, UnreadableImageError
from lookalike.faces.image import MAX_BYTES, MAX_PIXELS
from lookalike.faces.pipeline import FacePipeline, Selection, Timings
from lookalike.settings import similarity


@dataclass
class Verification:
    """Whether two faces are the same person under a threshold on Euclidean distance."""

    same: bool
    distance: float
    threshold: float
    similarity: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def verify_vectors(a: np.ndarray, b: np.ndarray, threshold: float) -> Verification:
    """Same person? Euclidean distance of two embeddings against ``threshold``."""
    d = float(np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32)))
    return Verification(d <= threshold, d, float(threshold), similarity(d, threshold))


def verify_photos(pipeline: FacePipeline, photo_a: str | Path | bytes, photo_b: str | Path | bytes,
                  threshold: float | None = None, *, select_a: Selection = 1, select_b: Selection = 1,
                  timings: Timings | None = None, max_bytes: int = MAX_BYTES,
                  max_pixels: int = MAX_PIXELS) -> dict[str, Any]:
    """Are the selected faces (default: the largest) of two photos the same person?

    ``threshold`` defaults to the pipeline's model's own. Returns ``{"same", "distance", "threshold",
    "similarity", "box_a", "box_b"}``; errors name the photo they concern.
    """
    t = timings or Timings()
    faces = []
    for name, photo, select in (("first", photo_a, select_a), ("second", photo_b, select_b)):
        try:
            res = pipeline.process(photo, select, max_bytes=max_bytes, max_pixels=max_pixels, timings=t,
                                   require_face=True)
        except (UnreadableImageError, ImageTooLargeError, NoFaceError) as exc:
            where = str(photo) if not isinstance(photo, bytes) else f"{name} photo"
            raise type(exc)(f"{where}: {exc}") from exc
        faces.append(res.faces[0])
    thr = pipeline.card.threshold if threshold is None else float(threshold)
    v = verify_vectors(faces[0].embedding, faces[1].embedding, thr)
    return {**v.as_dict(), "box_a": faces[0].box.as_dict(), "box_b": faces[1].box.as_dict()}
