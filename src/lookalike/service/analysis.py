"""A photo's way through the service, stage by stage (decode, detect, align, embed, search), timed.

The stage timings go out in the ``Server-Timing`` header of every photo answer, which is how the
latency benchmark splits a request's time without instrumenting the server any further.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from lookalike.errors import LookalikeError, NoFaceError
from lookalike.faces.align import align_all
from lookalike.faces.detect import Box, DetectedFace, most_central
from lookalike.faces.image import decode_image
from lookalike.faces.pipeline import FacePipeline

#: which faces of a photo to embed: every face, the one nearest the centre, or face number N (1 = largest)
Selection = Literal["all", "center"] | int


def parse_selection(value: str | int | None) -> Selection:
    """``"all"`` (default), ``"largest"`` (= 1), ``"center"``, or a face number ≥ 1."""
    if value is None or value == "" or value == "all":
        return "all"
    if value == "largest":
        return 1
    if value == "center":
        return "center"
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise LookalikeError(
            f"face must be 'all', 'largest', 'center' or a face number ≥ 1, got {value!r}"
        ) from None
    if n < 1:
        raise LookalikeError(f"face numbers start at 1 (the largest face), got {n}")
    return n


class Timings:
    """Milliseconds per stage of one request."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = self.ms.get(name, 0.0) + (time.perf_counter() - t0) * 1000.0

    def header(self) -> str:
        """The ``Server-Timing`` header value."""
        return ", ".join(f"{k};dur={v:.3f}" for k, v in self.ms.items())


@dataclass
class AnalyzedFace:
    """A selected face: its number (1 = largest), box and embedding."""

    number: int
    box: Box
    score: float
    embedding: np.ndarray = field(repr=False)


@dataclass
class Analysis:
    """What one photo gave."""

    width: int
    height: int
    sha256: str
    face_count: int
    faces: list[AnalyzedFace]

    def vectors(self) -> np.ndarray:
        return np.stack([f.embedding for f in self.faces])


def _select(found: list[DetectedFace], select: Selection, shape: tuple[int, ...], cap: int) -> list[int]:
    if select == "all":
        return list(range(min(len(found), cap)))
    if select == "center":
        c = most_central(found, shape)
        return [found.index(c)] if c is not None else []
    if select > len(found):
        raise LookalikeError(f"the photo has {len(found)} face(s); there is no face number {select}")
    return [select - 1]


def analyze(
    pipeline: FacePipeline,
    data: bytes,
    select: Selection = "all",
    max_bytes: int | None = None,
    max_pixels: int | None = None,
    max_faces: int = 20,
    timings: Timings | None = None,
    require_face: bool = True,
) -> Analysis:
    """Decode, detect every face, then align and embed the selected ones (largest first)."""
    t = timings or Timings()
    caps = {k: v for k, v in (("max_bytes", max_bytes), ("max_pixels", max_pixels)) if v is not None}
    with t.stage("decode"):
        image = decode_image(data, **caps)
    with t.stage("detect"):
        found = pipeline.detector.detect(image)
    if not found and require_face:
        raise NoFaceError("no face was found in the photo")
    chosen = _select(found, select, image.shape, max_faces) if found else []
    with t.stage("align"):
        chips = align_all(image, [found[i] for i in chosen])
    with t.stage("embed"):
        vecs = pipeline.embedder.embed(chips) if chosen else np.empty((0, pipeline.embedder.dim), np.float32)
    faces = [AnalyzedFace(i + 1, found[i].box, found[i].score, v) for i, v in zip(chosen, vecs)]
    sha = hashlib.sha256(data).hexdigest()
    return Analysis(int(image.shape[1]), int(image.shape[0]), sha, len(found), faces)
