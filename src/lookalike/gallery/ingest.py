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
from lookalike.faces.cache import EmbeddingCache
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


def ingest(gallery: Gallery, items: list[SourceItem], workers: int = 0, progress: bool = True,
           cache: EmbeddingCache | bool = True) -> IngestReport:
    """Add photos to ``gallery`` through its pipeline; see the module docstring."""
    workers = check_workers(workers)
    pipe = gallery.pipeline()
    report = IngestReport(total=len(items))
    emb_cache = EmbeddingCache() if cache is True else (cache or None)
    persons = {str(it.path): it.person for it in items}
    already = gallery.store.image_paths()
    todo = [(str(it.path), it.selection) for it in items if str(it.path) not in already]
    report.skipped_existing = len(items) - len(todo)
    bar = tqdm(total=len(items), initial=report.skipped_existing, desc="ingest", unit="photo",
               disable=not progress, smoothing=0.05)
    since_save = 0
    try:
        for out in process_many(pipe, todo, workers, emb_cache):
            person = persons[out.path]
            if out.photo is None:
                gallery.record_error(out.path, person, out.sha256, out.error or "unreadable")
                report.errors.append((out.path, out.error or "unreadable"))
            else:
                ids = gallery.add_photo(out.path, person, out.photo, out.sha256, pipe.key)
                report.added_images += 1
                report.added_faces += len(ids)
                report.cached += out.cached
                if not out.photo.boxes:
                    report.no_face.append(out.path)
            bar.update(1)
            since_save += 1
            if since_save >= SAVE_EVERY:
                gallery.save_index()
                since_save = 0
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        bar.close()
        gallery.save_index()
        if emb_cache is not None and cache is True:
            emb_cache.close()
    return report
