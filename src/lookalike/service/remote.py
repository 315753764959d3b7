"""Two-service mode: a gallery whose vector index lives in the index service.

:class:`RemoteIndex` implements the :class:`~lookalike.index.Index` protocol over HTTP, so the
gallery's own ``search_vectors`` (and the identify use case on top of it) run unchanged:
the only difference between the two modes is where ``index.search`` runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lookalike.errors import GalleryNotFoundError, IndexMismatchError, ServiceUnavailableError
from lookalike.faces.spec import PipelineSpec
from lookalike.gallery import meta
from lookalike.gallery.gallery import DEFAULT_INDEX, STORE_FILE, Gallery, stored_spec
from lookalike.gallery.store import Store
from lookalike.index.base import Index
from lookalike.service.client import IndexClient


class RemoteIndex(Index):
    """The index service seen as an :class:`Index`. Not persistent: the index service owns its copy."""

    name = "remote"
    persistent = False

    def __init__(self, client: IndexClient, dim: int) -> None:
        super().__init__(dim)
        self.client = client
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def params(self) -> dict[str, Any]:
        return {"url": self.client.url}

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        vec = self._check_vectors(vectors)
        self._count = self.client.add(vec, self._check_ids(ids, len(vec)))

    def remove(self, ids: np.ndarray) -> None:
        self._count = self.client.remove(np.asarray(ids, dtype=np.int64))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = self._check_vectors(queries, "queries")
        dist, ids, self._count = self.client.search(q, self._check_k(k))
        return dist, ids

    def refresh(self) -> dict[str, Any]:
        """Ask the index service for its state; refuses an index of another model or dimension."""
        info = self.client.health()
        self._count = int(info["count"])
        if info.get("dim") and int(info["dim"]) != self.dim:
            raise IndexMismatchError(
                f"the index service holds {info['dim']}-d vectors; the gallery has {self.dim}"
            )
        return info


class RemoteGallery(Gallery):
    """A gallery that keeps its store here and its vector index in the index service."""

    def __init__(self, root: Path, store: Store, index_name: str, client: IndexClient, spec: PipelineSpec) -> None:
        self.client = client
        super().__init__(root, store, index_name, {}, spec)

    @classmethod
    def connect(cls, root: str | Path, client: IndexClient) -> RemoteGallery:
        """Open an existing gallery's store and check that the index service serves the same model."""
        root = Path(root).expanduser()
        if not (root / STORE_FILE).exists():
            raise GalleryNotFoundError(root)
        store = Store(root / STORE_FILE)
        try:
            spec = stored_spec(store, None)
        except BaseException:
            store.close()
            raise
        g = cls(root, store, store.get_meta(meta.INDEX) or DEFAULT_INDEX, client, spec)
        try:
            info = g.index.refresh()  # type: ignore[attr-defined]
        except ServiceUnavailableError:
            return g  # it may start later; /api/health says so meanwhile
        if info.get("embedder") and g.embedder_name and info["embedder"] != g.embedder_name:
            g.close()
            raise IndexMismatchError(
                f"the index service holds {info['embedder']!r} embeddings; "
                f"this gallery has {g.embedder_name!r}"
            )
        return g

    def _load_index(self) -> Index:
        return RemoteIndex(self.client, self.dim)

    def sync(self) -> None:
        """Nothing to do here: the index service catches up with the store itself."""

    def info(self) -> dict[str, Any]:
        out = super().info()
        out["index"] = f"remote ({self.client.url})"
        return out
