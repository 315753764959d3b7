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


def _axis_positions_simd(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source columns and fractions along the column axis, as dlib's SSE loop computes them.

    ``resize_image`` for float images steps four lanes at once with float32 positions
    (``x_j += float32(4·scale)`` accumulated in float32, truncated to an int); once lane 3's right
    neighbour would leave the image, the remaining columns use a double loop. The float32 drift
    of those positions (up to ~0.004 px on a 640-pixel row) is reproduced.
    """
    scale = (n_in - 1) / max(n_out - 1, 1)
    steps = n_out // 4 + 2
    start = np.array([-4 * scale + j * scale for j in range(4)], np.float32)
    incr = np.empty((steps + 1, 4), np.float32)
    incr[0] = start
    incr[1:] = np.float32(4 * scale)
    xs = np.add.accumulate(incr, axis=0, dtype=np.float32)[1:]  # sequential float32 additions
    lf = xs.astype(np.int64)  # _mm_cvttps_epi32 (truncation)
    inside = lf[:, 3] + 1 < n_in
    n_simd = int(np.argmin(inside)) if not inside.all() else steps
    c = 4 * n_simd
    left = np.empty(n_out, np.int64)
    frac = np.empty(n_out, np.float32)
    left[:c] = lf[:n_simd].reshape(-1)
    frac[:c] = (xs[:n_simd] - lf[:n_simd].astype(np.float32)).reshape(-1)
    x = -scale + c * scale
    for cc in range(c, n_out):  # the tail: double positions
        x += scale
        left[cc] = math.floor(x)
        frac[cc] = np.float32(x - math.floor(x))
    return left, np.minimum(left + 1, n_in - 1), frac


def _axis_positions_rows(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source rows and fractions: ``y`` accumulated in double from ``-scale``."""
    scale = (n_in - 1) / max(n_out - 1, 1)
    incr = np.full(n_out + 1, scale)
    incr[0] = -scale
    ys = np.add.accumulate(incr)[1:]  # sequential double additions, like dlib's loop
    top = np.floor(ys).astype(np.int64)
    return top, np.minimum(top + 1, n_in - 1), ys - top


@lru_cache(maxsize=1024)
def _resize_matrices(rows_in: int, cols_in: int, rows_out: int, cols_out: int, channels: int):
    """Sparse ``(Ry, RxT)`` with ``out[c] = Ry @ in[c] @ RxT`` (Ry block-diagonal over channels)."""
    import scipy.sparse as sp

    left, right, fx = _axis_positions_simd(cols_in, cols_out)
    top, bottom, fy = _axis_positions_rows(rows_in, rows_out)
    cols = np.arange(cols_out)
    rxt = sp.csr_matrix(
        (
            np.concatenate([1 - fx, fx]).astype(np.float32),
            (np.concatenate([left, right]), np.concatenate([cols, cols])),
        ),
        shape=(cols_in, cols_out),
    )
    rows = np.arange(rows_out)
    ry = sp.csr_matrix(
        (
            np.concatenate([1 - fy, fy]).astype(np.float32),
            (np.concatenate([rows, rows]), np.concatenate([top, bottom])),
        ),
        shape=(rows_out, rows_in),
    )
    return sp.block_diag([ry] * channels, format="csr"), rxt


def resize_bilinear(src: np.ndarray, out_rows: int, out_cols: int) -> np.ndarray:
    """dlib's corner-aligned bilinear resize of a ``(channels, rows, cols)`` float32 array.

    Separable (columns, then rows) as two sparse products; the sampling positions are dlib's,
    the weights its ``(1-f)·a + f·b``; only the float32 summation order differs (~1e-7).
    """
    ch, rows, cols = src.shape
    ry, rxt = _resize_matrices(rows, cols, out_rows, out_cols, ch)
    flat = np.ascontiguousarray(src).reshape(ch * rows, cols)
    tmp = (rxt.T @ flat.T).T  # (ch·rows, out_cols)
    out = ry @ np.ascontiguousarray(tmp, dtype=np.float32)
    return np.asarray(out, dtype=np.float32).reshape(ch, out_rows, out_cols)


def normalize(image: np.ndarray, mean: tuple[float, float, float], scale: float = 256.0) -> np.ndarray:
    """``(pixel - mean[c]) / scale`` as ``(3, rows, cols)`` float32 planes (dlib's ``to_tensor``)."""
    planes = np.moveaxis(image, 2, 0).astype(np.float32)
    planes -= np.array(mean, np.float32)[:, None, None]
    planes /= np.float32(scale)
    return planes


def build_tiled_tensor(
    image: np.ndarray, layout: TiledLayout, mean: tuple[float, float, float], scale: float = 256.0
) -> np.ndarray:
    """The ``(1, 3, rows, cols)`` float32 input tensor dlib builds for an RGB uint8 ``image``."""
    return tile_planes(normalize(image, mean, scale), layout)


def tile_planes(planes: np.ndarray, layout: TiledLayout) -> np.ndarray:
    """Tile already normalised ``(3, rows, cols)`` planes and their pyramid into one tensor."""
    out = np.zeros((1, planes.shape[0], layout.rows, layout.cols), np.float32)
    if not layout.rects:
        return out
    l0, t0, r0, b0 = layout.rects[0]
    out[0, :, t0 : b0 + 1, l0 : r0 + 1] = planes
    prev_img = planes
    for cur in layout.rects[1:]:
        prev_img = resize_bilinear(prev_img, cur[3] - cur[1] + 1, cur[2] - cur[0] + 1)
        out[0, :, cur[1] : cur[3] + 1, cur[0] : cur[2] + 1] = prev_img
    return out


def pyramid_level(planes: np.ndarray, levels: int, n: int = 6) -> np.ndarray:
    """Level ``levels`` of the pyramid of ``planes``, exactly as it appears in dlib's tiled tensor."""
    sizes = level_sizes(planes.shape[1], planes.shape[2], n)
    for rows, cols in sizes[1 : levels + 1]:
        planes = resize_bilinear(planes, rows, cols)
    return planes
