"""A gallery: the SQLite store of faces plus a vector index kept in step with it, under one pipeline spec.

The gallery records the :class:`~lookalike.faces.spec.PipelineSpec` its vectors were made with and
refuses faces or queries made under another one. Ingest lives in :mod:`lookalike.gallery.ingest`,
index persistence in :mod:`lookalike.gallery.index_state`; what users do with a gallery lives in
:mod:`lookalike.usecases`.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from lookalike.errors import GalleryNotFoundError, IndexMismatchError, LookalikeError
from lookalike.faces.cache import CachedPhoto
from lookalike.faces.pipeline import FacePipeline
from lookalike.faces.spec import LEGACY_SPEC_TEXT, PipelineSpec, default_spec
from lookalike.gallery import meta
from lookalike.gallery.index_state import INDEX_IDS, IndexState
from lookalike.gallery.locking import GalleryLock
from lookalike.gallery.owned_files import discard_unreferenced
from lookalike.gallery.store import NewFace, Removal, Store
from lookalike.index import Index, index_class
from lookalike.settings import similarity

STORE_FILE = "store.sqlite"
DEFAULT_INDEX = "hnsw"


@dataclass(frozen=True)
class Neighbour:
    """One gallery face near a query."""

    rank: int
    face_id: int
    person: str | None
    distance: float
    similarity: float
    image: str
    box: tuple[int, int, int, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "face_id": self.face_id,
            "person": self.person,
            "distance": round(self.distance, 6),
            "similarity": round(self.similarity, 2),
            "image": self.image,
        }


def stored_spec(store: Store, requested: PipelineSpec | None) -> PipelineSpec:
    """The spec a gallery's vectors were made with: recorded, or (older galleries) the legacy one."""
    raw = store.get_meta(meta.SPEC)
    if raw:
        recorded = PipelineSpec(**json.loads(raw))
    elif store.get_meta(meta.EMBEDDER):  # built before specs were recorded: padding 0.25, no mirror
        recorded = PipelineSpec.parse(LEGACY_SPEC_TEXT, PipelineSpec(embedder=store.get_meta(meta.EMBEDDER_KEY) or "dlib"))
    else:
        return requested or default_spec()
    if requested is None:
        return recorded
    if requested.key != recorded.key:
        raise IndexMismatchError(
            f"this gallery's vectors were made with pipeline {recorded.describe()!r} (key {recorded.key}); "
            f"the pipeline asked for is {requested.describe()!r} (key {requested.key}). Use the gallery's "
            "pipeline, or re-embed it with `lookalike migrate`"
        )
    return requested  # same vectors; the runtime (onnx / torch / dlib) may differ


class Gallery:
    """Faces of people, searchable by similarity.

    >>> g = Gallery.open("~/my-gallery")            # doctest: +SKIP
    >>> ingest(g, lfw("../shared/datasets/lfw"))     # doctest: +SKIP
    >>> g.search_vectors(vectors, k=5)              # doctest: +SKIP
    """

    def __init__(self, root: Path, store: Store, index_name: str, index_params: dict[str, Any],
                 spec: PipelineSpec) -> None:
        self.root = root
        self.store = store
        self.index_name = index_name
        self.index_params = index_params
        self.spec = spec
        self._lock = threading.RLock()
        self._pipeline: FacePipeline | None = None
        #: exclusive across processes for every write; see lookalike/gallery/locking.py
        self.write_lock = GalleryLock(root)
        self._state: IndexState | None = None
        with self.write_lock.hold():  # the three index files are read as one consistent set
            self.index: Index = self._load_index()

    # opening ------------------------------------------------------------------------------
    @classmethod
    def open(cls, root: str | Path, index: str | None = None, create: bool = True,
             spec: PipelineSpec | None = None, **index_params: Any) -> Gallery:
        """Open (or create) the gallery in folder ``root``.

        ``index`` picks the vector index by registry name (default: the gallery's own, else
        ``"hnsw"``; another one than the stored one is rebuilt from the store). ``spec`` is the
        pipeline for a new gallery; an existing gallery keeps its own and refuses another.
        """
        root = Path(root).expanduser()
        if not (root / STORE_FILE).exists():
            if not create:
                raise GalleryNotFoundError(root)
            root.mkdir(parents=True, exist_ok=True)
        store = Store(root / STORE_FILE, face_id_floor=_highest_indexed_id(root))
        try:
            chosen = stored_spec(store, spec)
            saved = store.get_meta(meta.INDEX)
            name = index or saved or DEFAULT_INDEX
            index_class(name)  # unknown names fail here, clearly
            params = json.loads(store.get_meta(meta.INDEX_PARAMS) or "{}") if name == saved else {}
            params.update(index_params)
            gallery = cls(root, store, name, params, chosen)  # an index that cannot be reached changes nothing
            if name != saved or index_params:
                store.set_meta(meta.INDEX, name)
                store.set_meta(meta.INDEX_PARAMS, json.dumps(params))
            return gallery
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def embedder_name(self) -> str | None:
        return self.store.get_meta(meta.EMBEDDER)

    @property
    def dim(self) -> int:
        d = self.store.get_meta(meta.DIM)
        return int(d) if d else self.spec.card.dim

    @property
    def threshold(self) -> float:
        """Same-person distance: calibrated by `lookalike calibrate` for this model, else the model's own."""
        t = self.store.get_meta(meta.THRESHOLD)
        owner = self.store.get_meta(meta.THRESHOLD_EMBEDDER)
        if not t or (owner and owner != self.spec.card.name):
            return self.spec.card.threshold  # a threshold measured for another model means nothing here
        return float(t)

    # the pipeline ---------------------------------------------------------------------------
    def pipeline(self) -> FacePipeline:
        """The face pipeline of this gallery's spec (models load on first use; shared)."""
        if self._pipeline is None:
            self._pipeline = FacePipeline(self.spec)
        return self._pipeline

    def use_pipeline(self, pipeline: FacePipeline) -> None:
        """Use an already-built pipeline; it must make this gallery's vectors."""
        if pipeline.key != self.spec.key:
            raise IndexMismatchError(
                f"the gallery's pipeline is {self.spec.describe()!r} (key {self.spec.key}); "
                f"got {pipeline.spec.describe()!r} (key {pipeline.key})"
            )
        self._pipeline = pipeline

    # the index ------------------------------------------------------------------------------
    def _index_state(self) -> IndexState:
        """The index's persistence and the ids it holds (one object for the gallery's life)."""
        if self._state is None:
            self._state = IndexState(self.root, self.store, self.index_name, self.index_params,
                                     self.embedder_name, self.dim)
        self._state.embedder, self._state.dim = self.embedder_name, self.dim  # set by the first face
        return self._state

    def _load_index(self) -> Index:
        return self._index_state().load()

    def sync(self) -> None:
        """Catch up with what other processes committed to the store (cheap when nothing changed)."""
        if self.store.generation == self._index_state().generation:
            return
        with self._lock:
            self._index_state().catch_up(self.index)

    def save_index(self) -> None:
        """Persist the index with exactly the ids it holds and the store generation they match
        (atomically, under the gallery's write lock, after catching up with the store)."""
        with self._lock, self.write_lock.hold():
            self.sync()
            self._index_state().save(self.index)

    # writing --------------------------------------------------------------------------------
    def _claim(self, dim: int) -> None:
        """Tie an empty gallery to its spec and model on the first face; refuse another model later."""
        self.store.check_embedder(self.spec.card.name, dim)
        if not self.store.get_meta(meta.SPEC):
            s = self.spec.as_dict()
            self.store.set_meta(meta.SPEC, json.dumps({k: s[k] for k in PipelineSpec.__dataclass_fields__}))
            self.store.set_meta(meta.SPEC_KEY, self.spec.key)
        if self.store.get_meta(meta.EMBEDDER_KEY) != self.spec.embedder:  # a read per photo, a write only on change
            self.store.set_meta(meta.EMBEDDER_KEY, self.spec.embedder)

    def add_photo(self, path: str, person: str | None, photo: CachedPhoto, sha256: str | None = None,
                  spec_key: str | None = None, unique_content: bool = False) -> list[int]:
        """Store one photo's faces and add them to the index, as one step. ``spec_key`` is the key
        of the pipeline that made the vectors; it must be this gallery's. Nothing is added when the
        path (or, with ``unique_content``, a photo of the same SHA-256) is already stored."""
        if spec_key is not None and spec_key != self.spec.key:
            raise IndexMismatchError(f"faces made by pipeline {spec_key} cannot join a gallery of pipeline {self.spec.key}")
        with self._lock, self.write_lock.hold():
            self.sync()
            self._claim(int(photo.embeddings.shape[1]) if len(photo.boxes) else self.dim)
            faces = [NewFace(b, s, e) for b, s, e in zip(photo.boxes, photo.scores, photo.embeddings)]
            ids = self.store.add_image(
                path, person, faces, self.spec.card.name, sha256, (photo.width, photo.height),
                status="ok" if faces else "noface", message=None if faces else "no face found",
                unique_content=unique_content,
            )
            if ids:
                if self.index.dim != photo.embeddings.shape[1]:
                    self.index = self._index_state().rebuild()
                else:
                    self._index_state().add(self.index, photo.embeddings, np.array(ids, dtype=np.int64), person)
                    self._index_state().added(ids)
            return ids

    def record_error(self, path: str, person: str | None, sha256: str, message: str) -> None:
        """Remember an unusable photo so that a resumed ingest does not try it again."""
        self.store.add_image(path, person, [], self.spec.card.name, sha256, None, "error", message)

    def remove_faces(self, face_ids: list[int]) -> list[int]:
        """Delete faces from store and index; returns the ids that existed."""
        return self.delete_faces(face_ids).face_ids

    def remove_person(self, name: str) -> list[int]:
        """Delete every face of a person."""
        return self.delete_person(name).face_ids

    def delete_faces(self, face_ids: list[int]) -> Removal:
        """Delete faces and what only they used (see :meth:`Store.delete_faces`); photos the gallery
        owns (enrolled uploads) that no record uses any more are deleted from disk."""
        with self._lock, self.write_lock.hold():
            self.sync()
            return self._removed(self.store.delete_faces(face_ids))

    def delete_person(self, name: str) -> Removal:
        """Delete a person with all their faces, images and owned photo files."""
        with self._lock, self.write_lock.hold():
            self.sync()
            return self._removed(self.store.delete_person(name))

    def _removed(self, r: Removal) -> Removal:
        if r.face_ids:
            self.index.remove(np.array(r.face_ids, dtype=np.int64))
            self._index_state().removed(r.face_ids)
            self.save_index()
        discard_unreferenced(self.root, self.store, r.paths)
        return r

    # searching ------------------------------------------------------------------------------
    def search_vectors(
        self, vectors: np.ndarray, k: int = 10, exclude_images: set[str] | None = None
    ) -> list[list[Neighbour]]:
        """Nearest gallery faces of each vector; faces of ``exclude_images`` are skipped."""
        if k < 1:
            raise LookalikeError("k must be at least 1")
        vecs = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if vecs.shape[1] != self.dim:
            raise IndexMismatchError(f"query vectors have {vecs.shape[1]} dimensions; the gallery has {self.dim}")
        self.sync()
        threshold = self.threshold
        extra = 0
        while True:
            kk = k + extra
            with self._lock:
                dist, ids = self.index.search(vecs, kk)
                recs = self.store.faces(ids[ids >= 0].tolist())
            out, short = [], False
            for drow, irow in zip(dist, ids):
                row: list[Neighbour] = []
                for d, i in zip(drow, irow):
                    rec = recs.get(int(i))
                    if rec is None or (exclude_images and rec.image in exclude_images):
                        continue
                    if not math.isfinite(float(d)):
                        raise LookalikeError("the query is out of range: its distances are not finite numbers")
                    row.append(Neighbour(len(row) + 1, rec.face_id, rec.person, float(d),
                                         similarity(float(d), threshold), rec.image, rec.box))
                    if len(row) == k:
                        break
                short |= len(row) < k and kk < len(self.index)
                out.append(row)
            if not short:
                return out
            extra = max(2 * extra, 16)

    def info(self) -> dict[str, Any]:
        """Counts, model, pipeline, index and location, for `lookalike info`."""
        return {
            "path": str(self.root),
            **self.store.counts(),
            "embedder": self.embedder_name or self.spec.card.name,
            "dim": self.dim,
            "pipeline": self.spec.describe(),
            "pipeline_key": self.spec.key,
            "index": self.index_name,
            "index_params": self.index.params,
            "indexed": len(self.index),
            "threshold": self.threshold,
        }


def _highest_indexed_id(root: Path) -> int:
    """The largest face id the saved index file lists (0 if none): ids handed out before."""
    try:
        ids = np.load(root / INDEX_IDS, allow_pickle=False)
        return int(ids.max()) if ids.size else 0
    except (OSError, ValueError):
        return 0
