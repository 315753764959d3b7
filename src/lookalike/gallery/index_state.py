"""The gallery's vector index kept in step with its store: saved with the store generation it matches,
replayed from the store when it lags, rebuilt when it cannot be trusted.

Files in the gallery folder: ``index.<name>`` (the index's own format), ``index-ids.npy`` (the face
ids it holds) and ``index.json`` (name, parameters, embedder, store generation, count). Every file is
written atomically; the store is the single source of truth.

Several processes may work on one gallery (the CLI's ingest, the web service, the index service). An
``IndexState`` therefore tracks exactly which face ids its in-memory index holds and a store generation
they are at least as new as; :meth:`IndexState.catch_up` adds and removes what other processes
committed since (one generation check when nothing changed), and :meth:`IndexState.save` writes exactly
those ids and that generation — never the store's, which may be ahead of the index. Writers hold the
gallery's write lock (:mod:`lookalike.gallery.locking`) while they write, catch up and save.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.errors import CorruptFileError, IndexMismatchError
from lookalike.gallery.store import Store
from lookalike.index import Index, create_index, index_class
from lookalike.io import atomic_write_bytes, atomic_write_text, npy_bytes

INDEX_META = "index.json"
INDEX_IDS = "index-ids.npy"


class IndexState:
    """Where and how one gallery's index is persisted."""

    def __init__(self, root: Path, store: Store, name: str, params: dict[str, Any], embedder: str | None,
                 dim: int) -> None:
        self.root = root
        self.store = store
        self.name = name
        self.params = params
        self.embedder = embedder
        self.dim = dim
        #: the face ids the in-memory index holds, and a store generation they are at least as new as
        self.ids: set[int] = set()
        self.generation = -1

    @property
    def index_file(self) -> Path:
        return self.root / f"index.{self.name}"

    def load(self) -> Index:
        """The saved index if it matches the store (the difference replayed if it lags), else a rebuild."""
        cls = index_class(self.name)
        meta_path = self.root / INDEX_META
        if cls.persistent and meta_path.exists() and self.index_file.exists():
            try:
                meta = json.loads(meta_path.read_text())
                if meta.get("name") != self.name or meta.get("params") != self.params:
                    raise IndexMismatchError("index settings changed")
                if meta.get("embedder") != self.embedder:
                    raise IndexMismatchError("index was built from another embedder")
                index = cls.load(self.index_file)
                indexed = np.load(self.root / INDEX_IDS, allow_pickle=False)
                if len(indexed) != len(index):
                    raise IndexMismatchError("the index file and its id list disagree")
                self.ids = set(indexed.tolist())
                self.generation = int(meta.get("generation", -1))
                self.catch_up(index)
                return index
            except (CorruptFileError, IndexMismatchError, OSError, ValueError, KeyError) as exc:
                warnings.warn(f"rebuilding the gallery index from the store: {exc}", stacklevel=2)
        return self.rebuild()

    def catch_up(self, index: Index) -> None:
        """Bring the index up to the store: remove the gone, add the new (nothing when the store's
        generation is the one the index already matches)."""
        gen = self.store.generation  # read before the ids: whatever commits later is seen next time
        if gen == self.generation:
            return
        stored = set(self.store.face_ids().tolist())
        gone = self.ids - stored
        if gone:
            index.remove(np.array(sorted(gone), dtype=np.int64))
        new = stored - self.ids
        if new:
            ids, vecs = self.store.embeddings_of(new)
            if len(ids):
                self.add(index, vecs, ids)
        self.ids = stored
        self.generation = gen

    def replay(self, index: Index, indexed: np.ndarray) -> None:
        """Bring an index holding ``indexed`` ids up to the store: remove the gone, add the new."""
        live = index.live_ids()  # an external store (Milvus) may hold more or less than the last save
        self.ids = set(np.asarray(indexed if live is None else live).tolist())
        self.generation = -1
        self.catch_up(index)

    def added(self, ids: list[int]) -> None:
        """Faces this process just stored and indexed, holding the write lock (nobody else committed)."""
        self.ids.update(ids)
        self.generation = self.store.generation

    def removed(self, ids: list[int]) -> None:
        """Faces this process just deleted from store and index, holding the write lock."""
        self.ids.difference_update(ids)
        self.generation = self.store.generation

    def rebuild(self) -> Index:
        """A new index holding every stored face."""
        index = create_index(self.name, self.dim, **index_class(self.name).in_gallery(self.params, self.root))
        gen = self.store.generation
        ids, vecs = self.store.embeddings()
        if len(ids):
            self.add(index, vecs, ids)
        self.ids = set(ids.tolist())
        self.generation = gen
        return index

    def add(self, index: Index, vecs: np.ndarray, ids: np.ndarray, person: str | None = None) -> None:
        """Add vectors; indexes with scalar fields also get each face's person and the model."""
        if not index.supports_filter:
            index.add(vecs, ids)
            return
        if person is None:
            recs = self.store.faces(ids.tolist())
            people = [recs[int(i)].person if int(i) in recs else None for i in ids]
        else:
            people = [person] * len(ids)
        index.add(vecs, ids, people=people, model=self.embedder)  # type: ignore[call-arg]

    def save(self, index: Index) -> None:
        """Persist the index with exactly the ids it holds and the store generation they match
        (no-op for a non-persistent index). Call it holding the gallery's write lock."""
        if not index.persistent:
            return
        index.save(self.index_file)
        atomic_write_bytes(self.root / INDEX_IDS, npy_bytes(np.array(sorted(self.ids), dtype=np.int64)))
        meta = {"name": self.name, "params": self.params, "embedder": self.embedder,
                "generation": self.generation, "count": len(index)}
        atomic_write_text(self.root / INDEX_META, json.dumps(meta, indent=1))
