"""Adapters that put third-party ANN libraries behind the :class:`lookalike.index.Index` protocol.

Each module registers its indexes on import and imports its library only when an index is made,
so a missing optional package gives :class:`~lookalike.errors.MissingDependencyError` then, not here.
"""

from lookalike.index.adapters import (  # noqa: F401  (imported for their @register side effect)
    annoy_adapter,
    faiss_adapters,
    hnswlib_adapter,
    milvus_adapter,
    ngt_adapter,
    sklearn_trees,
)
