"""Where things live and the named constants every module shares (with where each figure came from)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import platformdirs

APP = "lookalike"

#: width of the logistic mapping distance → similarity: at threshold ± 0.22 the similarity is 10%/90%.
#: Chosen so that dlib's typical same-person distance (≈ 0.44) shows ≈ 83% and a stranger (≈ 0.82) ≈ 10%.
SIMILARITY_SCALE = 0.1


def similarity(distance: float, threshold: float) -> float:
    """Percent similarity: a monotone decreasing logistic map of distance, 50% at the same-person
    ``threshold`` (the model's own, :attr:`~lookalike.faces.embed.EmbedderCard.threshold`, or the calibrated one)."""
    if not math.isfinite(distance):
        return 0.0
    z = (distance - threshold) / SIMILARITY_SCALE
    return 100.0 / (1.0 + math.exp(min(z, 60.0)))


def data_dir() -> Path:
    """The user's lookalike data folder (``LOOKALIKE_HOME`` overrides)."""
    env = os.environ.get("LOOKALIKE_HOME")
    return Path(env) if env else Path(platformdirs.user_data_dir(APP))


def default_gallery() -> Path:
    """The gallery used when ``--gallery`` is not given."""
    return data_dir() / "gallery"


def cache_dir() -> Path:
    """Cache folder for converted models and embeddings (``LOOKALIKE_CACHE`` overrides)."""
    env = os.environ.get("LOOKALIKE_CACHE")
    return Path(env) if env else Path(platformdirs.user_cache_dir(APP))


def datasets_dir() -> Path:
    """Where public data sets are read from.

    ``LOOKALIKE_DATASETS`` if set; else a ``shared/datasets`` folder beside the checkout (development
    and CI: looked for next to the working directory and its parents, then next to this source file);
    else the user's cache folder, where ``lookalike fetch`` downloads them.
    """
    env = os.environ.get("LOOKALIKE_DATASETS")
    if env:
        return Path(env)
    here = Path.cwd().resolve()
    for base in [here, *here.parents, *Path(__file__).resolve().parents]:
        cand = base.parent / "shared" / "datasets"
        if cand.is_dir():
            return cand
    return cache_dir() / "datasets"
