"""dlib's CNN face detector, run by ONNX Runtime or PyTorch: ``dlib.cnn_face_detection_model_v1``'s boxes.

:class:`MMODNetwork` reproduces ``cnn_face_detection_model_v1(path)(image, 0)``: same tiled pyramid
(:mod:`.pyramid`), same network (weights read from dlib's own file, :mod:`.weights`), same mapping
of scores to boxes and the same non-max suppression (:mod:`.postprocess`). What differs is float
rounding only: each batch-norm is folded into its convolution and the convolutions sum in another
order (see :mod:`lookalike.faces.models.dlib_resnet.embedders`), so scores agree with dlib's to ~1e-5.
``tests/faces/test_mmod_detector.py`` checks count, IoU ≥ 0.99 and |Δscore| ≤ 1e-3 on real photos.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from lookalike.errors import LookalikeError
from lookalike.faces.models.dlib_mmod.postprocess import OutputGeometry, RawDetection, detections
from lookalike.faces.models.dlib_mmod.pyramid import TiledLayout, normalize, tile_planes, tiled_layout
from lookalike.faces.models.dlib_mmod.weights import MMODModel, load_mmod

Runtime = Literal["onnx", "torch"]
RUNTIMES: tuple[str, ...] = ("onnx", "torch")


class Runner(Protocol):
    runtime: str

    def __call__(self, tiled: np.ndarray) -> np.ndarray: ...


def make_runner(model: MMODModel, runtime: Runtime = "onnx", device: str | None = None,
                threads: int | None = None) -> Runner:  # fmt: skip
    """The ONNX Runtime (CPU) or PyTorch (CUDA when present) runner for ``model``."""
    if runtime == "onnx":
        from lookalike.faces.models.dlib_mmod.onnx_graph import OnnxRunner

        return OnnxRunner(model, threads=threads)
    if runtime == "torch":
        from lookalike.faces.models.dlib_mmod.torch_net import TorchRunner

        return TorchRunner(model, device=device, threads=threads)
    raise LookalikeError(f"unknown detector runtime {runtime!r}; choose one of {RUNTIMES}")


class MMODNetwork:
    """The raw detector: an RGB uint8 image → dlib's detections (boxes right/bottom inclusive)."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        runtime: Runtime = "onnx",
        device: str | None = None,
        threads: int | None = None,
    ) -> None:
        self.model = load_mmod(model_path)
        self.runner = make_runner(self.model, runtime, device, threads)
        self.runtime = self.runner.runtime
        self.geometry = OutputGeometry.from_convs([(c.kernel, c.stride, c.padding) for c in self.model.convs])
        window = self.model.loss.windows[0]
        self.window = (window.width, window.height)
        self.nms = (self.model.loss.nms_iou, self.model.loss.nms_covered)
        if len(self.model.loss.windows) != 1:
            raise LookalikeError("only single-window MMOD detectors are supported")

    def layout(self, rows: int, cols: int) -> TiledLayout:
        """The tiled pyramid for an image of this size."""
        inp = self.model.input
        return tiled_layout(rows, cols, inp.padding, inp.outer_padding, inp.pyramid_n)

    def normalize(self, image: np.ndarray) -> np.ndarray:
        """The image as the network's ``(3, rows, cols)`` float32 input planes."""
        return normalize(_rgb(image), self.model.input.mean, self.model.input.scale)

    def scores(self, planes: np.ndarray) -> tuple[np.ndarray, TiledLayout]:
        """The network's ``(rows', cols')`` output map for normalised planes, and the layout used."""
        layout = self.layout(planes.shape[1], planes.shape[2])
        if not layout.rects:
            return np.zeros((0, 0), np.float32), layout
        return self.runner(tile_planes(planes, layout))[0], layout

    def detect_planes(
        self,
        planes: np.ndarray,
        threshold: float = 0.0,
        to_image: Callable[[tuple[float, ...]], tuple[float, ...]] | None = None,
    ) -> list[RawDetection]:
        """Detections in normalised planes; ``to_image`` maps boxes to the photo before rounding."""
        scores, layout = self.scores(planes)
        if scores.size == 0:
            return []
        return detections(scores, layout, self.geometry, self.window, self.nms, threshold, to_image)

    def detect(self, image: np.ndarray, threshold: float = 0.0) -> list[RawDetection]:
        """dlib's detections for ``image`` (no upsampling), highest score first."""
        return self.detect_planes(self.normalize(image), threshold)


def _rgb(image: np.ndarray) -> np.ndarray:
    """An ``(h, w, 3)`` uint8 array (grayscale is replicated, as dlib does)."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise LookalikeError(f"images must be uint8, got {arr.dtype}")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise LookalikeError(f"images must be (h, w, 3) RGB or (h, w) grayscale, got shape {arr.shape}")
    return arr
