"""A corpus of broken, odd and hostile inputs, generated on the fly (never downloaded), with the documented answer.

Each case names the error type a user gets (``expect_error``) or the number of faces a correct answer has
(``min_faces``/``max_faces``). Shared by the CLI, Python API and REST API tests.
"""
from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    expect_error: str | None = None  # error type name, e.g. "UnreadableImageError"
    min_faces: int = 0
    max_faces: int = 10**6
    what: str = ""


def _png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _save(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def mosaic(photos: list[Path], cols: int) -> Image.Image:
    """Face photos tiled on a grid, each cropped to its centre so LFW's background faces are cut away."""
    tiles = [Image.open(p).convert("RGB").crop((45, 45, 205, 205)) for p in photos]
    w, h = tiles[0].size
    rows = -(-len(tiles) // cols)
    out = Image.new("RGB", (cols * w, rows * h), (128, 128, 128))
    for i, t in enumerate(tiles):
        out.paste(t, ((i % cols) * w, (i // cols) * h))
    return out


def build_corpus(folder: Path, lfw_root: Path, group_photos: Path, max_bytes: int) -> list[Case]:
    """Write every case into ``folder`` and return them."""
    folder.mkdir(parents=True, exist_ok=True)
    face = Image.open(lfw_root / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg").convert("RGB")
    jpeg, png = _save(face, "JPEG", quality=92), _save(face, "PNG")
    exif = Image.Exif()
    exif[0x0112] = 8  # rotated: displayed 90° counter-clockwise
    people = sorted(p for p in lfw_root.iterdir() if p.is_dir())[:200:5][:36]
    frames = [face, face.transpose(Image.Transpose.FLIP_LEFT_RIGHT), face.convert("L").convert("RGB")]
    cases: list[tuple[str, bytes, str | None, int, int, str]] = [
        ("empty.jpg", b"", "UnreadableImageError", 0, 0, "empty file"),
        ("random.jpg", np.random.default_rng(1).integers(0, 256, 50_000, dtype=np.uint8).tobytes(),
         "UnreadableImageError", 0, 0, "random bytes"),
        ("text.jpg", b"not a photo\n" * 100, "UnreadableImageError", 0, 0, "text named .jpg"),
        ("truncated.jpg", jpeg[: len(jpeg) // 3], "UnreadableImageError", 0, 0, "truncated JPEG"),
        ("truncated.png", png[: len(png) // 3], "UnreadableImageError", 0, 0, "truncated PNG"),
        ("zero.png", _png_claiming(0, 0), "UnreadableImageError", 0, 0, "0×0 image"),
        ("one-pixel.png", _save(Image.new("RGB", (1, 1)), "PNG"), "NoFaceError", 0, 0, "1×1 image"),
        ("bomb.png", _png_claiming(30_000, 30_000), "ImageTooLargeError", 0, 0,
         "30,000×30,000 PNG (decompression bomb)"),
        ("too-big.jpg", jpeg + b"\0" * (max_bytes + 1 - len(jpeg)), "ImageTooLargeError", 0, 0,
         "file larger than the upload cap"),
        ("animated.gif", _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100), None, 1, 1,
         "animated GIF (first frame used)"),
        ("cmyk.jpg", _save(face.convert("CMYK"), "JPEG"), None, 1, 1, "CMYK JPEG"),
        ("16bit.png", _save(face.convert("I").point(lambda v: v * 256).convert("I;16"), "PNG"), None, 1, 1,
         "16-bit grayscale PNG"),
        ("rgba.png", _save(face.convert("RGBA"), "PNG"), None, 1, 1, "RGBA PNG"),
        ("exif-rotated.jpg", _save(face.transpose(Image.Transpose.ROTATE_270), "JPEG", exif=exif.tobytes()), None,
         1, 1, "EXIF-rotated JPEG"),
        ("no-face.jpg", (group_photos / "dlib_dogs_NO_HUMAN_FACES.jpg").read_bytes(), "NoFaceError", 0, 0,
         "photo with no face"),
        ("36-faces.jpg", _save(mosaic([min(p.iterdir()) for p in people], 6), "JPEG", quality=92), None,
         34, 36, "photo with 36 faces"),
    ]
    out = []
    for name, data, err, lo, hi, what in cases:
        path = folder / name
        path.write_bytes(data)
        out.append(Case(name, path, err, lo, hi, what))
    return out
