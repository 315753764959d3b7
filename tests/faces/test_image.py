"""Safe decoding: every kind of bad input gets a typed error; odd but valid images become RGB uint8."""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lookalike.errors import ImageTooLargeError, UnreadableImageError
from lookalike.faces.image import decode_image, read_bytes


def encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width×height`` with a tiny IDAT: a decompression bomb must be refused from the header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def photo(lfw_root: Path) -> Image.Image:
    return Image.open(lfw_root / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg").convert("RGB")


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)), "not an image"),
        (b"hello, I am a text file named photo.jpg\n" * 20, "not an image"),
    ],
    ids=["empty", "random-bytes", "text"],
)
def test_non_images_are_unreadable(data: bytes, message: str) -> None:
    with pytest.raises(UnreadableImageError, match=message):
        decode_image(data)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_images_are_unreadable(photo: Image.Image, fmt: str) -> None:
    data = encode(photo, fmt)
    with pytest.raises(UnreadableImageError, match="truncated|damaged|not an image"):
        decode_image(data[: len(data) // 2])


def test_decompression_bomb_refused_before_decoding() -> None:
    with pytest.raises(ImageTooLargeError, match="pixels"):
        decode_image(png_header_only(30_000, 30_000))


def test_byte_cap(photo: Image.Image, tmp_path: Path) -> None:
    data = encode(photo, "PNG")
    with pytest.raises(ImageTooLargeError, match="limit"):
        decode_image(data, max_bytes=len(data) - 1)
    f = tmp_path / "big.png"
    f.write_bytes(data)
    with pytest.raises(ImageTooLargeError, match="limit"):
        read_bytes(f, max_bytes=len(data) - 1)


def test_missing_and_directory_paths(tmp_path: Path) -> None:
    with pytest.raises(UnreadableImageError, match="cannot read"):
        read_bytes(tmp_path / "nope.jpg")
    with pytest.raises(UnreadableImageError, match="not a file"):
        read_bytes(tmp_path)


def test_zero_sized_image_refused() -> None:
    with pytest.raises(UnreadableImageError):
        decode_image(png_header_only(0, 0))


@pytest.mark.parametrize(
    "mode, fmt",
    [("L", "PNG"), ("RGBA", "PNG"), ("CMYK", "JPEG"), ("I;16", "PNG"), ("P", "GIF"), ("1", "PNG"), ("LA", "PNG")],
)
def test_odd_modes_become_rgb(photo: Image.Image, mode: str, fmt: str) -> None:
    img = photo.convert("I").point(lambda v: v * 256).convert("I;16") if mode == "I;16" else photo.convert(mode)
    out = decode_image(encode(img, fmt))
    assert out.dtype == np.uint8 and out.shape == (photo.height, photo.width, 3)
    if mode in ("L", "RGBA", "CMYK", "I;16", "LA"):
        ref = np.asarray(photo.convert("L"), dtype=np.float32)
        assert abs(out.mean(axis=2) - ref).mean() < 12  # same picture, not garbage


def test_exif_orientation_applied(photo: Image.Image) -> None:
    wide = photo.crop((0, 0, 250, 120))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    out = decode_image(encode(wide, "JPEG", exif=exif.tobytes()))
    assert out.shape == (250, 120, 3)
    expected = np.asarray(wide.transpose(Image.Transpose.ROTATE_270), dtype=np.float32)
    assert np.abs(out.astype(np.float32) - expected).mean() < 8


def test_one_pixel_image_decodes() -> None:
    out = decode_image(encode(Image.new("RGB", (1, 1), (10, 20, 30)), "PNG"))
    assert out.shape == (1, 1, 3) and tuple(out[0, 0]) == (10, 20, 30)
