"""Real embeddings of the LFW photos (the default pipeline's, one per photo with a face), computed once and cached."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lookalike.settings import cache_dir, datasets_dir


def lfw_embeddings(root: str | Path | None = None, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(embeddings (n, 128) float32, person index (n,) int64)`` of every LFW photo with a face.

    The first call ingests LFW into a throw-away gallery (the shared embedding cache makes this fast
    once the photos were embedded) and keeps the result in ``<cache>/lfw-dlib-embeddings.npz``.
    """
    out = cache_dir() / "lfw-dlib-embeddings.npz"
    if out.exists():
        with np.load(out, allow_pickle=False) as z:
            return z["embeddings"], z["labels"]
    from lookalike.faces.batch import labelled
    from lookalike.faces.pipeline import FacePipeline
    from lookalike.gallery.sources import lfw
    from lookalike.io import atomic_save_npz

    items = lfw(Path(root) if root else datasets_dir() / "lfw")
    got = labelled(FacePipeline(), [str(i.path) for i in items], progress=progress)
    keep = [i for i, how in enumerate(got.how) if how != "centre"]  # photos where a detector found the face
    names = [str(items[i].person) for i in keep]
    uniq = {n: j for j, n in enumerate(sorted(set(names)))}
    labels = np.array([uniq[n] for n in names], dtype=np.int64)
    vecs = got.vectors[keep].astype(np.float32)
    atomic_save_npz(out, embeddings=vecs, labels=labels)
    return vecs, labels
