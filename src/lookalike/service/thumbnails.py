"""Gallery pictures for the page: the aligned face chip and the whole photo, found by face id only.

No part of a request reaches the filesystem: the id is looked up in the store, and the store's own
record says which file to read. Everything is decoded with the safe decoder and re-encoded as JPEG,
so whatever a gallery file really contains, the browser gets a plain JPEG.
"""

from __future__ import annotations

import io
import os
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
from PIL import Image

from lookalike.errors import ImageError
from lookalike.faces.detect import Box
from lookalike.faces.image import load_image
from lookalike.faces.pipeline import FacePipeline
from lookalike.gallery.store import FaceRecord, Store
from lookalike.service.http_errors import NotFoundError

#: longest side of a served full photo
FULL_MAX_SIDE = 1280
JPEG_QUALITY = 88


def _jpeg(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def _version(path: str) -> tuple[int, ...]:
    """The file's size and modification time: part of the cache key, so a replaced file is re-read."""
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


class GalleryPictures:
    """Renders and caches (LRU) face chips and photos of a gallery's faces.

    Cache keys are the photo's path, size and modification time (and the face's box), never the face
    id alone; face ids are never reused either, so browsers may cache a face id's pictures."""

    def __init__(
        self, store: Store, pipeline: FacePipeline, max_pixels: int, cache_items: int = 2048
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.max_pixels = max_pixels
        self._cache: OrderedDict[tuple[str, str, tuple[int, ...]], bytes] = OrderedDict()
        self._cap = cache_items
        self._lock = threading.Lock()

    def _record(self, face_id: int) -> FaceRecord:
        rec = self.store.faces([face_id]).get(face_id)
        if rec is None:
            raise NotFoundError(f"there is no face {face_id} in the gallery")
        return rec

    def _cached(self, key: tuple[str, str, tuple[int, ...]], make: Callable[[], bytes]) -> bytes:
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        data = make()
        with self._lock:
            self._cache[key] = data
            while len(self._cache) > self._cap:
                self._cache.popitem(last=False)
        return data

    def _load(self, rec: FaceRecord) -> np.ndarray:
        try:
            return load_image(rec.image, max_pixels=self.max_pixels)
        except (ImageError, OSError) as exc:
            raise NotFoundError(f"the photo of face {rec.face_id} cannot be read any more") from exc

    def thumbnail(self, face_id: int) -> bytes:
        """The face's aligned chip (the embedder's size and the pipeline's padding) as JPEG."""
        rec = self._record(face_id)

        def make() -> bytes:
            image = self._load(rec)
            return _jpeg(self.pipeline.chip_for_box(image, Box(*rec.box)))

        return self._cached(("chip", rec.image, (*rec.box, *_version(rec.image))), make)

    def photo(self, face_id: int) -> bytes:
        """The whole photo the face came from, as JPEG, longest side at most 1280 px."""
        rec = self._record(face_id)

        def make() -> bytes:
            img = Image.fromarray(self._load(rec))
            img.thumbnail((FULL_MAX_SIDE, FULL_MAX_SIDE))
            return _jpeg(np.asarray(img))

        return self._cached(("photo", rec.image, _version(rec.image)), make)
