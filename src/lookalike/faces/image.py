"""Safe image decoding: by content, with byte and pixel caps checked before the pixels are allocated.

Every image comes out as an RGB ``uint8`` array of shape ``(h, w, 3)``, EXIF orientation applied,
whatever it came in as (grayscale, palette, RGBA, CMYK, 16-bit, animated GIF's first frame).
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from lookalike.errors import ImageTooLargeError, UnreadableImageError

#: default caps: 25 MB of bytes, 40 megapixels (a 7,000 × 5,700 photo)
MAX_BYTES = 25 * 1024 * 1024
MAX_PIXELS = 40_000_000


def _mib(n: int) -> str:
    return f"{n:,} bytes ({n / 2**20:.1f} MiB)"


def read_bytes(path: str | Path, max_bytes: int = MAX_BYTES) -> bytes:
    """Read a file, refusing one larger than ``max_bytes`` before reading it."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise UnreadableImageError(f"cannot read {p}: {exc.strerror or exc}") from exc
    if not p.is_file():
        raise UnreadableImageError(f"{p} is not a file")
    if size > max_bytes:
        raise ImageTooLargeError(f"{p} is {_mib(size)}; the limit is {_mib(max_bytes)}")
    return p.read_bytes()


def decode_image(data: bytes, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode image bytes to an RGB uint8 array, or raise a typed error saying why not."""
    if not data:
        raise UnreadableImageError("the file is empty")
    if len(data) > max_bytes:
        raise ImageTooLargeError(f"the file is {_mib(len(data))}; the limit is {_mib(max_bytes)}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))  # reads the header only
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
            size = re.search(r"\((\d+) pixels\)", str(exc))
            claimed = f"{int(size.group(1)) / 1e6:,.0f} megapixels" if size else "too many pixels"
            raise ImageTooLargeError(
                f"the image has {claimed}; the limit is {max_pixels / 1e6:.0f} (refused before decoding)"
            ) from exc
        raise UnreadableImageError("the data is not an image in a format lookalike can read") from exc
    except Exception as exc:  # PIL raises a zoo of errors on hostile headers
        raise UnreadableImageError(f"the image is truncated or damaged: {exc}") from exc
    w, h = img.size
    if w < 1 or h < 1:
        raise UnreadableImageError(f"the image has no pixels ({w}×{h})")
    if w * h > max_pixels:
        raise ImageTooLargeError(
            f"the image is {w}×{h} = {w * h / 1e6:.1f} megapixels; the limit is {max_pixels / 1e6:.0f}"
        )
    try:
        img.seek(0)  # first frame of an animation
        img.load()
        img = ImageOps.exif_transpose(img) or img
        arr = _to_rgb(img)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise UnreadableImageError(f"the image data is truncated or damaged: {exc}") from exc
    return arr


def load_image(path: str | Path, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read and decode an image file (see :func:`decode_image`)."""
    try:
        return decode_image(read_bytes(path, max_bytes), max_bytes, max_pixels)
    except UnreadableImageError as exc:
        raise UnreadableImageError(f"{path}: {exc}") from exc
    except ImageTooLargeError as exc:
        raise ImageTooLargeError(f"{path}: {exc}") from exc


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Convert any PIL mode to RGB uint8, scaling 16-bit and float data rather than clipping it."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        if mode == "F":
            hi = max(float(a.max()), 1e-12)
        g = np.clip(a / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(g[:, :, None], 3, axis=2))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))
