"""Look-alike search: every face of a photo and its nearest gallery faces."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lookalike.errors import NoFaceError
from lookalike.faces.image import MAX_BYTES, MAX_PIXELS
from lookalike.faces.pipeline import PhotoFaces, Selection, Timings
from lookalike.gallery.gallery import Gallery, Neighbour


@dataclass
class FaceMatches:
    """A face found in the query photo (``number`` 1 = largest) and its nearest gallery faces."""

    number: int
    box: dict[str, int]
    neighbours: list[Neighbour]

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "box": self.box, "neighbours": [n.as_dict() for n in self.neighbours]}


@dataclass
class PhotoMatches:
    """What one query photo gave: its size, how many faces it shows, and the searched ones."""

    width: int
    height: int
    face_count: int
    faces: list[FaceMatches]

    def as_dict(self) -> dict[str, Any]:
        return {"width": self.width, "height": self.height, "face_count": self.face_count,
                "faces": [f.as_dict() for f in self.faces]}


def analyze(gallery: Gallery, photo: str | Path | bytes, select: Selection = "all", *,
            max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS, max_faces: int | None = None,
            timings: Timings | None = None) -> PhotoFaces:
    """The selected faces of a photo through the gallery's pipeline; raises :class:`NoFaceError` if none."""
    res = gallery.pipeline().process(photo, select, max_bytes=max_bytes, max_pixels=max_pixels,
                                     max_faces=max_faces, timings=timings)
    if not res.faces:
        raise NoFaceError("no face was found in the photo")
    return res


def search_photo(gallery: Gallery, photo: str | Path | bytes, k: int = 10, *, exclude_self: bool = False,
                 select: Selection = "all", timings: Timings | None = None, **caps: Any) -> PhotoMatches:
    """The ``k`` nearest gallery faces of each selected face (largest first).

    ``exclude_self`` skips gallery faces that come from the same photo content, however its path is spelled.
    """
    t = timings or Timings()
    res = analyze(gallery, photo, select, timings=t, **caps)
    exclude = gallery.store.paths_with_sha256(res.sha256) if exclude_self else None
    with t.stage("search"):
        rows = gallery.search_vectors(res.vectors(), k, exclude)
    faces = [FaceMatches(f.number, f.box.as_dict(), r) for f, r in zip(res.faces, rows)]
    return PhotoMatches(res.width, res.height, res.face_count, faces)
