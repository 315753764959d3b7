"""dlib's tiled image pyramid (``input_rgb_image_pyramid<pyramid_down<N>>``), reproduced exactly.

dlib runs its detector once over a single image that holds the photo and all its pyramid levels
side by side (``dlib/dnn/input.h``, ``dlib/image_transforms/image_pyramid.h``):

* level sizes: ``nr = floor((N-1)/N · nr)`` (same for columns) until a level would be empty or
  shorter than 5 rows (``find_pyramid_down_output_image_size``, ``compute_tiled_image_pyramid_details``);
* the levels go down a first column, then back up a second column at the right edge, separated by
  ``padding`` pixels, the whole surrounded by ``outer_padding`` pixels
  (``compute_tiled_image_pyramid_details``);
* the tensor is ``(pixel - mean[c]) / 256`` for level 0 and 0 everywhere outside the levels;
  level ``i`` is a bilinear resize of level ``i-1`` *in tensor space* (float, not 8-bit pixels),
  with dlib's corner-aligned mapping ``x_in = x_out · (in-1)/(out-1)`` (``tt::resize_bilinear``
  → ``resize_image``).

Rectangles here are dlib's: ``(left, top, right, bottom)`` with right / bottom *inclusive*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

Rect = tuple[int, int, int, int]  # left, top, right, bottom (inclusive)

_MIN_LEVEL_ROWS = 5


def level_sizes(rows: int, cols: int, n: int = 6) -> list[tuple[int, int]]:
    """``(rows, cols)`` of every pyramid level, the image itself first."""
    if rows * cols == 0:
        return []
    rate = (n - 1.0) / n
    sizes = [(rows, cols)]
    while True:
        rows, cols = math.floor(rate * rows), math.floor(rate * cols)
        if rows * cols == 0 or rows < _MIN_LEVEL_ROWS:
            return sizes
        sizes.append((rows, cols))


@dataclass(frozen=True)
class TiledLayout:
    """Where each pyramid level lies in the tiled image, and the tiled image's size."""

    rects: tuple[Rect, ...]
    rows: int
    cols: int
    n: int  # pyramid_down<n>

    @property
    def rate(self) -> float:
        """Size of a level relative to the previous one."""
        return (self.n - 1.0) / self.n


def _intersects(a: Rect, b: Rect) -> bool:
    return max(a[0], b[0]) <= min(a[2], b[2]) and max(a[1], b[1]) <= min(a[3], b[3])


@lru_cache(maxsize=256)
def tiled_layout(rows: int, cols: int, padding: int = 10, outer_padding: int = 11, n: int = 6) -> TiledLayout:
    """dlib's ``compute_tiled_image_pyramid_details`` for an image of ``rows`` × ``cols``."""
    sizes = level_sizes(rows, cols, n)
    if not sizes:
        return TiledLayout((), 0, 0, n)
    heights = [r for r, _ in sizes]
    widths = [c for _, c in sizes]
    total_height = sum(h + padding for h in heights) - 2 * padding
    # How far the first column goes: until the next level fits beside the previous one and the
    # column is at least half the total height (then the rest doubles back up a second column).
    height = 0
    prev_width = 0
    for h, w in zip(heights, widths):
        if w <= widths[0] - prev_width - padding and (height - heights[0]) * 2 >= total_height - heights[0]:
            break
        height += h + padding
        prev_width = w
    height -= padding
    width = widths[0]
    out_rows, out_cols = height + 2 * outer_padding, width + 2 * outer_padding

    rects: list[Rect] = []
    y = outer_padding
    i = 0
    while y < height + outer_padding and i < len(sizes):
        rects.append((outer_padding, y, outer_padding + widths[i] - 1, y + heights[i] - 1))
        y += heights[i] + padding
        i += 1
    y -= padding
    while i < len(sizes):
        right, bottom = outer_padding + width - 1, y - 1
        rect = (right - widths[i] + 1, bottom - heights[i] + 1, right, bottom)
        if _intersects(rects[0], rect):  # do not let the second column run into the photo
            break
        rects.append(rect)
        y -= heights[i] + padding
        i += 1
    return TiledLayout(tuple(rects), out_rows, out_cols, n)


@lru_cache(maxsize=4096)
def _axis_positions_simd(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and fractions along the column axis, as dlib's SSE loop computes them.

    ``resize_image`` for float images steps four lanes at once with float32 positions
    (``x_j += 4·scale`` accumulated in float32, truncated to an int); the last columns, once
    lane 3's right neighbour would leave the image, use a double loop.
    """
    scale = (n_in - 1) / max(n_out - 1, 1)
    left = np.empty(n_out, np.int64)
    frac = np.empty(n_out, np.float32)
    # SIMD part: lane j holds float32(-4s + j s) + t · float32(4s) after t+1 additions
    steps = max(n_out // 4 + 2, 2)
    step = np.float32(4 * scale)
    lanes = np.array([-4 * scale + j * scale for j in range(4)], np.float32)
    xs = np.empty((steps, 4), np.float32)
    acc = lanes.copy()
    for t in range(steps):  # sequential float32 accumulation, like the SSE register
        acc = (acc + step).astype(np.float32)
        xs[t] = acc
    c = 0
    for t in range(steps):
        lf = xs[t].astype(np.int64)  # _mm_cvttps_epi32 (truncation)
        if lf[3] + 1 >= n_in or c + 4 > n_out + 3:
            break
        if c + 4 > n_out:  # dlib would write past the row; cannot happen when lane 3 stays inside
            break
        left[c : c + 4] = lf
        frac[c : c + 4] = (xs[t] - lf.astype(np.float32)).astype(np.float32)
        c += 4
    x = -scale + c * scale
    for cc in range(c, n_out):
        x += scale
        lf = math.floor(x)
        left[cc] = lf
        frac[cc] = np.float32(x - lf)
    right = np.minimum(left + 1, n_in - 1)
    return left, right, frac


@lru_cache(maxsize=4096)
def _axis_positions_rows(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices and fractions: ``y`` accumulated in double from ``-scale``."""
    scale = (n_in - 1) / max(n_out - 1, 1)
    top = np.empty(n_out, np.int64)
    frac = np.empty(n_out, np.float64)
    y = -scale
    for r in range(n_out):
        y += scale
        t = math.floor(y)
        top[r] = t
        frac[r] = y - t
    bottom = np.minimum(top + 1, n_in - 1)
    return top, bottom, frac


def resize_bilinear(src: np.ndarray, out_rows: int, out_cols: int) -> np.ndarray:
    """dlib's corner-aligned bilinear resize of a ``(channels, rows, cols)`` float32 array."""
    c_in, r_in, w_in = src.shape
    left, right, fx = _axis_positions_simd(w_in, out_cols)
    top, bottom, fy = _axis_positions_rows(r_in, out_rows)
    fx = fx[None, None, :]
    gx = np.float32(1) - fx
    fy32 = fy.astype(np.float32)[None, :, None]
    gy32 = (1 - fy).astype(np.float32)[None, :, None]
    rows_t = src[:, top, :]
    rows_b = src[:, bottom, :]
    # tl·(1-fy)(1-fx) + tr·(1-fy)fx + bl·fy(1-fx) + br·fy·fx, in float32
    out = rows_t[:, :, left] * (gy32 * gx)
    out += rows_t[:, :, right] * (gy32 * fx)
    out += rows_b[:, :, left] * (fy32 * gx)
    out += rows_b[:, :, right] * (fy32 * fx)
    return out


def build_tiled_tensor(
    image: np.ndarray, layout: TiledLayout, mean: tuple[float, float, float], scale: float = 256.0
) -> np.ndarray:
    """The ``(1, 3, rows, cols)`` float32 input tensor dlib builds for an RGB uint8 ``image``."""
    out = np.zeros((1, 3, layout.rows, layout.cols), np.float32)
    if not layout.rects:
        return out
    l0, t0, r0, b0 = layout.rects[0]
    planes = np.moveaxis(image, 2, 0).astype(np.float32)
    out[0, :, t0 : b0 + 1, l0 : r0 + 1] = (planes - np.array(mean, np.float32)[:, None, None]) / np.float32(scale)
    for prev, cur in zip(layout.rects, layout.rects[1:]):
        src = out[0, :, prev[1] : prev[3] + 1, prev[0] : prev[2] + 1]
        out[0, :, cur[1] : cur[3] + 1, cur[0] : cur[2] + 1] = resize_bilinear(
            src, cur[3] - cur[1] + 1, cur[2] - cur[0] + 1
        )
    return out
