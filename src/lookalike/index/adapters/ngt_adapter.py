"""Yahoo Japan's NGT (ANNG graph) behind the Index protocol (Euclidean space only)."""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.index.adapters._common import RebuildingIndex, installed, require, require_l2
from lookalike.index.base import register


@register("ngt")
class NgtIndex(RebuildingIndex):
    """ngtpy ANNG with ``edge_size`` creation edges; search widened by ``epsilon``."""

    def __init__(self, dim: int, space: str = "l2", edge_size: int = 10, epsilon: float = 0.1,
                 threads: int = 2, **params: Any) -> None:
        super().__init__(dim, space)
        require_l2(self)
        self._ngt = require("ngtpy", "ngt", "the 'ngt' index")
        self._edges, self._eps, self._threads = int(edge_size), float(epsilon), int(threads)
        self._ix: Any = None
        self._dir: str | None = None

    @classmethod
    def available(cls) -> bool:
        return installed("ngtpy")

    @property
    def params(self) -> dict[str, Any]:
        return {"edge_size": self._edges, "epsilon": self._eps, "space": self.space}

    def set_search_params(self, **params: Any) -> None:
        eps = params.pop("epsilon", None)
        super().set_search_params(**params)
        if eps is not None:
            self._eps = float(eps)

    def _build(self, vectors: np.ndarray) -> None:
        self._close()
        self._dir = tempfile.mkdtemp(prefix="lookalike-ngt-")
        path = f"{self._dir}/index"
        self._ngt.create(path, self.dim, edge_size_for_creation=self._edges, distance_type="L2",
                         object_type="Float")
        self._ix = self._ngt.Index(path, log_disabled=True)
        self._ix.batch_insert(np.ascontiguousarray(vectors), num_threads=self._threads)

    persistent = True

    def _dump(self) -> bytes:
        """NGT keeps an index in a folder of plain files; they travel as one .npz (no pickle, no tar)."""
        self._ix.save()
        buf = io.BytesIO()
        folder = Path(f"{self._dir}/index")
        np.savez(buf, **{f.name: np.frombuffer(f.read_bytes(), np.uint8) for f in sorted(folder.iterdir())
                         if f.is_file()})
        return buf.getvalue()

    def _restore(self, blob: bytes) -> None:
        self._close()
        self._dir = tempfile.mkdtemp(prefix="lookalike-ngt-")
        folder = Path(f"{self._dir}/index")
        folder.mkdir()
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            for name in z.files:
                if "/" in name or name.startswith("."):
                    raise ValueError(f"unexpected file name {name!r} in a saved NGT index")
                (folder / name).write_bytes(z[name].tobytes())
        self._ix = self._ngt.Index(str(folder), log_disabled=True)

    def _query(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        dist = np.full((len(queries), k), np.inf, dtype=np.float32)
        pos = np.full((len(queries), k), -1, dtype=np.int64)
        for r, q in enumerate(queries):
            res = self._ix.search(q, size=k, epsilon=self._eps)
            for j, (i, d) in enumerate(res):
                pos[r, j], dist[r, j] = i, d
        return dist, pos

    def _close(self) -> None:
        if self._ix is not None:
            self._ix.close()
            self._ix = None
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown
            self._close()
