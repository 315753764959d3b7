"""Face detectors by name: dlib's HOG and CNN (through dlib), and our port of the CNN ("mmod").

All share :class:`lookalike.faces.detect.FaceDetector`'s interface: ``name``, ``upsample`` (what
besides the model changes the detections, for cache keys), ``detect(image)`` → faces largest first
with 5-point landmarks, ``landmarks(image, box)``.

* ``"hog"``, ``"cnn"``: dlib, upsampled per ``upsample`` (``"auto"``: once for photos up to 1000 px);
* ``"mmod"``: dlib's CNN detector run by ONNX Runtime (identical detections, ~10-20× faster),
  looking for faces of at least ``min_face`` pixels (default 36): below the 80-pixel detector
  window the photo is enlarged, above it the first pyramid levels are skipped;
* ``"mmod-torch"``: the same with PyTorch (CUDA when present).
"""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np

from lookalike.errors import LookalikeError
from lookalike.faces.detect import Box, DetectedFace

DETECTOR_NAMES: tuple[str, ...] = ("hog", "cnn", "mmod", "mmod-torch")


class Detector(Protocol):
    name: str

    @property
    def upsample(self) -> int | str: ...

    def detect(self, image: np.ndarray) -> list[DetectedFace]: ...

    def landmarks(self, image: np.ndarray, box: Box) -> DetectedFace: ...


def create_detector(
    name: str,
    upsample: int | Literal["auto"] = "auto",
    landmarks: str = "5",
    min_face: int | None = None,
) -> Detector:
    """The detector called ``name`` (one of :data:`DETECTOR_NAMES`); ``landmarks``: "5" or "68" points.

    ``upsample`` applies to dlib's detectors, ``min_face`` (pixels) to ours.
    """
    if name in ("hog", "cnn"):
        from lookalike.faces.detect import FaceDetector

        return FaceDetector(name, upsample, landmarks)  # type: ignore[arg-type]
    if name in ("mmod", "mmod-torch"):
        from lookalike.faces.models.dlib_mmod.detector import DEFAULT_MIN_FACE, MMODFaceDetector

        runtime = "torch" if name == "mmod-torch" else "onnx"
        return MMODFaceDetector(min_face=min_face or DEFAULT_MIN_FACE, runtime=runtime, landmarks=landmarks)
    raise LookalikeError(f"unknown detector {name!r}; choose one of {DETECTOR_NAMES}")
