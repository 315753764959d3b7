"""scikit-learn's exact KDTree and BallTree behind the Index protocol (Euclidean space only)."""

from __future__ import annotations

from typing import Any

import numpy as np

from lookalike.index.adapters._common import RebuildingIndex, installed, require, require_l2
from lookalike.index.base import register


class _SklearnTree(RebuildingIndex):
    _class = ""

    def __init__(self, dim: int, space: str = "l2", leaf_size: int = 40, **params: Any) -> None:
        super().__init__(dim, space)
        require_l2(self)
        self._neighbors = require("sklearn.neighbors", "scikit-learn", f"the '{self.name}' index")
        self._leaf = int(leaf_size)
        self._tree: Any = None

    @classmethod
    def available(cls) -> bool:
        return installed("sklearn")

    @property
    def params(self) -> dict[str, Any]:
        return {"leaf_size": self._leaf, "space": self.space}

    def _build(self, vectors: np.ndarray) -> None:
        self._tree = getattr(self._neighbors, self._class)(vectors, leaf_size=self._leaf)

    def _query(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        d, i = self._tree.query(queries, k=k)
        return d.astype(np.float32), i.astype(np.int64)


@register("kdtree")
class KDTreeIndex(_SklearnTree):
    """sklearn.neighbors.KDTree: exact, fast in few dimensions, slow in 128."""

    _class = "KDTree"


@register("balltree")
class BallTreeIndex(_SklearnTree):
    """sklearn.neighbors.BallTree: exact."""

    _class = "BallTree"
