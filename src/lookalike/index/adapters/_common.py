"""Shared pieces of the adapters: lazy imports, a rebuild-on-change base, a checksummed blob file."""

from __future__ import annotations

import abc
import hashlib
import importlib
import importlib.util
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.errors import CorruptFileError, MissingDependencyError
from lookalike.index.base import Index
from lookalike.index.exact import ExactIndex
from lookalike.io import atomic_write_bytes


def require(module: str, package: str, purpose: str) -> Any:
    """Import an optional library or raise :class:`MissingDependencyError` naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(package, extra="adapters", purpose=purpose) from None


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def padded(nq: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """An all-empty answer: distances inf, ids -1."""
    return np.full((nq, k), np.inf, dtype=np.float32), np.full((nq, k), -1, dtype=np.int64)


def require_l2(index: Index) -> None:
    if index.space != "l2":
        raise ValueError(f"index {index.name!r} supports only the 'l2' space")


class RebuildingIndex(Index):
    """For libraries that cannot add or remove after building (annoy, trees, IVF...).

    The vectors live in an :class:`ExactIndex`; the library's structure is rebuilt by
    :meth:`build`, which the first search after a change calls. Subclasses implement
    ``_build(vectors)`` and ``_query(queries, k) -> (euclidean distances, row positions)``.
    """


    def __init__(self, dim: int, space: str = "l2", **params: Any) -> None:
        super().__init__(dim, space)
        self._data = ExactIndex(dim, space)
        self._ids: np.ndarray | None = None  # row → id of the built structure; None when stale

    def __len__(self) -> int:
        return len(self._data)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        self._data.add(vectors, ids)
        self._ids = None

    def remove(self, ids: np.ndarray) -> None:
        before = len(self._data)
        self._data.remove(ids)
        if len(self._data) != before:
            self._ids = None

    def build(self) -> None:
        if self._ids is None and len(self._data):
            ids, vecs = self._data.vectors()
            self._build(vecs)
            self._ids = ids

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = self._check_vectors(queries, "queries")
        k = self._check_k(k)
        dist, out = padded(len(q), k)
        if len(self._data) == 0:
            return dist, out
        self.build()
        assert self._ids is not None
        kk = min(k, len(self._ids))
        d, pos = self._query(q, kk)
        ok = pos >= 0
        dist[:, :kk] = np.where(ok, d, np.inf)
        out[:, :kk] = np.where(ok, self._ids[np.where(ok, pos, 0)], -1)
        return dist, out

    # persistence: subclasses whose library has a safe (non-pickle) file format set ``persistent``
    # and implement _dump/_restore; the vectors travel beside the structure so removals still work
    def _dump(self) -> bytes:
        """The built structure in the library's own format."""
        raise NotImplementedError

    def _restore(self, blob: bytes) -> None:
        """Rebuild ``self._ix`` from :meth:`_dump`'s bytes."""
        raise NotImplementedError

    def save(self, path: str | Path) -> None:
        if not self.persistent:
            super().save(path)
        self.build()
        ids, vecs = self._data.vectors()
        order = self._ids if self._ids is not None else np.empty(0, dtype=np.int64)
        blob = self._dump() if len(order) else b""
        save_blob(path, self.name, blob, {"ids": ids, "vectors": vecs, "order": order,
                                          "params": np.frombuffer(json.dumps(self.params).encode(), np.uint8)})

    @classmethod
    def load(cls, path: str | Path) -> RebuildingIndex:
        if not cls.persistent:
            return super().load(path)  # type: ignore[return-value]
        blob, meta = load_blob(path, cls.name)
        try:
            params = json.loads(meta["params"].tobytes())
            ids, vecs, order = meta["ids"], meta["vectors"], meta["order"]
            ix = cls(int(vecs.shape[1]), **params)
            if len(ids):
                ix._data.add(vecs, ids)
            if len(order):
                if not np.array_equal(np.sort(order), np.sort(ids)):
                    raise ValueError("the structure does not cover the stored vectors")
                ix._restore(blob)
                ix._ids = order
        except (KeyError, ValueError, TypeError, IndexError, RuntimeError) as exc:
            raise CorruptFileError(f"cannot read {cls.name} index {path}: {exc}") from exc
        return ix

    @abc.abstractmethod
    def _build(self, vectors: np.ndarray) -> None: ...

    @abc.abstractmethod
    def _query(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...


# ---- a safe file for libraries whose own format has no checksum -------------------------------
def save_blob(path: str | Path, kind: str, blob: bytes, meta: dict[str, np.ndarray]) -> None:
    """Write ``blob`` and plain arrays into an .npz with a SHA-256 of the blob (atomic)."""
    buf = io.BytesIO()
    arrays = {k: np.asarray(v) for k, v in meta.items()}
    np.savez(
        buf,
        kind=np.frombuffer(kind.encode(), dtype=np.uint8),
        blob=np.frombuffer(blob, dtype=np.uint8),
        sha256=np.frombuffer(hashlib.sha256(blob).digest(), dtype=np.uint8),
        **arrays,
    )
    atomic_write_bytes(Path(path), buf.getvalue())


def load_blob(path: str | Path, kind: str) -> tuple[bytes, dict[str, np.ndarray]]:
    """Read a file written by :func:`save_blob`, verifying its kind and checksum."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise CorruptFileError(f"cannot read {kind} index {path}: {exc}") from exc
    try:
        got_kind = arrays.pop("kind").tobytes().decode()
        blob = arrays.pop("blob").tobytes()
        digest = arrays.pop("sha256").tobytes()
    except (KeyError, UnicodeDecodeError) as exc:
        raise CorruptFileError(f"{path} is not a saved {kind} index") from exc
    if got_kind != kind:
        raise CorruptFileError(f"{path} holds a {got_kind!r} index, not {kind!r}")
    if hashlib.sha256(blob).digest() != digest:
        raise CorruptFileError(f"{path}: checksum mismatch (the file is corrupted)")
    return blob, arrays
