"""Turning photos into stored faces: on every core, resumable, reusing cached embeddings.

Photos go through the gallery's own pipeline (:func:`lookalike.faces.batch.process_many`): labelled
photos give their labelled face by the spec's rule — the same face the evaluation measures —,
unlabelled photos every face. Photos already in the store are skipped, so an interrupted ingest
continues where it stopped; unreadable photos and photos without a face are recorded, not fatal.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from tqdm import tqdm

from lookalike.errors import LookalikeError
from lookalike.faces.batch import process_many
from lookalike.faces.cache import CachedPhoto, EmbeddingCache
from lookalike.gallery.gallery import Gallery
from lookalike.gallery.sources import SourceItem

#: photos between index checkpoints
SAVE_EVERY = 500


@dataclass
class IngestReport:
    """What an ingest did."""

    total: int = 0
    skipped_existing: int = 0
    added_images: int = 0
    added_faces: int = 0
    cached: int = 0
    no_face: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False

    def summary(self) -> dict[str, int | bool]:
        return {"photos": self.total, "added_images": self.added_images, "added_faces": self.added_faces,
                "skipped_existing": self.skipped_existing, "from_cache": self.cached,
                "no_face": len(self.no_face), "errors": len(self.errors), "interrupted": self.interrupted}


def check_workers(workers: int) -> int:
    if workers < 0:
        raise LookalikeError("workers must be ≥ 0 (0 = one per core)")
    return workers or (os.cpu_count() or 1)


class Recorder:
    """Writes each photo's outcome to the gallery and the report, with a progress bar and index
    checkpoints; shared by the default ingest and the Ray ingest. ``todo`` lists the photos not stored yet."""

    def __init__(self, gallery: Gallery, items: list[SourceItem], progress: bool, desc: str = "ingest",
                 cache: EmbeddingCache | bool = True) -> None:
        self.gallery = gallery
        self.report = IngestReport(total=len(items))
        self.cache = EmbeddingCache() if cache is True else (cache or None)
        self._own_cache = cache is True
        self.persons = {str(it.path): it.person for it in items}
        already = gallery.store.image_paths()
        self.todo = [(str(it.path), it.selection) for it in items if str(it.path) not in already]
        self.report.skipped_existing = len(items) - len(self.todo)
        self.bar = tqdm(total=len(items), initial=self.report.skipped_existing, desc=desc, unit="photo",
                        disable=not progress, smoothing=0.05)
        self._since_save = 0

    def record(self, path: str, sha256: str, photo: CachedPhoto | None, error: str = "", cached: bool = False) -> None:
        """Store one photo's faces (or remember why it could not be used) and count it."""
        person, rep = self.persons[path], self.report
        if photo is None:
            self.gallery.record_error(path, person, sha256, error or "unreadable")
            rep.errors.append((path, error or "unreadable"))
        else:
            ids = self.gallery.add_photo(path, person, photo, sha256, self.gallery.spec.key)
            rep.added_images += 1
            rep.added_faces += len(ids)
            rep.cached += cached
            if not photo.boxes:
                rep.no_face.append(path)
        self.bar.update(1)
        self._since_save += 1
        if self._since_save >= SAVE_EVERY:
            self.gallery.save_index()
            self._since_save = 0

    def close(self) -> None:
        self.bar.close()
        self.gallery.save_index()
        if self.cache is not None and self._own_cache:
            self.cache.close()


def ingest(gallery: Gallery, items: list[SourceItem], workers: int = 0, progress: bool = True,
           cache: EmbeddingCache | bool = True) -> IngestReport:
    """Add photos to ``gallery`` through its pipeline; see the module docstring."""
    workers = check_workers(workers)
    rec = Recorder(gallery, items, progress, "ingest", cache)
    try:
        for out in process_many(gallery.pipeline(), rec.todo, workers, rec.cache):
            rec.record(out.path, out.sha256, out.photo, out.error or "", out.cached)
    except KeyboardInterrupt:
        rec.report.interrupted = True
    finally:
        rec.close()
    return rec.report
