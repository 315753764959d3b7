"""Spotify's annoy (random-projection forests) behind the Index protocol."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.index.adapters._common import RebuildingIndex, installed, require
from lookalike.index.base import register


@register("annoy")
class AnnoyIndex(RebuildingIndex):
    """annoy.AnnoyIndex with ``n_trees`` trees, searching ``search_k`` nodes (-1: n_trees·k)."""

    def __init__(self, dim: int, space: str = "l2", n_trees: int = 50, search_k: int = -1,
                 **params: Any) -> None:
        super().__init__(dim, space)
        self._annoy = require("annoy", "annoy", "the 'annoy' index")
        self._trees, self._search_k = int(n_trees), int(search_k)
        self._ix: Any = None

    @classmethod
    def available(cls) -> bool:
        return installed("annoy")

    @property
    def params(self) -> dict[str, Any]:
        return {"n_trees": self._trees, "search_k": self._search_k, "space": self.space}

    def set_search_params(self, **params: Any) -> None:
        sk = params.pop("search_k", None)
        super().set_search_params(**params)
        if sk is not None:
            self._search_k = int(sk)

    def _build(self, vectors: np.ndarray) -> None:
        ix = self._annoy.AnnoyIndex(self.dim, "euclidean" if self.space == "l2" else "dot")
        for i, v in enumerate(vectors):
            ix.add_item(i, v)
        ix.build(self._trees, n_jobs=1)
        self._ix = ix

    persistent = True

    def _dump(self) -> bytes:
        with tempfile.TemporaryDirectory(prefix="lookalike-annoy-") as tmp:
            self._ix.save(f"{tmp}/index.ann")
            return Path(f"{tmp}/index.ann").read_bytes()

    def _restore(self, blob: bytes) -> None:
        # annoy maps its file into memory: the mapping outlives the (unlinked) temporary file
        ix = self._annoy.AnnoyIndex(self.dim, "euclidean" if self.space == "l2" else "dot")
        with tempfile.TemporaryDirectory(prefix="lookalike-annoy-") as tmp:
            Path(f"{tmp}/index.ann").write_bytes(blob)
            ix.load(f"{tmp}/index.ann")
        self._ix = ix

    def _query(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        dist = np.full((len(queries), k), np.inf, dtype=np.float32)
        pos = np.full((len(queries), k), -1, dtype=np.int64)
        for r, q in enumerate(queries):
            ids, d = self._ix.get_nns_by_vector(q, k, search_k=self._search_k, include_distances=True)
            pos[r, : len(ids)] = ids
            dist[r, : len(ids)] = d if self.space == "l2" else 1.0 - np.asarray(d)
        return dist, pos
