"""The Python API in a few calls, each a thin wrapper over one use case (:mod:`lookalike.usecases`).

>>> import lookalike
>>> report = lookalike.build_gallery("../shared/datasets/lfw")        # doctest: +SKIP
>>> for face in lookalike.search("photo.jpg", k=5):                  # doctest: +SKIP
...     print(face.box, [(n.person, round(n.similarity)) for n in face.neighbours])

Every call takes ``gallery=`` (a folder; default: the per-user data folder, see
:func:`lookalike.settings.default_gallery`). For many queries keep a :class:`Gallery` open with
:func:`open_gallery` so the models load once, and call the use cases on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lookalike.faces.spec import PipelineSpec
from lookalike.gallery.gallery import Gallery
from lookalike.gallery.ingest import IngestReport
from lookalike.gallery.sources import SourceItem
from lookalike.settings import default_gallery
from lookalike.usecases import identify as _identify
from lookalike.usecases import ingest as _ingest
from lookalike.usecases import remove as _remove
from lookalike.usecases import search as _search
from lookalike.usecases import verify as _verify
from lookalike.usecases.search import FaceMatches


def open_gallery(gallery: str | Path | None = None, index: str | None = None, create: bool = True,
                 spec: PipelineSpec | None = None, **index_params: Any) -> Gallery:
    """Open (or create) a gallery folder; close it with ``.close()`` or use it in a ``with`` block."""
    return Gallery.open(gallery or default_gallery(), index=index, create=create, spec=spec, **index_params)


def build_gallery(source: str | Path | list[SourceItem], gallery: str | Path | None = None, *,
                  index: str | None = None, spec: PipelineSpec | None = None, workers: int = 0,
                  people: int | None = None, min_images: int = 1, seed: int = 0,
                  progress: bool = True) -> IngestReport:
    """Add the photos of a source (LFW folder, CelebA identity file, folder per person, photos).

    Already-stored photos are skipped, so calling it again resumes an interrupted build.
    """
    return _ingest.build_gallery(gallery or default_gallery(), source, index=index, spec=spec, workers=workers,
                                 people=people, min_images=min_images, seed=seed, progress=progress)


def search(photo: str | Path | bytes, k: int = 10, gallery: str | Path | None = None,
           exclude_self: bool = False) -> list[FaceMatches]:
    """The ``k`` most similar gallery faces for every face in a photo (largest face first)."""
    with open_gallery(gallery, create=False) as g:
        return _search.search_photo(g, photo, k, exclude_self=exclude_self).faces


def identify(photo: str | Path | bytes, k: int = _identify.DEFAULT_VOTERS, gallery: str | Path | None = None,
             threshold: float | None = None) -> dict[str, Any]:
    """Who is each face of the photo, or "unknown"?"""
    with open_gallery(gallery, create=False) as g:
        return _identify.identify_photo(g, photo, k, threshold).as_dict()


def verify(photo_a: str | Path | bytes, photo_b: str | Path | bytes, threshold: float | None = None,
           gallery: str | Path | None = None) -> dict[str, Any]:
    """Are the largest faces of two photos the same person? With ``gallery``, its pipeline and
    calibrated threshold; otherwise the default pipeline and its model's own threshold."""
    if gallery is None:
        from lookalike.faces.pipeline import FacePipeline

        return _verify.verify_photos(FacePipeline(), photo_a, photo_b, threshold)
    with open_gallery(gallery, create=False) as g:
        thr = g.threshold if threshold is None else threshold
        return _verify.verify_photos(g.pipeline(), photo_a, photo_b, thr)


def remove(face_ids: list[int] | None = None, person: str | None = None,
           gallery: str | Path | None = None) -> list[int]:
    """Remove faces by id and/or every face of a person; returns the removed ids."""
    _remove.check_request(face_ids, person)
    with open_gallery(gallery, create=False) as g:
        return _remove.remove(g, face_ids, person)


def info(gallery: str | Path | None = None) -> dict[str, Any]:
    """Counts, model, pipeline and index of a gallery."""
    with open_gallery(gallery, create=False) as g:
        return g.info()
