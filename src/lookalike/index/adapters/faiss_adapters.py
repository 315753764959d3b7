"""faiss indexes behind the Index protocol: Flat (exact), HNSW, IVF-PQ with exact re-ranking."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.index.adapters._common import (
    RebuildingIndex,
    installed,
    load_blob,
    padded,
    require,
    save_blob,
)
from lookalike.index.base import Index, register


def _faiss() -> Any:
    return require("faiss", "faiss-cpu", "the faiss indexes")


def _to_protocol(space: str, d: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """faiss answers squared L2 or raw dot products with -1 ids; ours are Euclidean / 1 - dot, inf."""
    d = np.asarray(d, dtype=np.float32)
    d = np.sqrt(np.maximum(d, 0)) if space == "l2" else 1.0 - d
    missing = ids < 0
    d[missing] = np.inf
    return d, ids.astype(np.int64)


@register("faiss-flat")
class FaissFlatIndex(Index):
    """faiss IndexFlat (exact brute force, BLAS) with ids; saved in a checksummed file."""

    persistent = True

    def __init__(self, dim: int, space: str = "l2", **params: Any) -> None:
        super().__init__(dim, space)
        faiss = _faiss()
        base = faiss.IndexFlatL2(self.dim) if space == "l2" else faiss.IndexFlatIP(self.dim)
        self._ix = faiss.IndexIDMap2(base)
        self._live: set[int] = set()

    @classmethod
    def available(cls) -> bool:
        return installed("faiss")

    def __len__(self) -> int:
        return int(self._ix.ntotal)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        vec = self._check_vectors(vectors)
        ids_arr = self._check_ids(ids, len(vec))
        clash = [int(i) for i in ids_arr if int(i) in self._live]
        if clash:
            raise ValueError(f"ids already in the index: {clash[:5]}")
        self._ix.add_with_ids(vec, ids_arr)
        self._live.update(ids_arr.tolist())

    def remove(self, ids: np.ndarray) -> None:
        arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(arr):
            self._ix.remove_ids(arr)
            self._live.difference_update(arr.tolist())

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = self._check_vectors(queries, "queries")
        k = self._check_k(k)
        if len(self) == 0:
            return padded(len(q), k)
        d, i = self._ix.search(q, k)
        return _to_protocol(self.space, d, i)

    def save(self, path: str | Path) -> None:
        blob = _faiss().serialize_index(self._ix).tobytes()
        save_blob(path, "faiss-flat", blob, {"space": np.frombuffer(self.space.encode(), np.uint8)})

    @classmethod
    def load(cls, path: str | Path) -> FaissFlatIndex:
        blob, meta = load_blob(path, "faiss-flat")
        faiss = _faiss()
        ix = faiss.deserialize_index(np.frombuffer(blob, dtype=np.uint8))
        idx = cls(ix.d, space=meta["space"].tobytes().decode())
        idx._ix = ix
        idx._live = set(faiss.vector_to_array(ix.id_map).tolist())
        return idx


class _FaissRebuilding(RebuildingIndex):
    """A rebuilding faiss index saved in faiss's own binary format (no pickle) inside a checksummed file."""

    persistent = True
    _faiss: Any
    _ix: Any

    def _dump(self) -> bytes:
        return self._faiss.serialize_index(self._ix).tobytes()

    def _restore(self, blob: bytes) -> None:
        self._ix = self._faiss.deserialize_index(np.frombuffer(blob, dtype=np.uint8))


@register("faiss-hnsw")
class FaissHnswIndex(_FaissRebuilding):
    """faiss IndexHNSWFlat (rebuilt after removals; faiss HNSW cannot delete)."""

    def __init__(self, dim: int, space: str = "l2", M: int = 16, ef_construction: int = 200, ef: int = 64,
                 **params: Any) -> None:
        super().__init__(dim, space)
        self._faiss = _faiss()
        self._M, self._efc, self._ef = int(M), int(ef_construction), int(ef)
        self._ix: Any = None

    @classmethod
    def available(cls) -> bool:
        return installed("faiss")

    @property
    def params(self) -> dict[str, Any]:
        return {"M": self._M, "ef_construction": self._efc, "ef": self._ef, "space": self.space}

    def set_search_params(self, **params: Any) -> None:
        ef = params.pop("ef", None)
        super().set_search_params(**params)
        if ef is not None:
            self._ef = int(ef)

    def _build(self, vectors: np.ndarray) -> None:
        f = self._faiss
        metric = f.METRIC_L2 if self.space == "l2" else f.METRIC_INNER_PRODUCT
        self._ix = f.IndexHNSWFlat(self.dim, self._M, metric)
        self._ix.hnsw.efConstruction = self._efc
        self._ix.add(vectors)

    def _query(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        self._ix.hnsw.efSearch = max(self._ef, k)
        d, i = self._ix.search(queries, k)
        return _to_protocol(self.space, d, i)


@register("faiss-ivfpq")
class FaissIvfPqIndex(_FaissRebuilding):
    """faiss IVF-PQ (``nlist`` cells, ``m`` sub-quantizers of 8 bits) with exact re-ranking of
    ``k_factor``·k candidates (IndexRefineFlat), probing ``nprobe`` cells."""

    def __init__(self, dim: int, space: str = "l2", nlist: int = 0, m: int = 0, nprobe: int = 16,
                 k_factor: int = 10, **params: Any) -> None:
        super().__init__(dim, space)
        self._faiss = _faiss()
        self._nlist, self._m, self._nprobe, self._kf = int(nlist), int(m), int(nprobe), int(k_factor)
        self._ix: Any = None

    @classmethod
    def available(cls) -> bool:
        return installed("faiss")

    @property
    def params(self) -> dict[str, Any]:
        return {"nlist": self._nlist, "m": self._m, "nprobe": self._nprobe, "k_factor": self._kf,
                "space": self.space}

    def set_search_params(self, **params: Any) -> None:
        nprobe, kf = params.pop("nprobe", None), params.pop("k_factor", None)
        super().set_search_params(**params)
        if nprobe is not None:
            self._nprobe = int(nprobe)
        if kf is not None:
            self._kf = int(kf)

    def _build(self, vectors: np.ndarray) -> None:
        f = self._faiss
        n = len(vectors)
        nlist = self._nlist or max(1, min(4096, int(4 * math.sqrt(n)), n // 39))
        m = self._m or next(c for c in (32, 16, 8, 4, 2, 1) if self.dim % c == 0)
        metric = f.METRIC_L2 if self.space == "l2" else f.METRIC_INNER_PRODUCT
        quant = f.IndexFlatL2(self.dim) if self.space == "l2" else f.IndexFlatIP(self.dim)
        nbits = 8 if n >= 256 * 39 else max(1, min(8, int(math.log2(max(n // 39, 2)))))
        self._quant = quant  # faiss does not own these: keep them alive
        self._ivf = f.IndexIVFPQ(quant, self.dim, nlist, m, nbits, metric)
        self._ix = f.IndexRefineFlat(self._ivf)
        self._ix.train(vectors)
        self._ix.add(vectors)

    def _query(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        f = self._faiss
        sp = f.IVFPQSearchParameters()
        sp.nprobe = self._nprobe
        params = f.IndexRefineSearchParameters(k_factor=float(self._kf), base_index_params=sp)
        d, i = self._ix.search(queries, k, params=params)
        return _to_protocol(self.space, d, i)
