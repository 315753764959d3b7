"""hnswlib (the reference HNSW implementation) behind the Index protocol."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.index.adapters._common import installed, load_blob, padded, require, save_blob
from lookalike.index.base import Index, register


@register("hnswlib")
class HnswlibIndex(Index):
    """hnswlib.Index; deleted slots are reused; saved inside a checksummed file."""

    persistent = True

    def __init__(self, dim: int, space: str = "l2", M: int = 16, ef_construction: int = 200, ef: int = 64,
                 threads: int = -1, seed: int = 100) -> None:
        super().__init__(dim, space)
        self._lib = require("hnswlib", "hnswlib", "the 'hnswlib' index")
        self._M, self._efc, self._ef, self.threads, self._seed = int(M), int(ef_construction), int(ef), threads, seed
        self._ix = self._lib.Index(space=space, dim=self.dim)
        self._ix.init_index(max_elements=1024, M=self._M, ef_construction=self._efc, random_seed=seed,
                            allow_replace_deleted=True)
        self._ix.set_ef(self._ef)
        self._live: set[int] = set()

    @classmethod
    def available(cls) -> bool:
        return installed("hnswlib")

    def __len__(self) -> int:
        return len(self._live)

    @property
    def params(self) -> dict[str, Any]:
        return {"M": self._M, "ef_construction": self._efc, "ef": self._ef, "space": self.space}

    def set_search_params(self, **params: Any) -> None:
        ef = params.pop("ef", None)
        super().set_search_params(**params)
        if ef is not None:
            self._ef = int(ef)
            self._ix.set_ef(self._ef)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        vec = self._check_vectors(vectors)
        ids_arr = self._check_ids(ids, len(vec))
        clash = [int(i) for i in ids_arr if int(i) in self._live]
        if clash:
            raise ValueError(f"ids already in the index: {clash[:5]}")
        need = self._ix.element_count + len(vec)
        if need > self._ix.max_elements:
            self._ix.resize_index(max(need, int(self._ix.max_elements * 1.5)))
        self._ix.add_items(vec, ids_arr, num_threads=self.threads, replace_deleted=True)
        self._live.update(ids_arr.tolist())

    def remove(self, ids: np.ndarray) -> None:
        for i in np.asarray(ids, dtype=np.int64).reshape(-1).tolist():
            if i in self._live:
                self._ix.mark_deleted(i)
                self._live.discard(i)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = self._check_vectors(queries, "queries")
        k = self._check_k(k)
        dist, out = padded(len(q), k)
        kk = min(k, len(self._live))
        if kk == 0:
            return dist, out
        self._ix.set_ef(max(self._ef, kk))
        try:
            labels, d = self._ix.knn_query(q, k=kk, num_threads=self.threads)
        except RuntimeError:  # too few reachable live nodes for kk: ask one query at a time, smaller
            labels, d = self._query_short(q, kk)
        finally:
            self._ix.set_ef(self._ef)
        d = np.asarray(d, dtype=np.float32)
        dist[:, :kk] = np.sqrt(np.maximum(d, 0)) if self.space == "l2" else d
        out[:, :kk] = np.asarray(labels).astype(np.int64)
        out[~np.isfinite(dist)] = -1
        return dist, out

    def _query_short(self, q: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.zeros((len(q), kk), dtype=np.int64)
        d = np.full((len(q), kk), np.inf, dtype=np.float32)
        for r in range(len(q)):
            for kq in range(kk, 0, -1):
                try:
                    lab, dd = self._ix.knn_query(q[r : r + 1], k=kq, num_threads=1)
                except RuntimeError:
                    continue
                labels[r, :kq], d[r, :kq] = lab[0], dd[0]
                break
        return labels, d

    def save(self, path: str | Path) -> None:
        path = Path(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".hnswlib.tmp")
        os.close(fd)
        try:
            self._ix.save_index(tmp)
            blob = Path(tmp).read_bytes()
        finally:
            os.unlink(tmp)
        meta = {"dim": np.int64(self.dim), "space": np.frombuffer(self.space.encode(), np.uint8),
                "params": np.array([self._M, self._efc, self._ef], dtype=np.int64),
                "ids": np.array(sorted(self._live), dtype=np.int64)}
        save_blob(path, "hnswlib", blob, meta)

    @classmethod
    def load(cls, path: str | Path) -> HnswlibIndex:
        blob, meta = load_blob(path, "hnswlib")
        m, efc, ef = (int(x) for x in meta["params"])
        idx = cls(int(meta["dim"]), space=meta["space"].tobytes().decode(), M=m, ef_construction=efc, ef=ef)
        fd, tmp = tempfile.mkstemp(suffix=".hnswlib.tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            idx._ix = idx._lib.Index(space=idx.space, dim=idx.dim)
            idx._ix.load_index(tmp, allow_replace_deleted=True)
        finally:
            os.unlink(tmp)
        idx._ix.set_ef(ef)
        idx._live = set(meta["ids"].tolist())
        return idx
