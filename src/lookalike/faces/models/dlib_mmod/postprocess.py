"""The detector's output map → boxes in the photo, then non-max suppression, as ``loss_mmod_`` does.

From ``dlib/dnn/loss.h`` (``loss_mmod_::to_label`` / ``tensor_to_dets``) and the geometry helpers
it calls:

1. every output position ``(c, r)`` scoring above the threshold (0 by default) is mapped back to
   the input tensor through the convolutions (``p = p·stride - padding + kernel/2`` per layer,
   ``output_tensor_to_input_tensor``), and a detector window is centred there
   (``centered_drect``: half-size ``(w-1)/2``);
2. the window is mapped from the tiled pyramid to the photo: the pyramid level whose tile is
   nearest the window's centre (``nearest_rect``), then ``point_up`` once per level
   (``p·N/(N-1) + 0.3`` for ``pyramid_down<N>``) — ``tiled_pyramid_to_image``;
3. the box is rounded to integers (``drectangle → rectangle``, ``lround``), detections are sorted
   by score, highest first, and each one that overlaps an already kept one is dropped
   (``test_box_overlap``: intersection over the two boxes' *bounding box* above the IoU
   threshold, or either box covered by more than the covered threshold).

Boxes are dlib's ``(left, top, right, bottom)`` with right / bottom inclusive.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lookalike.faces.models.dlib_mmod.pyramid import Rect, TiledLayout


@dataclass(frozen=True)
class RawDetection:
    """One detection as dlib reports it: integer box (right / bottom inclusive) and score."""

    rect: Rect
    score: float


def lround(x: float) -> int:
    """C's ``std::lround``: halves round away from zero."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def _round_point(x: float) -> int:
    """dlib's double → long vector conversion: ``floor(x + 0.5)``."""
    return math.floor(x + 0.5)


def nearest_rect(rects: tuple[Rect, ...], x: int, y: int) -> int:
    """Index of the first rectangle containing ``(x, y)``, else of the nearest one."""
    best, best_dist = 0, math.inf
    for i, (left, top, right, bottom) in enumerate(rects):
        if left <= x <= right and top <= y <= bottom:
            return i
        nx, ny = min(max(x, left), right), min(max(y, top), bottom)
        dist = math.hypot(nx - x, ny - y)
        if dist < best_dist:
            best, best_dist = i, dist
    return best


def tiled_to_image(layout: TiledLayout, box: tuple[float, float, float, float]) -> tuple[float, ...]:
    """``tiled_pyramid_to_image``: a box in the tiled tensor → the same box in the photo."""
    left, top, right, bottom = box
    level = nearest_rect(layout.rects, _round_point((left + right) / 2.0), _round_point((top + bottom) / 2.0))
    ox, oy = layout.rects[level][0], layout.rects[level][1]
    coords = [left - ox, top - oy, right - ox, bottom - oy]
    ratio = layout.n / (layout.n - 1.0)
    for _ in range(level):
        coords = [v * ratio + 0.3 for v in coords]
    return tuple(coords)


def _area(r: Rect) -> int:
    return max(0, r[2] - r[0] + 1) * max(0, r[3] - r[1] + 1)


def boxes_overlap(a: Rect, b: Rect, iou: float, covered: float) -> bool:
    """dlib's ``test_box_overlap(iou, covered)(a, b)``."""
    inter = _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
    if inter == 0:
        return False
    outer = _area((min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])))
    return inter / outer > iou or inter / _area(a) > covered or inter / _area(b) > covered


@dataclass(frozen=True)
class OutputGeometry:
    """Maps an output-map position to the input tensor: ``p_in = p_out · scale + offset``."""

    scale: int
    offset: float

    @classmethod
    def from_convs(cls, convs: list[tuple[int, int, int]]) -> OutputGeometry:
        """``convs``: ``(kernel, stride, padding)`` per convolution, input first (square ones)."""
        scale, offset = 1, 0.0
        for kernel, stride, padding in reversed(convs):  # output → input, as dlib's visitor
            scale, offset = scale * stride, offset * stride - padding + kernel // 2
        return cls(scale, offset)


def detections(
    scores: np.ndarray,
    layout: TiledLayout,
    geometry: OutputGeometry,
    window: tuple[int, int],
    nms: tuple[float, float],
    threshold: float = 0.0,
    to_image: Callable[[tuple[float, ...]], tuple[float, ...]] | None = None,
) -> list[RawDetection]:
    """Detections (after NMS, highest score first) from one ``(rows, cols)`` output map.

    ``to_image`` maps a box from the network's input image to the photo before rounding (when
    the photo was rescaled or its first pyramid levels skipped); ``None``: they are the same.
    """
    rows, cols = np.nonzero(scores > threshold)
    if rows.size == 0:
        return []
    vals = scores[rows, cols].astype(np.float64)
    order = np.argsort(-vals, kind="stable")
    half_w, half_h = (window[0] - 1) / 2.0, (window[1] - 1) / 2.0
    found: list[RawDetection] = []
    for k in order:
        px = cols[k] * geometry.scale + geometry.offset
        py = rows[k] * geometry.scale + geometry.offset
        box = tiled_to_image(layout, (px - half_w, py - half_h, px + half_w, py + half_h))
        if to_image is not None:
            box = to_image(box)
        rect: Rect = (lround(box[0]), lround(box[1]), lround(box[2]), lround(box[3]))
        if any(boxes_overlap(d.rect, rect, *nms) for d in found):
            continue
        found.append(RawDetection(rect, float(vals[k])))
    return found
