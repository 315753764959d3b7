"""Find every face in an image with dlib (HOG by default, the MMOD CNN as an option), with landmarks.

Detection is one stage of :class:`~lookalike.faces.pipeline.FacePipeline`; nothing else calls it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from lookalike.errors import LookalikeError

DetectorName = Literal["hog", "cnn"]
#: which faces of a photo to embed: every face (largest first), the one nearest the centre, the
#: labelled face by the pipeline spec's rule (``pick`` + ``fallback``), or face number N (1 = largest)
Selection = Literal["all", "center", "labelled"] | int
DETECTORS: tuple[str, ...] = ("hog", "cnn")

#: "auto" upsampling: upsample once while the image's longer side is at most this many pixels.
#: HOG's smallest face is 80 px; one upsampling finds faces down to about 40 px.
AUTO_UPSAMPLE_MAX_SIDE = 1000


@dataclass(frozen=True)
class Box:
    """A face rectangle in image pixels (right and bottom exclusive)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def area(self) -> int:
        return max(0, self.right - self.left) * max(0, self.bottom - self.top)

    @property
    def center(self) -> tuple[float, float]:
        return (self.left + self.right) / 2.0, (self.top + self.bottom) / 2.0

    def iou(self, other: Box) -> float:
        """Intersection over union with another box."""
        w = min(self.right, other.right) - max(self.left, other.left)
        h = min(self.bottom, other.bottom) - max(self.top, other.top)
        inter = max(0, w) * max(0, h)
        union = self.area + other.area - inter
        return inter / union if union else 0.0

    def as_dict(self) -> dict[str, int]:
        return {"left": self.left, "top": self.top, "right": self.right, "bottom": self.bottom}


@dataclass
class DetectedFace:
    """One face: its box, detector score and five landmarks (x, y) in image pixels."""

    box: Box
    score: float
    landmarks: np.ndarray = field(repr=False)  # (5, 2) or (68, 2) float32
    _shape: object = field(default=None, repr=False, compare=False)  # dlib full_object_detection


def _models() -> tuple[object, object]:
    try:
        import dlib
        import face_recognition_models as frm
    except ImportError as exc:  # pragma: no cover - both are hard dependencies
        raise LookalikeError(f"dlib or its models are missing: {exc}") from exc
    return dlib, frm


class Landmarker:
    """The landmark half of a detector: dlib's shape predictor (5 or 68 points) on a face rectangle.
    Subclasses find the rectangles; calls are serialised by one lock (dlib's objects are not thread-safe)."""

    def __init__(self, landmarks: str = "5") -> None:
        dlib, frm = _models()
        if landmarks not in ("5", "68"):
            raise LookalikeError(f"landmarks must be '5' or '68', got {landmarks!r}")
        model = frm.pose_predictor_model_location() if landmarks == "68" else frm.pose_predictor_five_point_model_location()
        self._predictor = dlib.shape_predictor(model)
        self._rect = dlib.rectangle
        self._lock = threading.Lock()

    def _face(self, image: np.ndarray, rect: object, score: float) -> DetectedFace:
        """A detected face from a dlib rectangle (inclusive corners): landmarks, and its box clipped to the image."""
        h, w = image.shape[:2]
        shape = self._predictor(image, rect)
        pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
        box = Box(max(0, rect.left()), max(0, rect.top()), min(w, rect.right() + 1), min(h, rect.bottom() + 1))  # type: ignore[attr-defined]
        return DetectedFace(box, float(score), pts, shape)

    def landmarks(self, image: np.ndarray, box: Box) -> DetectedFace:
        """Landmarks for a given box (used when the face's position is already known)."""
        with self._lock:
            shape = self._predictor(image, self._rect(box.left, box.top, box.right - 1, box.bottom - 1))
        pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
        return DetectedFace(box, 0.0, pts, shape)


class FaceDetector(Landmarker):
    """Detects every face and its landmarks. Safe to share between threads (calls are serialised)."""

    def __init__(self, detector: DetectorName = "hog", upsample: int | Literal["auto"] = "auto",
                 landmarks: str = "5", auto_max_side: int = AUTO_UPSAMPLE_MAX_SIDE) -> None:
        if detector not in DETECTORS:
            raise LookalikeError(f"unknown detector {detector!r}; choose one of {DETECTORS}")
        if upsample != "auto" and (not isinstance(upsample, int) or not 0 <= upsample <= 3):
            raise LookalikeError(f"upsample must be 'auto' or 0..3, got {upsample!r}")
        super().__init__(landmarks)
        dlib, frm = _models()
        self.name = detector
        self.upsample = upsample
        self.auto_max_side = auto_max_side
        if detector == "hog":
            self._detector = dlib.get_frontal_face_detector()
        else:
            self._detector = dlib.cnn_face_detection_model_v1(frm.cnn_face_detector_model_location())

    def upsample_for(self, image: np.ndarray) -> int:
        """The number of upsamplings used for this image."""
        if self.upsample != "auto":
            return int(self.upsample)
        return 1 if max(image.shape[:2]) <= self.auto_max_side else 0

    def detect(self, image: np.ndarray) -> list[DetectedFace]:
        """All faces in an RGB uint8 image, largest first."""
        up = self.upsample_for(image)
        with self._lock:
            if self.name == "hog":
                rects, scores, _ = self._detector.run(image, up, 0.0)
                found = list(zip(rects, scores))
            else:
                found = [(d.rect, d.confidence) for d in self._detector(image, up)]
            faces = [self._face(image, rect, score) for rect, score in found]
        faces.sort(key=lambda f: f.box.area, reverse=True)
        return faces


def most_central(faces: list[DetectedFace], image_shape: tuple[int, ...]) -> DetectedFace | None:
    """The face whose centre is nearest the image centre (LFW photos often show others behind)."""
    if not faces:
        return None
    cy, cx = image_shape[0] / 2.0, image_shape[1] / 2.0
    return min(faces, key=lambda f: (f.box.center[0] - cx) ** 2 + (f.box.center[1] - cy) ** 2)


def covers_centre(face: DetectedFace, image_shape: tuple[int, ...]) -> bool:
    """Whether the face's box contains the image centre."""
    cy, cx = image_shape[0] / 2.0, image_shape[1] / 2.0
    b = face.box
    return b.left <= cx <= b.right and b.top <= cy <= b.bottom


def centre_box(image_shape: tuple[int, ...]) -> Box:
    """The middle half of the image in each direction: the stand-in face of a labelled photo."""
    h, w = image_shape[:2]
    return Box(w // 4, h // 4, 3 * w // 4, 3 * h // 4)


def select_faces(found: list[DetectedFace], select: Selection, shape: tuple[int, ...],
                 max_faces: int | None) -> list[DetectedFace]:
    """The faces a selection asks for (``"labelled"`` is the pipeline's own rule, not handled here)."""
    if not found:
        return []
    if select == "all":
        return found[:max_faces] if max_faces else list(found)
    if select == "center":
        return [most_central(found, shape)]  # type: ignore[list-item]
    if isinstance(select, int):
        if select > len(found):
            raise LookalikeError(f"the photo has {len(found)} face(s); there is no face number {select}")
        return [found[select - 1]]
    raise LookalikeError(f"unknown face selection {select!r}")
