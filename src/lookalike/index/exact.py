"""Exact nearest-neighbour search with NumPy/BLAS: the reference every other index is measured against."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.errors import CorruptFileError
from lookalike.index.base import Index, register
from lookalike.io import atomic_save_npz

_CHUNK = 1024  # queries per BLAS call: bounds the (chunk, n) distance matrix


@register("exact")
class ExactIndex(Index):
    """Brute force over a contiguous matrix; ``remove`` swaps the last row into the hole."""

    persistent = True

    def __init__(self, dim: int, space: str = "l2", **params: Any) -> None:
        super().__init__(dim, space)
        self._vectors = np.empty((0, dim), dtype=np.float32)
        self._norms = np.empty(0, dtype=np.float32)
        self._ids = np.empty(0, dtype=np.int64)
        self._pos: dict[int, int] = {}
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def params(self) -> dict[str, Any]:
        return {"space": self.space}

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        vec = self._check_vectors(vectors)
        ids_arr = self._check_ids(ids, len(vec))
        clash = [int(i) for i in ids_arr if int(i) in self._pos]
        if clash:
            raise ValueError(f"ids already in the index: {clash[:5]}")
        need = self._n + len(vec)
        if need > len(self._vectors):
            cap = max(need, 2 * len(self._vectors), 64)
            self._vectors = _grow(self._vectors, cap)
            self._norms = _grow(self._norms, cap)
            self._ids = _grow(self._ids, cap)
        self._vectors[self._n : need] = vec
        self._norms[self._n : need] = np.einsum("ij,ij->i", vec, vec)
        self._ids[self._n : need] = ids_arr
        for j, i in enumerate(ids_arr.tolist()):
            self._pos[i] = self._n + j
        self._n = need

    def remove(self, ids: np.ndarray) -> None:
        for i in np.asarray(ids, dtype=np.int64).reshape(-1).tolist():
            p = self._pos.pop(int(i), None)
            if p is None:
                continue
            last = self._n - 1
            if p != last:
                self._vectors[p] = self._vectors[last]
                self._norms[p] = self._norms[last]
                self._ids[p] = self._ids[last]
                self._pos[int(self._ids[p])] = p
            self._n = last

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = self._check_vectors(queries, "queries")
        k = self._check_k(k)
        nq, n = len(q), self._n
        dist = np.full((nq, k), np.inf, dtype=np.float32)
        out = np.full((nq, k), -1, dtype=np.int64)
        if n == 0:
            return dist, out
        kk = min(k, n)
        # BLAS ranks by |q|^2 + |x|^2 - 2 q.x, which cancels badly for near vectors (an error of
        # about 1e-7 * |x|^2 becomes 3e-4 after the square root). So take a few more than k by it,
        # then compute those distances directly and rank them again.
        kc = kk if self.space == "ip" else min(n, 2 * kk + 16)
        x, norms, ids = self._vectors[:n], self._norms[:n], self._ids[:n]
        for s in range(0, nq, _CHUNK):
            qc = q[s : s + _CHUNK]
            d = self._distances(qc, x, norms)
            if kc < n:
                part = np.argpartition(d, kc - 1, axis=1)[:, :kc]
            else:
                part = np.broadcast_to(np.arange(n), (len(qc), n))
            dp = np.take_along_axis(d, part, axis=1) if self.space == "ip" else _direct_l2(qc, x, part)
            order = np.argsort(dp, axis=1, kind="stable")[:, :kk]
            sel = np.take_along_axis(part, order, axis=1)
            dist[s : s + len(qc), :kk] = np.take_along_axis(dp, order, axis=1)
            out[s : s + len(qc), :kk] = ids[sel]
        return dist, out

    def _distances(self, q: np.ndarray, x: np.ndarray, norms: np.ndarray) -> np.ndarray:
        dots = q @ x.T
        if self.space == "ip":
            return 1.0 - dots
        qn = np.einsum("ij,ij->i", q, q)[:, None]
        return np.maximum(qn + norms[None, :] - 2.0 * dots, 0.0)

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the live ``(ids, vectors)``."""
        return self._ids[: self._n].copy(), self._vectors[: self._n].copy()

    def save(self, path: str | Path) -> None:
        """Save as an ``.npz`` of plain arrays (no pickle), atomically."""
        meta = np.array([self.dim, 1 if self.space == "ip" else 0], dtype=np.int64)
        atomic_save_npz(path, meta=meta, ids=self._ids[: self._n], vectors=self._vectors[: self._n])

    @classmethod
    def load(cls, path: str | Path) -> ExactIndex:
        try:
            with np.load(path, allow_pickle=False) as z:
                meta, ids, vectors = z["meta"], z["ids"], z["vectors"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise CorruptFileError(f"cannot read exact index {path}: {exc}") from exc
        idx = cls(int(meta[0]), space="ip" if int(meta[1]) else "l2")
        if len(ids):
            idx.add(vectors, ids)
        return idx


def _direct_l2(q: np.ndarray, x: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """Euclidean distances from each query to its candidate rows, as (q - x) sums, in row blocks."""
    out = np.empty(cand.shape, dtype=np.float32)
    step = max(1, (1 << 22) // max(1, cand.shape[1] * x.shape[1]))
    for s in range(0, len(q), step):
        diff = x[cand[s : s + step]] - q[s : s + step, None, :]
        out[s : s + step] = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    return out


def _grow(arr: np.ndarray, cap: int) -> np.ndarray:
    out = np.empty((cap, *arr.shape[1:]), dtype=arr.dtype)
    out[: len(arr)] = arr
    return out
