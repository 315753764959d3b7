"""Enrol: add photos of a named person to a gallery (the REST API's and the page's way in)."""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from lookalike.errors import ImageError, LookalikeError, NoFaceError
from lookalike.faces.cache import CachedPhoto
from lookalike.faces.image import MAX_BYTES, MAX_PIXELS
from lookalike.gallery.gallery import Gallery
from lookalike.gallery.owned_files import UPLOADS_DIR, discard_unreferenced
from lookalike.io import atomic_write_bytes

__all__ = ["UPLOADS_DIR", "EnrolResult", "clean_name", "enrol", "keep_photo"]
MAX_NAME = 200
_SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif"}


def clean_name(person: str) -> str:
    """A person's name as stored: trimmed, NFC, printable, at most 200 characters."""
    name = unicodedata.normalize("NFC", person.strip())
    if not name:
        raise LookalikeError("the person's name is empty")
    if len(name) > MAX_NAME or any(unicodedata.category(ch).startswith("C") for ch in name):
        raise LookalikeError(f"the person's name must be printable text of at most {MAX_NAME} characters")
    return name


def keep_photo(gallery_root: Path, data: bytes, sha256: str) -> Path:
    """Store an enrolled photo as ``<gallery>/uploads/<sha256>.<ext>`` (the name comes from the content)."""
    try:
        fmt = Image.open(io.BytesIO(data)).format or ""
    except Exception:  # noqa: BLE001  (it decoded a moment ago; keep it whatever PIL says now)
        fmt = ""
    path = gallery_root / UPLOADS_DIR / f"{sha256}{_SUFFIX.get(fmt, '.img')}"
    atomic_write_bytes(path, data)  # always: a concurrent delete may have just removed an old copy
    return path


def _already(person: str | None) -> str:
    who = f" as {person!r}" if person else ""
    return f"this photo (same content) is already in the gallery{who}"


@dataclass
class EnrolResult:
    person: str
    added: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"person": self.person, "added": self.added, "skipped": self.skipped}


def enrol(gallery: Gallery, person: str, photos: list[tuple[str, bytes]], *, max_bytes: int = MAX_BYTES,
          max_pixels: int = MAX_PIXELS) -> EnrolResult:
    """Add ``(filename, bytes)`` photos of ``person``: each gives its labelled face (the spec's rule,
    as in ingest and evaluation); photos already in the gallery (same content) are skipped."""
    result = EnrolResult(clean_name(person))
    pipe = gallery.pipeline()
    for filename, data in photos:
        try:
            res = pipe.process_bytes(data, "labelled", max_bytes=max_bytes, max_pixels=max_pixels, require_face=True)
        except (ImageError, NoFaceError) as exc:
            result.skipped.append({"file": filename, "reason": str(exc)})
            result.failures.append(exc)
            continue
        f = res.faces[0]
        if held := gallery.store.owner_of_content(res.sha256):  # the same photo, under any name or person
            result.skipped.append({"file": filename, "reason": _already(held[1])})
            continue
        path = keep_photo(gallery.root, data, res.sha256)
        photo = CachedPhoto(res.width, res.height, [(f.box.left, f.box.top, f.box.right, f.box.bottom)],
                            [f.score], f.embedding[None, :], f.how)
        ids = gallery.add_photo(str(path), result.person, photo, res.sha256, pipe.key, unique_content=True)
        if not ids:  # enrolled a moment ago by another request or process
            discard_unreferenced(gallery.root, gallery.store, [str(path)])
            held = gallery.store.owner_of_content(res.sha256)
            result.skipped.append({"file": filename, "reason": _already(held[1] if held else None)})
            continue
        result.added.append({"file": filename, "face_id": ids[0], "box": f.box.as_dict()})
    if result.added:
        gallery.save_index()
    return result
