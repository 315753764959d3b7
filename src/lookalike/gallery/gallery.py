"""A gallery: the SQLite store of faces plus a vector index kept in step with it."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np
from tqdm import tqdm

from lookalike.errors import (
    CorruptFileError,
    GalleryNotFoundError,
    IndexMismatchError,
    LookalikeError,
    NoFaceError,
)
from lookalike.gallery.cache import CachedPhoto, EmbeddingCache
from lookalike.gallery.ingest import IngestReport, check_workers, plan, run_pipeline
from lookalike.gallery.sources import SourceItem
from lookalike.gallery.store import NewFace, Store
from lookalike.index import Index, create_index, index_class
from lookalike.settings import DEFAULT_THRESHOLD, similarity

STORE_FILE = "store.sqlite"
INDEX_META = "index.json"
INDEX_IDS = "index-ids.npy"
DEFAULT_INDEX = "hnsw"
SAVE_EVERY = 500  # images between index checkpoints during ingest


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


@dataclass
class FaceMatches:
    """A face found in the query photo and its nearest gallery faces."""

    box: dict[str, int]
    neighbours: list[Neighbour]

    def as_dict(self) -> dict[str, Any]:
        return {"box": self.box, "neighbours": [n.as_dict() for n in self.neighbours]}


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so that readers see the old or the new content, never a mix."""
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(f.name, path)


class Gallery:
    """Faces of people, searchable by similarity.

    >>> g = Gallery.open("~/my-gallery")            # doctest: +SKIP
    >>> g.ingest(lfw("../shared/datasets/lfw"))      # doctest: +SKIP
    >>> g.search_photo("photo.jpg", k=5)             # doctest: +SKIP
    """

    def __init__(self, root: Path, store: Store, index_name: str, index_params: dict[str, Any]) -> None:
        self.root = root
        self.store = store
        self.index_name = index_name
        self.index_params = index_params
        self._lock = threading.RLock()
        self._pipeline: Any = None
        self.index: Index = self._load_or_rebuild_index()

    # opening ------------------------------------------------------------------------------
    @classmethod
    def open(
        cls, root: str | Path, index: str | None = None, create: bool = True, **index_params: Any
    ) -> Gallery:
        """Open (or create) the gallery in folder ``root``.

        ``index`` picks the vector index by registry name; by default the one the gallery was built
        with, else ``"hnsw"``. Choosing another index than the stored one rebuilds it from the store.
        """
        root = Path(root).expanduser()
        if not (root / STORE_FILE).exists():
            if not create:
                raise GalleryNotFoundError(root)
            root.mkdir(parents=True, exist_ok=True)
        store = Store(root / STORE_FILE)
        saved = store.get_meta("index")
        name = index or saved or DEFAULT_INDEX
        index_class(name)  # unknown names fail here, clearly
        params = json.loads(store.get_meta("index_params") or "{}") if name == saved else {}
        params.update(index_params)
        if name != saved or index_params:
            store.set_meta("index", name)
            store.set_meta("index_params", json.dumps(params))
        return cls(root, store, name, params)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def embedder_name(self) -> str | None:
        return self.store.get_meta("embedder")

    @property
    def dim(self) -> int | None:
        d = self.store.get_meta("dim")
        return int(d) if d else None

    @property
    def threshold(self) -> float:
        """Same-person distance threshold (calibrated if `lookalike calibrate` ran, else dlib's 0.6)."""
        t = self.store.get_meta("threshold")
        owner = self.store.get_meta("threshold_embedder")  # written by recognition.save_calibration
        if not t or (owner and self.embedder_name and owner != self.embedder_name):
            return DEFAULT_THRESHOLD  # a threshold measured for another model means nothing here
        return float(t)

    # the index ------------------------------------------------------------------------------
    def _index_file(self) -> Path:
        return self.root / f"index.{self.index_name}"

    def _new_index(self) -> Index:
        return create_index(self.index_name, self.dim or 128, **self.index_params)

    def _load_or_rebuild_index(self) -> Index:
        """Load the saved index if it matches the store, replay the difference if it lags, else rebuild."""
        cls = index_class(self.index_name)
        meta_path = self.root / INDEX_META
        if cls.persistent and meta_path.exists() and self._index_file().exists():
            try:
                meta = json.loads(meta_path.read_text())
                if meta.get("name") != self.index_name or meta.get("params") != self.index_params:
                    raise IndexMismatchError("index settings changed")
                if meta.get("embedder") != self.embedder_name:
                    raise IndexMismatchError("index was built from another embedder")
                index = cls.load(self._index_file())
                if meta.get("generation") != self.store.generation:
                    self._replay(index, np.load(self.root / INDEX_IDS, allow_pickle=False))
                return index
            except (CorruptFileError, IndexMismatchError, OSError, ValueError, KeyError) as exc:
                warnings.warn(f"rebuilding the gallery index from the store: {exc}", stacklevel=2)
        return self._rebuild()

    def _replay(self, index: Index, indexed: np.ndarray) -> None:
        stored = self.store.face_ids()
        gone = np.setdiff1d(indexed, stored)
        if len(gone):
            index.remove(gone)
        new = np.setdiff1d(stored, indexed)
        if len(new):
            ids, vecs = self.store.embeddings()
            mask = np.isin(ids, new)
            index.add(vecs[mask], ids[mask])

    def _rebuild(self) -> Index:
        index = self._new_index()
        ids, vecs = self.store.embeddings()
        if len(ids):
            index.add(vecs, ids)
        return index

    def save_index(self) -> None:
        """Persist the index with the store generation it matches (atomically; skipped if not persistent)."""
        with self._lock:
            if not self.index.persistent:
                return
            self.index.save(self._index_file())
            buf = _npy_bytes(self.store.face_ids())
            atomic_write_bytes(self.root / INDEX_IDS, buf)
            meta = {
                "name": self.index_name,
                "params": self.index_params,
                "embedder": self.embedder_name,
                "generation": self.store.generation,
                "count": len(self.index),
            }
            atomic_write_bytes(self.root / INDEX_META, json.dumps(meta, indent=1).encode())

    # writing --------------------------------------------------------------------------------
    def pipeline(self) -> Any:
        """The face pipeline for this gallery's embedder (loaded on first use and shared)."""
        if self._pipeline is None:
            from lookalike.faces.pipeline import FacePipeline

            self._pipeline = FacePipeline(self._embedder_key())
        return self._pipeline

    def use_pipeline(self, pipeline: Any) -> None:
        """Use an already-built pipeline (its embedder must match the gallery's)."""
        self._pipeline = pipeline

    def _embedder_key(self) -> str | None:
        return self.store.get_meta("embedder_key")

    def add_embeddings(
        self, path: str, person: str | None, photo: CachedPhoto, embedder: str, sha256: str | None = None
    ) -> list[int]:
        """Store one photo's faces and add them to the index, as one step."""
        with self._lock:
            self.store.check_embedder(embedder, int(photo.embeddings.shape[1]) if len(photo.boxes) else 128)
            faces = [NewFace(b, s, e) for b, s, e in zip(photo.boxes, photo.scores, photo.embeddings)]
            ids = self.store.add_image(
                path, person, faces, embedder, sha256, (photo.width, photo.height),
                status="ok" if faces else "noface", message=None if faces else "no face found",
            )
            if ids:
                if self.index.dim != photo.embeddings.shape[1]:
                    self.index = self._rebuild()
                else:
                    self.index.add(photo.embeddings, np.array(ids, dtype=np.int64))
            return ids

    def ingest(
        self,
        items: list[SourceItem],
        embedder: str | None = None,
        detector: str = "hog",
        upsample: Any = "auto",
        workers: int = 0,
        progress: bool = True,
        cache: EmbeddingCache | bool = True,
    ) -> IngestReport:
        """Add photos: detect, align, embed on every core; resumable; cached embeddings are reused.

        Photos already in the store are skipped, so an interrupted ingest continues where it stopped.
        Unreadable photos and photos without a face are recorded and reported, not fatal.
        """
        from lookalike.faces.pipeline import FacePipeline

        workers = check_workers(workers)
        pipe = self._pipeline if self._pipeline is not None else FacePipeline(embedder, detector, upsample)
        self._pipeline = pipe
        name = pipe.embedder.name
        have = self.embedder_name
        if have is not None and have != name:
            raise IndexMismatchError(f"this gallery holds embeddings of {have!r}; the pipeline makes {name!r}")
        if embedder:
            self.store.set_meta("embedder_key", embedder)
        emb_cache = EmbeddingCache() if cache is True else (cache or None)
        report = IngestReport(total=len(items))
        bar = tqdm(total=len(items), desc="ingest", unit="photo", disable=not progress, smoothing=0.05)
        since_save = 0

        def record(item_path: str, person: str | None, status: str, sha: str, payload: Any) -> None:
            nonlocal since_save
            if status == "error":
                self.store.add_image(item_path, person, [], name, sha, None, "error", str(payload))
                report.errors.append((item_path, str(payload)))
            else:
                ids = self.add_embeddings(item_path, person, payload, name, sha)
                report.added_images += 1
                report.added_faces += len(ids)
                if status == "noface":
                    report.no_face.append(item_path)
            bar.update(1)
            since_save += 1
            if since_save >= SAVE_EVERY:
                self.save_index()
                since_save = 0

        persons = {str(it.path): it.person for it in items}
        try:
            already = self.store.image_paths()
            tasks = plan(
                items, already, emb_cache, pipe.signature, report,
                lambda it, sha, hit: record(str(it.path), it.person, "noface" if not hit.boxes else "ok", sha, hit),
            )
            bar.update(report.skipped_existing + len(report.errors))
            for path, status, sha, payload in run_pipeline(
                tasks, embedder, detector, upsample, workers, pipeline=pipe if workers <= 1 else None
            ):
                if emb_cache is not None and status != "error":
                    keep = "center" if persons[path] else "all"
                    emb_cache.put(sha, f"{pipe.signature}|{keep}", payload)
                record(path, persons[path], status, sha, payload)
        except KeyboardInterrupt:
            report.interrupted = True
        finally:
            bar.close()
            self.save_index()
            if emb_cache is not None and cache is True:
                emb_cache.close()
        return report

    def remove_faces(self, face_ids: list[int]) -> list[int]:
        """Delete faces from store and index; returns the ids that existed."""
        with self._lock:
            gone = self.store.remove_faces(face_ids)
            if gone:
                self.index.remove(np.array(gone, dtype=np.int64))
                self.save_index()
            return gone

    def remove_person(self, name: str) -> list[int]:
        """Delete every face of a person."""
        with self._lock:
            gone = self.store.remove_person(name)
            if gone:
                self.index.remove(np.array(gone, dtype=np.int64))
                self.save_index()
            return gone

    # searching ------------------------------------------------------------------------------
    def search_vectors(
        self, vectors: np.ndarray, k: int = 10, exclude_images: set[str] | None = None
    ) -> list[list[Neighbour]]:
        """Nearest gallery faces of each vector; faces of ``exclude_images`` are skipped."""
        if k < 1:
            raise LookalikeError("k must be at least 1")
        vecs = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if self.dim is not None and vecs.shape[1] != self.dim:
            raise IndexMismatchError(f"query vectors have {vecs.shape[1]} dimensions; the gallery has {self.dim}")
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
                    row.append(
                        Neighbour(len(row) + 1, rec.face_id, rec.person, float(d),
                                  similarity(float(d), self.threshold), rec.image, rec.box)
                    )
                    if len(row) == k:
                        break
                short |= len(row) < k and kk < len(self.index)
                out.append(row)
            if not short:
                return out
            extra = max(2 * extra, 16)

    def search_photo(
        self, photo: str | Path | bytes, k: int = 10, exclude_self: bool = False, require_face: bool = True
    ) -> list[FaceMatches]:
        """Detect every face in a photo and find each one's nearest gallery faces (largest face first).

        ``exclude_self`` skips gallery faces that come from the same photo (same file content).
        """
        pipe = self.pipeline()
        if self.embedder_name and pipe.embedder.name != self.embedder_name:
            raise IndexMismatchError(f"gallery model {self.embedder_name!r} ≠ pipeline {pipe.embedder.name!r}")
        res = pipe.process_bytes(photo) if isinstance(photo, bytes) else pipe.process_path(photo)
        if not res.faces:
            if require_face:
                raise NoFaceError("no face was found in the photo")
            return []
        # "self" is the same photo content, however the path is spelled (or bytes of a stored file)
        exclude = self.store.paths_with_sha256(res.sha256) if exclude_self else None
        vecs = np.stack([f.embedding for f in res.faces])
        rows = self.search_vectors(vecs, k, exclude)
        return [FaceMatches(f.box.as_dict(), r) for f, r in zip(res.faces, rows)]

    def info(self) -> dict[str, Any]:
        """Counts, model, index and location, for `lookalike info`."""
        return {
            "path": str(self.root),
            **self.store.counts(),
            "embedder": self.embedder_name,
            "dim": self.dim,
            "index": self.index_name,
            "index_params": self.index.params,
            "indexed": len(self.index),
            "threshold": self.threshold,
        }


def _npy_bytes(arr: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()
