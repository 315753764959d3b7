"""Photo → faces → aligned chips → descriptors: the one place lookalike runs detection, alignment and embedding.

A :class:`FacePipeline` is built from a :class:`~lookalike.faces.spec.PipelineSpec` and owns the
models (loaded on first use; build one and share it). Ingest, search, identify, verify, enrolment,
the web and index services, the evaluation harness, the benchmarks and training all take their
vectors from it — single photos through :meth:`FacePipeline.process_bytes`, many labelled photos on
every core through :meth:`FacePipeline.labelled_vectors` (see :mod:`lookalike.faces.batch`).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from lookalike.errors import IndexMismatchError, LookalikeError, NoFaceError
from lookalike.faces.align import align_all
from lookalike.faces.batch import labelled, labelled_chips
from lookalike.faces.detect import (
    Box,
    DetectedFace,
    FaceDetector,
    Selection,
    centre_box,
    covers_centre,
    most_central,
    select_faces,
)
from lookalike.faces.detectors import create_detector
from lookalike.faces.embed import Embedder, EmbedderCard, load_embedder
from lookalike.faces.image import MAX_BYTES, MAX_PIXELS, decode_image, read_bytes
from lookalike.faces.spec import PipelineSpec, default_spec

#: how a labelled photo's face was found when no detector found it: the photo's central box
STAND_IN = "centre"
#: the fallback (CNN) detector searches photos downscaled to at most this many pixels on a side (its
#: time and memory grow with the pixels: about 1.4 s per 512×512 on one core), and upsamples once only
#: photos up to the second size (LFW's 250×250 photos, as the evaluation chose)
FALLBACK_MAX_SIDE = 1000
FALLBACK_UPSAMPLE_MAX_SIDE = 500


def parse_selection(value: str | int | None) -> Selection:
    """``"all"`` (default), ``"largest"`` (= 1), ``"center"``, ``"labelled"``, or a face number ≥ 1."""
    if value is None or value == "" or value == "all":
        return "all"
    if value == "largest":
        return 1
    if value in ("center", "labelled"):
        return value  # type: ignore[return-value]
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
    """Milliseconds per stage of one request (sent as the ``Server-Timing`` header by the service)."""

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
class Face:
    """A detected, aligned and embedded face; ``number`` is its rank by size in the photo (1 = largest)."""

    number: int
    box: Box
    score: float
    landmarks: np.ndarray = field(repr=False)
    chip: np.ndarray = field(repr=False)
    embedding: np.ndarray = field(repr=False)
    how: str = ""


@dataclass
class PhotoFaces:
    """The selected faces of one photo, in the order of the selection (largest first for "all")."""

    width: int
    height: int
    sha256: str
    face_count: int  # every face the detector found, selected or not
    faces: list[Face]

    def vectors(self) -> np.ndarray:
        return np.stack([f.embedding for f in self.faces])


class FacePipeline:
    """Detector + aligner + embedder under one spec. Thread-safe; models load on first use.

    ``embedder``: an already-loaded model to use instead of loading ``spec.embedder`` (its card's
    name must be the spec's, so vectors stay what the spec promises).
    """

    def __init__(self, spec: PipelineSpec | None = None, embedder: Embedder | None = None) -> None:
        self.spec = spec or default_spec()
        self.card: EmbedderCard = self.spec.card
        if embedder is not None and embedder.card.name != self.card.name:
            raise IndexMismatchError(
                f"the spec asks for {self.card.name!r}; the embedder given is {embedder.card.name!r}"
            )
        self._embedder = embedder
        self._detector: FaceDetector | None = None
        self._fallback: FaceDetector | None = None
        self._lock = threading.Lock()

    # the models, loaded on first use -------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            with self._lock:
                if self._embedder is None:
                    self._embedder = load_embedder(self.spec.embedder)
        return self._embedder

    @property
    def detector(self) -> FaceDetector:
        if self._detector is None:
            with self._lock:
                if self._detector is None:
                    s = self.spec
                    self._detector = create_detector(s.detector, s.upsample, s.landmarks, s.min_face)
        return self._detector

    def _fallback_detector(self) -> FaceDetector | None:
        if self.spec.fallback == "none":
            return None
        if self._fallback is None:
            with self._lock:
                if self._fallback is None:
                    if self.spec.fallback == "mmod":  # our CNN port: its min_face rule replaces upsampling
                        self._fallback = create_detector("mmod", landmarks=self.spec.landmarks)
                    else:
                        self._fallback = FaceDetector(self.spec.fallback, "auto", self.spec.landmarks,  # type: ignore[arg-type]
                                                      auto_max_side=FALLBACK_UPSAMPLE_MAX_SIDE)
        return self._fallback

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def dim(self) -> int:
        return self.card.dim

    # stages ------------------------------------------------------------------------------------------
    def detect(self, image: np.ndarray) -> list[DetectedFace]:
        """Every face of an RGB image, largest first, with landmarks."""
        return self.detector.detect(image)

    def labelled_face(self, image: np.ndarray, stand_in: bool = False) -> tuple[DetectedFace | None, str]:
        """The face of a photo labelled with one person, and which detector found it.

        The spec's ``pick`` among the detector's faces (for ``"covers"``: the most central of those
        whose box contains the photo's centre, else the most central face); where the detector finds
        none, the same among the fallback detector's; then (``stand_in``) the photo's central box, so
        a protocol never drops a photo.
        """
        faces = self.detect(image)
        if faces:
            return self._pick(faces, image.shape), self.spec.detector
        fallback = self._fallback_detector()
        if fallback is not None:
            found = self._fallback_detect(fallback, image)
            if found:
                return self._pick(found, image.shape), fallback.name
        if stand_in:
            return self.detector.landmarks(image, centre_box(image.shape)), STAND_IN
        return None, ""

    def _fallback_detect(self, fallback: FaceDetector, image: np.ndarray) -> list[DetectedFace]:
        """The fallback detector's faces; a photo larger than :data:`FALLBACK_MAX_SIDE` is searched
        downscaled (the CNN's time and memory grow with the pixels), its boxes mapped back."""
        side = max(image.shape[:2])
        if side <= FALLBACK_MAX_SIDE:
            return fallback.detect(image)
        from PIL import Image

        scale = FALLBACK_MAX_SIDE / side
        small = np.asarray(Image.fromarray(image).resize(
            (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))), Image.BILINEAR))
        out = []
        for f in fallback.detect(small):
            b = f.box
            box = Box(int(b.left / scale), int(b.top / scale), min(image.shape[1], int(b.right / scale)),
                      min(image.shape[0], int(b.bottom / scale)))
            out.append(replace(self.detector.landmarks(image, box), score=f.score))
        return out

    def _pick(self, faces: list[DetectedFace], shape: tuple[int, ...]) -> DetectedFace:
        if self.spec.pick == "covers":
            faces = [f for f in faces if covers_centre(f, shape)] or faces
        return most_central(faces, shape)  # type: ignore[return-value]

    def chips(self, image: np.ndarray, faces: Sequence[DetectedFace]) -> np.ndarray:
        """Aligned chips of the embedder's size with the spec's padding."""
        return align_all(image, list(faces), self.card.chip_size, self.spec.chip_padding)

    def chip_for_box(self, image: np.ndarray, box: Box) -> np.ndarray:
        """The aligned chip of a face whose box is known (gallery thumbnails)."""
        return self.chips(image, [self.detector.landmarks(image, box)])[0]

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """Descriptors of aligned chips, with the spec's test-time augmentation averaged in."""
        n = len(chips)
        if n == 0:
            return np.empty((0, self.card.dim), np.float32)
        batch, copies = _augment(np.asarray(chips, np.uint8), self.spec.mirror, self.spec.jitter)
        vecs = self.embedder.embed(batch).reshape(n, copies, -1).mean(axis=1, dtype=np.float64)
        if self.card.metric == "cosine":
            vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        return vecs.astype(np.float32)

    # whole photos -------------------------------------------------------------------------------------
    def process_image(self, image: np.ndarray, select: Selection = "all", max_faces: int | None = None,
                      timings: Timings | None = None, require_face: bool = False) -> PhotoFaces:
        """Detect, select, align and embed the faces of a decoded RGB image."""
        t = timings or Timings()
        with t.stage("detect"):
            if select == "labelled":
                face, how = self.labelled_face(image)
                found = [face] if face is not None else []
                chosen, hows = found, [how] * len(found)
            else:
                found = self.detect(image)
                chosen = select_faces(found, select, image.shape, max_faces)
                hows = [""] * len(chosen)
        if not chosen and require_face:
            raise NoFaceError("no face was found in the photo")
        with t.stage("align"):
            chips = self.chips(image, chosen)
        with t.stage("embed"):
            vecs = self.embed_chips(chips)
        number = {id(f): i + 1 for i, f in enumerate(found)}
        faces = [Face(number[id(d)], d.box, d.score, d.landmarks, c, v, h)
                 for d, c, v, h in zip(chosen, chips, vecs, hows)]
        return PhotoFaces(int(image.shape[1]), int(image.shape[0]), "", len(found), faces)

    def process_bytes(self, data: bytes, select: Selection = "all", *, max_bytes: int = MAX_BYTES,
                      max_pixels: int = MAX_PIXELS, max_faces: int | None = None,
                      timings: Timings | None = None, require_face: bool = False) -> PhotoFaces:
        """Decode (within the caps) and process an encoded photo."""
        t = timings or Timings()
        with t.stage("decode"):
            image = decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
        result = self.process_image(image, select, max_faces, t, require_face)
        result.sha256 = hashlib.sha256(data).hexdigest()
        return result

    def process_path(self, path: str | Path, select: Selection = "all", require_face: bool = False) -> PhotoFaces:
        """Like :meth:`process_bytes` for a file."""
        return self.process(path, select, require_face=require_face)

    def process(self, photo: str | Path | bytes, select: Selection = "all", *, max_bytes: int = MAX_BYTES,
                max_pixels: int = MAX_PIXELS, max_faces: int | None = None, timings: Timings | None = None,
                require_face: bool = False) -> PhotoFaces:
        """A photo given as bytes or as a path (a file is read only when within ``max_bytes``)."""
        data = photo if isinstance(photo, bytes) else read_bytes(photo, max_bytes)
        return self.process_bytes(data, select, max_bytes=max_bytes, max_pixels=max_pixels, max_faces=max_faces,
                                  timings=timings, require_face=require_face)

    # many labelled photos, on every core, cached --------------------------------------------------------
    def labelled_vectors(self, paths: Sequence[str | Path], workers: int = 0, progress: bool = True) -> np.ndarray:
        """``(n, dim)`` descriptors of the labelled face of each photo (the central box stands in
        where no detector finds one, so a protocol never drops a photo), cached by spec."""
        return labelled(self, paths, workers, progress).vectors

    def labelled_chips(self, paths: Sequence[str | Path], workers: int = 0, progress: bool = True) -> np.ndarray:
        """``(n, S, S, 3)`` aligned chips of the labelled face of each photo (not cached)."""
        return labelled_chips(self, paths, workers, progress)


def _augment(chips: np.ndarray, mirror: bool, jitter: int) -> tuple[np.ndarray, int]:
    """The chips to embed and how many copies each face has (averaged afterwards): dlib's random
    jitters of each chip (or the chip itself), then the mirror image of each of those."""
    if jitter:
        import dlib

        stacked = np.stack([np.asarray(j, np.uint8) for c in chips
                            for j in dlib.jitter_image(np.ascontiguousarray(c), jitter)])
        copies = jitter
    else:
        stacked, copies = chips, 1
    if mirror:
        s = stacked.reshape(len(chips), copies, *chips.shape[1:])
        stacked = np.concatenate([s, s[:, :, :, ::-1]], axis=1).reshape(-1, *chips.shape[1:])
        copies *= 2
    return np.ascontiguousarray(stacked), copies
