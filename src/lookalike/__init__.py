"""lookalike: which celebrities does this face look like?

The public Python API lives in :mod:`lookalike.api` and is re-exported here (imported lazily, so
``import lookalike`` stays cheap and loads no model)::

    import lookalike
    lookalike.build_gallery("../shared/datasets/lfw")
    matches = lookalike.search("photo.jpg", k=5)
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "build_gallery", "identify", "info", "open_gallery", "remove", "search", "verify"]
_API = frozenset(__all__) - {"__version__"}  # loaded from lookalike.api on first use


def __getattr__(name: str) -> Any:
    if name in _API:
        from lookalike import api

        return getattr(api, name)
    raise AttributeError(f"module 'lookalike' has no attribute {name!r}")
