"""Reading uploaded files within the byte cap, and keeping enrolled photos in the gallery folder."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from starlette.datastructures import UploadFile

from lookalike.errors import ImageTooLargeError, UnreadableImageError
from lookalike.gallery.gallery import atomic_write_bytes

UPLOADS_DIR = "uploads"
_SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif"}


async def read_upload(upload: UploadFile | str | None, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of an uploaded file, refusing more than ``max_bytes`` without reading them all."""
    if upload is None or isinstance(upload, str):
        raise UnreadableImageError(f"send the photo as a file in the multipart field '{what}'")
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageTooLargeError(f"the file is larger than {max_bytes / 2**20:.1f} MiB")
    if not data:
        raise UnreadableImageError("the file is empty")
    return data


def keep_photo(gallery_root: Path, data: bytes, sha256: str) -> Path:
    """Store an enrolled photo as ``<gallery>/uploads/<sha256>.<ext>``.

    The name comes from the content, never from the request."""
    try:
        fmt = Image.open(io.BytesIO(data)).format or ""
    except Exception:  # noqa: BLE001  (it decoded a moment ago; keep it whatever PIL says now)
        fmt = ""
    folder = gallery_root / UPLOADS_DIR
    folder.mkdir(exist_ok=True)
    path = folder / f"{sha256}{_SUFFIX.get(fmt, '.img')}"
    if not path.exists():
        atomic_write_bytes(path, data)
    return path
