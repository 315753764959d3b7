"""Build a gallery: add the photos of a source (LFW, CelebA identity file, folder per person, photos)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lookalike.faces.spec import PipelineSpec
from lookalike.gallery.gallery import Gallery
from lookalike.gallery.ingest import IngestReport, ingest
from lookalike.gallery.sources import SourceItem, detect_source, sample_people
from lookalike.settings import datasets_dir


def resolve_source(source: str | Path) -> tuple[str, list[SourceItem]]:
    """A path, or the name of a data set in the data-set folder (``lfw``) → (kind, photos)."""
    path = Path(source)
    if not path.exists() and "/" not in str(source) and (datasets_dir() / str(source)).exists():
        path = datasets_dir() / str(source)
    return detect_source(path)


def build_gallery(gallery_path: str | Path, source: str | Path | list[SourceItem], *, index: str | None = None,
                  spec: PipelineSpec | None = None, workers: int = 0, people: int | None = None,
                  min_images: int = 1, seed: int = 0, progress: bool = True,
                  index_params: dict[str, Any] | None = None, ray: str | None = None) -> IngestReport:
    """Add a source's photos to the gallery at ``gallery_path`` (created if needed), resumably.

    ``people`` keeps a seeded random sample of that many people with at least ``min_images`` photos.
    ``index_params`` go to the index (e.g. ``{"uri": "http://host:19530"}`` for a Milvus server).
    ``ray``: run the pipeline on Ray actors — ``"local"`` starts Ray here, else a cluster address.
    """
    items = source if isinstance(source, list) else resolve_source(source)[1]
    items = sample_people(items, people, min_images, seed)
    with Gallery.open(gallery_path, index=index, spec=spec, **(index_params or {})) as g:
        if ray:
            from lookalike.gallery.ray_ingest import ray_ingest

            return ray_ingest(g, items, address=None if ray == "local" else ray, actors=workers, progress=progress)
        return ingest(g, items, workers=workers, progress=progress)
