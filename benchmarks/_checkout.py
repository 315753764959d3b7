"""Make ``import lookalike`` work from a benchmark script, run as ``python benchmarks/NAME.py``.

The checkout's ``src/`` is used when it has the compiled HNSW core (built in place) or when no
``lookalike`` is installed; otherwise the installed package (which has the core) is kept.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def use_checkout() -> None:
    """Put ``src/`` first on ``sys.path`` unless that would hide an installed, compiled package."""
    built_in_place = any((SRC / "lookalike").glob("_hnsw*"))
    if built_in_place or importlib.util.find_spec("lookalike") is None:
        sys.path.insert(0, str(SRC))


def package_parent() -> str:
    """The folder holding the ``lookalike`` this process imports: put it on a child's PYTHONPATH."""
    import lookalike

    return str(Path(lookalike.__file__).resolve().parents[1])


use_checkout()
