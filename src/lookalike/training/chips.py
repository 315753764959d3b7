"""Aligned chips of labelled photos under a spec, cached (``<cache>/training/chips-<spec key>-<size>.npz``).

The chips come from ``FacePipeline(spec).labelled_chips`` — the same faces, alignment and padding
the spec's embedder sees. Chips of another size are the pipeline's chip resized (Lanczos). The cache
grows incrementally, is written atomically and read with ``allow_pickle=False``. Used only through
:func:`lookalike.training.data.labelled_chips`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lookalike.faces.spec import PipelineSpec
from lookalike.io import atomic_save_npz
from lookalike.settings import cache_dir


def _load(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        return {}
    try:
        with np.load(path, allow_pickle=False) as z:
            return dict(zip((str(p) for p in z["paths"]), z["chips"]))
    except (OSError, ValueError, KeyError, EOFError):
        return {}  # a cache is disposable


def _save(path: Path, table: dict[str, np.ndarray]) -> None:
    keys = sorted(table)
    atomic_save_npz(path, paths=np.array(keys, dtype=str), chips=np.stack([table[k] for k in keys]))


def chips_for(paths: Sequence[str | Path], spec: PipelineSpec, size: int = 150, workers: int = 0) -> np.ndarray:
    """``(n, size, size, 3)`` uint8 chips of the labelled face of each photo (cached)."""
    from lookalike.faces.pipeline import FacePipeline

    keys = [str(p) for p in paths]
    file = cache_dir() / "training" / f"chips-{spec.key}-{size}.npz"
    table = _load(file)
    missing = sorted(set(keys) - set(table))
    if missing:
        chips = FacePipeline(spec).labelled_chips(missing, workers)
        if chips.shape[1] != size:
            from PIL import Image

            chips = np.stack([np.asarray(Image.fromarray(c).resize((size, size), Image.Resampling.LANCZOS), np.uint8)
                              for c in chips])
        table.update(zip(missing, chips))
        _save(file, table)
    if not keys:
        return np.empty((0, size, size, 3), np.uint8)
    return np.stack([table[k] for k in keys])
