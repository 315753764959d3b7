"""Environment for child processes: they must import the same ``lookalike`` as the test run.

In a checkout built in place that is ``src/``; after ``pip install .`` (CI) it is site-packages,
where the compiled HNSW core lives. Putting ``src/`` first there would hide the core.
"""
from __future__ import annotations

import os
from pathlib import Path

import lookalike

PACKAGE_PARENT = str(Path(lookalike.__file__).resolve().parents[1])


def child_env(**extra: str) -> dict[str, str]:
    """``os.environ`` plus ``extra``, with the folder holding the imported package first on PYTHONPATH."""
    path = os.pathsep.join(p for p in (PACKAGE_PARENT, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}
