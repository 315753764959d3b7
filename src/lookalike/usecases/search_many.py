"""Search many photos at once: files and folders (recursing into their images), one gallery opened
once, and one flat row per photo × face × match for CSV output. A photo that cannot be searched (no
face, unreadable) gives its error and the others go on."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lookalike.errors import ImageError, LookalikeError, NoFaceError
from lookalike.gallery.gallery import Gallery
from lookalike.gallery.sources import IMAGE_SUFFIXES
from lookalike.usecases.search import PhotoMatches, search_photo

#: the CSV columns, in order
CSV_FIELDS = ["photo", "face", "left", "top", "right", "bottom", "rank", "person", "distance", "similarity",
              "face_id", "image", "error"]


def expand_photos(paths: Sequence[str | Path]) -> list[Path]:
    """The photos named: files as given, folders replaced by the images anywhere inside them (by file
    extension, hidden files and folders skipped, in path order). Raises for a missing path or a folder
    without images."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            found = sorted(
                f for f in p.rglob("*")
                if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
            if not found:
                raise LookalikeError(f"{p} holds no photos ({', '.join(sorted(IMAGE_SUFFIXES))})")
            out.extend(found)
        else:
            raise LookalikeError(f"{p}: no such file or folder")
    return out


@dataclass
class PhotoResult:
    """One photo's answer: its matches, or the error that stopped it."""

    photo: Path
    matches: PhotoMatches | None = None
    error: ImageError | NoFaceError | None = None

    def as_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return {"photo": str(self.photo), "error": {"type": type(self.error).__name__, "message": str(self.error)}}
        assert self.matches is not None
        return {"photo": str(self.photo), "face_count": self.matches.face_count,
                "faces": [f.as_dict() for f in self.matches.faces]}


def search_many(gallery: Gallery, photos: Iterable[Path], k: int = 10, *,
                exclude_self: bool = False) -> Iterator[PhotoResult]:
    """Search every face of every photo, one photo at a time (results come as they are ready)."""
    for p in photos:
        try:
            yield PhotoResult(p, search_photo(gallery, p.resolve(), k, exclude_self=exclude_self))
        except (ImageError, NoFaceError) as exc:  # this photo only; a gallery problem stops the run
            yield PhotoResult(p, error=exc)


def csv_rows(result: PhotoResult) -> Iterator[dict[str, Any]]:
    """One row per face × match of a photo (columns :data:`CSV_FIELDS`); one row with the error for a
    photo that failed."""
    if result.error is not None or result.matches is None:
        yield {"photo": str(result.photo), "error": str(result.error)}
        return
    for face in result.matches.faces:
        for n in face.neighbours:
            yield {"photo": str(result.photo), "face": face.number, **face.box, "rank": n.rank,
                   "person": n.person or "", "distance": f"{n.distance:.6f}", "similarity": f"{n.similarity:.2f}",
                   "face_id": n.face_id, "image": n.image, "error": ""}
