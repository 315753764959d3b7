"""Vector indexes behind one protocol: exact search, our HNSW, and adapters."""

from lookalike.index.base import Index, available_indexes, create_index, index_class, register

__all__ = ["Index", "available_indexes", "create_index", "index_class", "register"]
