"""The Python API in a few calls.

>>> import lookalike
>>> report = lookalike.build_gallery("../shared/datasets/lfw")        # doctest: +SKIP
>>> for face in lookalike.search("photo.jpg", k=5):                  # doctest: +SKIP
...     print(face.box, [(n.person, round(n.similarity)) for n in face.neighbours])

Every call takes ``gallery=`` (a folder; default: the per-user data folder, see
:func:`lookalike.settings.default_gallery`). For many queries keep a :class:`Gallery` open with
:func:`open_gallery` so the models load once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lookalike.gallery.gallery import FaceMatches, Gallery
from lookalike.gallery.ingest import IngestReport
from lookalike.gallery.sources import SourceItem, detect_source, sample_people
from lookalike.settings import default_gallery


def open_gallery(gallery: str | Path | None = None, index: str | None = None, create: bool = True,
                 **index_params: Any) -> Gallery:
    """Open (or create) a gallery folder; close it with ``.close()`` or use it in a ``with`` block."""
    return Gallery.open(gallery or default_gallery(), index=index, create=create, **index_params)


def build_gallery(
    source: str | Path | list[SourceItem],
    gallery: str | Path | None = None,
    *,
    index: str | None = None,
    embedder: str | None = None,
    detector: str = "hog",
    workers: int = 0,
    people: int | None = None,
    min_images: int = 1,
    seed: int = 0,
    progress: bool = True,
) -> IngestReport:
    """Add the photos of a source (LFW folder, CelebA identity file, folder per person, photos).

    Already-stored photos are skipped, so calling it again resumes an interrupted build.
    ``people`` keeps a seeded random sample of that many people with at least ``min_images`` photos.
    """
    items = source if isinstance(source, list) else detect_source(source)[1]
    items = sample_people(items, people, min_images, seed)
    with open_gallery(gallery, index=index) as g:
        return g.ingest(items, embedder=embedder, detector=detector, workers=workers, progress=progress)


def search(photo: str | Path | bytes, k: int = 10, gallery: str | Path | None = None,
           exclude_self: bool = False) -> list[FaceMatches]:
    """The ``k`` most similar gallery faces for every face in a photo (largest face first)."""
    with open_gallery(gallery, create=False) as g:
        return g.search_photo(photo, k=k, exclude_self=exclude_self)


def remove(face_ids: list[int] | None = None, person: str | None = None,
           gallery: str | Path | None = None) -> list[int]:
    """Remove faces by id and/or every face of a person; returns the removed ids."""
    with open_gallery(gallery, create=False) as g:
        gone = g.remove_faces(list(face_ids or []))
        if person:
            gone += g.remove_person(person)
        return gone


def info(gallery: str | Path | None = None) -> dict[str, Any]:
    """Counts, model and index of a gallery."""
    with open_gallery(gallery, create=False) as g:
        return g.info()
