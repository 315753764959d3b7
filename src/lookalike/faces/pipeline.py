"""Photo → faces → aligned chips → embeddings, with one object that owns the models."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from lookalike.faces.align import align_all
from lookalike.faces.detect import Box, DetectedFace, FaceDetector, most_central
from lookalike.faces.embed import Embedder, load_embedder
from lookalike.faces.image import decode_image, read_bytes

#: which faces of a photo to keep: every face, or only the one nearest the centre (labelled photos)
Keep = Literal["all", "center"]


@dataclass
class Face:
    """A detected, aligned and embedded face."""

    box: Box
    score: float
    landmarks: np.ndarray = field(repr=False)
    chip: np.ndarray = field(repr=False)
    embedding: np.ndarray = field(repr=False)


@dataclass
class PhotoFaces:
    """The faces found in one photo, largest first."""

    width: int
    height: int
    sha256: str
    faces: list[Face]


class FacePipeline:
    """Detector + aligner + embedder. Build one and share it: loading the models takes a second."""

    def __init__(
        self,
        embedder: Embedder | str | None = None,
        detector: str = "hog",
        upsample: int | Literal["auto"] = "auto",
    ) -> None:
        self.embedder: Embedder = embedder if not isinstance(embedder, (str, type(None))) else load_embedder(embedder)
        self.detector = FaceDetector(detector, upsample)  # type: ignore[arg-type]

    @property
    def signature(self) -> str:
        """Identifies everything that changes the output: used as the embedding-cache key."""
        return f"{self.detector.name}-up{self.detector.upsample}|chip150p0.25|{self.embedder.name}"

    def process_bytes(self, data: bytes, keep: Keep = "all") -> PhotoFaces:
        """Decode, detect, align and embed the faces of an encoded photo."""
        image = decode_image(data)
        result = self.process_image(image, keep)
        result.sha256 = hashlib.sha256(data).hexdigest()
        return result

    def process_path(self, path: str | Path, keep: Keep = "all") -> PhotoFaces:
        """Like :meth:`process_bytes` for a file."""
        return self.process_bytes(read_bytes(path), keep)

    def process_image(self, image: np.ndarray, keep: Keep = "all") -> PhotoFaces:
        """Detect, align and embed the faces of a decoded RGB image."""
        found = self.detector.detect(image)
        if keep == "center":
            c = most_central(found, image.shape)
            found = [c] if c is not None else []
        return PhotoFaces(image.shape[1], image.shape[0], "", self.embed_faces(image, found))

    def embed_faces(self, image: np.ndarray, found: list[DetectedFace]) -> list[Face]:
        """Align and embed already-detected faces in one batch."""
        chips = align_all(image, found)
        vecs = self.embedder.embed(chips) if len(found) else np.empty((0, self.embedder.dim), np.float32)
        return [Face(d.box, d.score, d.landmarks, c, v) for d, c, v in zip(found, chips, vecs)]
