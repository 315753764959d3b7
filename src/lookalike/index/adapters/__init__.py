"""Adapters that put third-party ANN libraries behind the :class:`lookalike.index.Index` protocol."""
