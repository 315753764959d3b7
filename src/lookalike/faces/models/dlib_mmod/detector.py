"""The MMOD CNN face detector for the pipeline: a minimum face size instead of blind upsampling.

Same interface as :class:`lookalike.faces.detect.FaceDetector` (``detect(image)`` → faces largest
first, each with dlib's 5-point landmarks so alignment and the embedder see what they expect).

The network finds faces about the size of its detector window (80 × 80 pixels for dlib's model)
in each pyramid level; level ``k`` holds faces ``80 · (6/5)**k`` pixels wide in the photo. Given
``min_face`` (pixels, in the photo):

* ``min_face < 80``: the photo is enlarged by ``80 / min_face`` (corner-aligned bilinear, in the
  network's float input space) so the smallest face of interest becomes 80 pixels — the cost
  grows with the square of that factor, so choose the smallest faces you really need;
* ``max_pixels`` caps the photo's area after enlarging (default 2 MP), so large photos look for
  proportionally larger faces instead of costing seconds and gigabytes;
* ``min_face ≥ 80`` (or a photo above ``max_pixels``): the first ``k`` pyramid levels, which only hold faces smaller than
  ``min_face`` (``80 · 1.2**k ≤ min_face``), are skipped: the pyramid starts at dlib's level ``k``
  (computed exactly as dlib does). Each skipped level saves about a third of the remaining work.

With ``min_face = 80`` neither happens and the detections are dlib's
``cnn_face_detection_model_v1(path)(image, 0)``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from lookalike.errors import LookalikeError
from lookalike.faces.detect import DetectedFace, Landmarker
from lookalike.faces.models.dlib_mmod.network import MMODNetwork, Runtime
from lookalike.faces.models.dlib_mmod.postprocess import RawDetection
from lookalike.faces.models.dlib_mmod.pyramid import level_sizes, pyramid_level, resize_bilinear

#: default smallest face looked for, in photo pixels: the annotated group photos box faces from 37 px;
#: at 36 every one of their 43 faces is found (at 40, 40 of 43; tests/faces/test_mmod_detector.py)
DEFAULT_MIN_FACE = 36
#: cap on the photo's area after enlarging (≈ 3.3× that in the tiled pyramid): bounds time and
#: memory on large photos (a 12 MP photo at min_face 36 would otherwise need ~200 M pyramid pixels)
DEFAULT_MAX_PIXELS = 2_000_000


class MMODFaceDetector(Landmarker):
    """dlib's CNN face detector run by ONNX Runtime (default) or PyTorch, plus dlib's landmarks."""

    def __init__(
        self,
        min_face: int = DEFAULT_MIN_FACE,
        runtime: Runtime = "onnx",
        threshold: float = 0.0,
        model_path: str | Path | None = None,
        device: str | None = None,
        threads: int | None = None,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        landmarks: str = "5",
    ) -> None:
        if max_pixels is not None and max_pixels < 10_000:
            raise LookalikeError(f"max_pixels must be at least 10000, got {max_pixels}")
        self.max_pixels = max_pixels
        if not isinstance(min_face, int) or not 10 <= min_face <= 4096:
            raise LookalikeError(
                f"min_face must be an integer number of pixels in 10..4096, got {min_face!r}"
            )
        super().__init__(landmarks)
        self.network = MMODNetwork(model_path, runtime=runtime, device=device, threads=threads)
        self.min_face = min_face
        self.threshold = float(threshold)
        self.runtime = self.network.runtime
        self.name = "mmod" if runtime == "onnx" else f"mmod-{runtime}"

    @property
    def upsample(self) -> str:
        """What changes the detections besides the model (used in cache keys / signatures)."""
        return f"min{self.min_face}"

    @property
    def window(self) -> int:
        """The detector window's width in pixels (the face size found in each pyramid level)."""
        return self.network.window[0]

    def plan(self, rows: int, cols: int) -> tuple[float, int]:
        """``(scale, skipped levels)`` used for a photo of this size.

        The scale makes ``min_face`` the window's size, capped so the scaled photo has at most
        ``max_pixels`` pixels (a large photo then looks for larger faces only); a scale below 1 is
        done by skipping whole pyramid levels (each ×5/6), rounding towards smaller faces.
        """
        scale = self.window / self.min_face
        if self.max_pixels is not None:
            scale = min(scale, math.sqrt(self.max_pixels / max(rows * cols, 1)))
        if scale > 1.0:
            return scale, 0
        n = self.network.model.input.pyramid_n
        skip = math.floor(math.log(1.0 / scale) / math.log(n / (n - 1.0)) + 1e-9)
        usable = len(level_sizes(rows, cols, n)) - 1
        return 1.0, max(0, min(skip, usable))

    def raw_detect(self, image: np.ndarray) -> list[RawDetection]:
        """Boxes (right / bottom inclusive) and scores in the photo's pixels, highest score first."""
        planes = self.network.normalize(image)
        rows, cols = planes.shape[1:]
        scale, skip = self.plan(rows, cols)
        if scale > 1.0:
            up_rows, up_cols = round((rows - 1) * scale) + 1, round((cols - 1) * scale) + 1
            sy, sx = (up_rows - 1) / max(rows - 1, 1), (up_cols - 1) / max(cols - 1, 1)
            planes = resize_bilinear(planes, up_rows, up_cols)

            def to_image(b: tuple[float, ...]) -> tuple[float, ...]:
                return (b[0] / sx, b[1] / sy, b[2] / sx, b[3] / sy)

            return self.network.detect_planes(planes, self.threshold, to_image)
        if skip:
            planes = pyramid_level(planes, skip, self.network.model.input.pyramid_n)
            n = self.network.model.input.pyramid_n
            ratio = n / (n - 1.0)

            def to_image(b: tuple[float, ...]) -> tuple[float, ...]:
                for _ in range(skip):  # dlib's point_up, once per skipped level
                    b = tuple(v * ratio + 0.3 for v in b)
                return b

            return self.network.detect_planes(planes, self.threshold, to_image)
        return self.network.detect_planes(planes, self.threshold)

    def detect(self, image: np.ndarray) -> list[DetectedFace]:
        """All faces in an RGB uint8 image, largest first, with dlib's 5-point landmarks."""
        found = self.raw_detect(image)
        with self._lock:
            faces = [self._face(image, self._rect(*d.rect), d.score) for d in found]
        faces.sort(key=lambda f: f.box.area, reverse=True)
        return faces
