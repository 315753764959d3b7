"""Our HNSW index: the compiled core ``lookalike._hnsw`` behind the :class:`Index` protocol.

Parameters (Malkov & Yashunin's names): ``M`` links per node (2·M on the bottom level),
``ef_construction`` beam width while building, ``ef`` beam width while searching (raised to ``k``
when smaller). Files are versioned, checksummed and validated; a damaged one raises
:class:`~lookalike.errors.CorruptFileError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lookalike.errors import CorruptFileError, LookalikeError
from lookalike.index.base import Index, register
from lookalike.io import atomic_write

DEFAULT_M = 16
DEFAULT_EF_CONSTRUCTION = 200
DEFAULT_EF = 64


def _core() -> Any:
    try:
        from lookalike import _hnsw
    except ImportError as exc:  # a source checkout without the compiled module
        raise LookalikeError(
            "the compiled HNSW core (lookalike._hnsw) is missing; install the package with "
            "`pip install .` (or build it in place, see csrc/hnsw)"
        ) from exc
    return _hnsw


@register("hnsw")
class HnswIndex(Index):
    """Hierarchical Navigable Small World graph (our C++ core): fast approximate k-NN."""

    persistent = True

    def __init__(
        self,
        dim: int,
        space: str = "l2",
        M: int = DEFAULT_M,
        ef_construction: int = DEFAULT_EF_CONSTRUCTION,
        ef: int = DEFAULT_EF,
        seed: int = 100,
        threads: int = -1,
        _core_index: Any = None,
    ) -> None:
        super().__init__(dim, space)
        self.threads = int(threads)
        if _core_index is not None:
            self._ix = _core_index
            return
        for name, value, low in (("M", M, 2), ("ef_construction", ef_construction, 1), ("ef", ef, 1)):
            if int(value) < low:
                raise ValueError(f"{name} must be at least {low}, got {value}")
        self._ix = _core().Index(space, self.dim, 1024, int(M), int(ef_construction), int(ef), int(seed))

    def __len__(self) -> int:
        return len(self._ix)

    @property
    def params(self) -> dict[str, Any]:
        return {"M": self._ix.M, "ef_construction": self._ix.ef_construction, "ef": self._ix.ef,
                "space": self.space}

    @property
    def core(self) -> Any:
        """The compiled index (distance counter, SIMD level, memory), for benchmarks and tests."""
        return self._ix

    def set_search_params(self, **params: Any) -> None:
        ef = params.pop("ef", None)
        super().set_search_params(**params)
        if ef is not None:
            if int(ef) < 1:
                raise ValueError(f"ef must be at least 1, got {ef}")
            self._ix.ef = int(ef)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        vec = self._check_vectors(vectors)
        ids_arr = self._check_ids(ids, len(vec))
        clash = [int(i) for i in ids_arr[:100_000] if int(i) in self._ix]
        if clash:
            raise ValueError(f"ids already in the index: {clash[:5]}")
        if len(vec):
            self._ix.add(vec, ids_arr, num_threads=self.threads)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = self._check_vectors(queries, "queries")
        k = self._check_k(k)
        dist, ids = self._ix.search(q, k, num_threads=self.threads)
        if self.space == "l2":
            np.sqrt(np.maximum(dist, 0.0, out=dist), out=dist)
        return dist, ids

    def remove(self, ids: np.ndarray) -> None:
        arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(arr):
            self._ix.remove(arr)

    def save(self, path: str | Path) -> None:
        """Write the index atomically (temp file + fsync + rename)."""
        atomic_write(path, lambda tmp: self._ix.save(str(tmp)))

    @classmethod
    def load(cls, path: str | Path) -> HnswIndex:
        core = _core()
        if not Path(path).is_file():
            raise FileNotFoundError(f"no HNSW index at {path}")
        try:
            ix = core.Index.load(str(path))
        except core.FormatError as exc:
            raise CorruptFileError(str(exc)) from exc
        except (RuntimeError, MemoryError) as exc:
            raise CorruptFileError(f"cannot read HNSW index {path}: {exc}") from exc
        return cls(ix.dim, space=ix.space, _core_index=ix)
