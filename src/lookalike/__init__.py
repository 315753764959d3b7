"""lookalike: which celebrities does this face look like?

The public Python API lives in :mod:`lookalike.api`; the most used names are re-exported here.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
