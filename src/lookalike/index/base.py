"""The Index protocol every vector index implements, and the registry that names them.

Data contract (stated once, like faiss): vectors and queries are float32, C-contiguous,
shape ``(n, dim)``; ids are int64, shape ``(n,)``; ``search`` returns ``(distances, ids)``
of shape ``(nq, k)``, sorted nearest first, with ``distance = inf`` and ``id = -1`` where
fewer than ``k`` vectors exist. Distances are Euclidean (not squared) in the "l2" space and
``1 - <q, x>`` in the "ip" space.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lookalike.errors import LookalikeError

SPACES = ("l2", "ip")


class Index(abc.ABC):
    """A set of (id, vector) pairs searchable by nearest neighbours."""

    #: registry name, e.g. "exact" or "hnsw"
    name: ClassVar[str] = ""
    #: True when ``save``/``load`` use a safe format; otherwise galleries rebuild from the store
    persistent: ClassVar[bool] = False
    #: True when ``add``/``search`` take ``people=`` and ``model=`` (scalar fields a search can filter on)
    supports_filter: ClassVar[bool] = False
    #: True when ``remove`` is supported natively (otherwise the wrapper rebuilds)

    def __init__(self, dim: int, space: str = "l2", **params: Any) -> None:
        if dim <= 0:
            raise ValueError(f"dim must be positive, got {dim}")
        if space not in SPACES:
            raise ValueError(f"space must be one of {SPACES}, got {space!r}")
        self.dim = int(dim)
        self.space = space

    @abc.abstractmethod
    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Insert vectors under the given ids (ids already present are an error)."""

    @abc.abstractmethod
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(distances, ids)`` of the ``k`` nearest neighbours of each query."""

    @abc.abstractmethod
    def remove(self, ids: np.ndarray) -> None:
        """Remove vectors by id; unknown ids are ignored."""

    @abc.abstractmethod
    def __len__(self) -> int:
        """Number of live vectors."""

    @property
    def params(self) -> dict[str, Any]:
        """Build and search parameters (M, ef, ...), for reports."""
        return {}

    @classmethod
    def available(cls) -> bool:
        """True when the optional packages this index needs are installed."""
        return True

    def build(self) -> None:
        """Make every added vector searchable now. Static indexes (annoy, trees, IVF) build here,
        otherwise on the first search after a change; incremental indexes have nothing to do."""

    def live_ids(self) -> np.ndarray | None:
        """The ids an external store holds now, when it outlives this process (Milvus); else None."""
        return None

    @classmethod
    def in_gallery(cls, params: dict[str, Any], root: Path) -> dict[str, Any]:
        """The parameters this index runs with inside the gallery folder ``root`` (where its files live)."""
        return params

    def set_search_params(self, **params: Any) -> None:
        """Change search-time parameters (ef, nprobe, search_k...)."""
        if params:
            raise ValueError(f"{self.name} has no search parameters {sorted(params)}")

    def save(self, path: str | Path) -> None:
        """Write the index to ``path`` atomically."""
        raise NotImplementedError(f"index {self.name!r} cannot be saved; rebuild it from the store")

    @classmethod
    def load(cls, path: str | Path) -> Index:
        """Read an index written by :meth:`save`."""
        raise NotImplementedError(f"index {cls.name!r} cannot be loaded; rebuild it from the store")

    # helpers shared by implementations -------------------------------------------------
    def _check_vectors(self, vectors: np.ndarray, what: str = "vectors") -> np.ndarray:
        arr = np.asarray(vectors)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self.dim:
            raise ValueError(f"{what} must have shape (n, {self.dim}), got {arr.shape}")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.isfinite(arr).all():
            raise ValueError(f"{what} contain NaN or infinity")
        return arr

    @staticmethod
    def _check_ids(ids: np.ndarray, n: int) -> np.ndarray:
        arr = np.ascontiguousarray(np.asarray(ids).reshape(-1), dtype=np.int64)
        if arr.shape[0] != n:
            raise ValueError(f"got {arr.shape[0]} ids for {n} vectors")
        if len(np.unique(arr)) != n:
            raise ValueError("ids must be unique")
        if n and arr.min() < 0:
            raise ValueError("ids must be non-negative")
        return arr

    @staticmethod
    def _check_k(k: int) -> int:
        if int(k) < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        return int(k)


_REGISTRY: dict[str, Callable[..., Index]] = {}


def register(name: str) -> Callable[[type[Index]], type[Index]]:
    """Class decorator: make an index available by name."""

    def deco(cls: type[Index]) -> type[Index]:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def available_indexes() -> list[str]:
    """Names of every registered index (their optional packages may still be missing)."""
    _import_builtin()
    return sorted(_REGISTRY)


def index_class(name: str) -> type[Index]:
    """The class registered under ``name``."""
    _import_builtin()
    try:
        return _REGISTRY[name]  # type: ignore[return-value]
    except KeyError:
        raise LookalikeError(
            f"unknown index {name!r}; choose one of: {', '.join(sorted(_REGISTRY))}"
        ) from None


def create_index(name: str, dim: int, space: str = "l2", **params: Any) -> Index:
    """Instantiate the index registered under ``name``."""
    return index_class(name)(dim, space=space, **params)


def _import_builtin() -> None:
    # Importing the modules runs their @register decorators.
    import importlib

    # Adapters import their third-party library lazily, so a missing extra never fails here.
    for mod in ("lookalike.index.exact", "lookalike.index.hnsw", "lookalike.index.adapters"):
        importlib.import_module(mod)
