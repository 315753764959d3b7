"""Real dlib embeddings of the LFW photos, computed once through a gallery ingest and cached."""

from __future__ import annotations

import tempfile
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
    from lookalike.gallery.gallery import Gallery, atomic_write_bytes
    from lookalike.gallery.sources import lfw

    root = Path(root) if root else datasets_dir() / "lfw"
    with tempfile.TemporaryDirectory() as tmp, Gallery.open(tmp, index="exact") as g:
        g.ingest(lfw(root), progress=progress)
        ids, vecs = g.store.embeddings()
        recs = g.store.faces(ids.tolist())
    names = [recs[int(i)].person or "" for i in ids]
    uniq = {n: j for j, n in enumerate(sorted(set(names)))}
    labels = np.array([uniq[n] for n in names], dtype=np.int64)
    import io

    buf = io.BytesIO()
    np.savez(buf, embeddings=vecs.astype(np.float32), labels=labels)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, buf.getvalue())
    return vecs.astype(np.float32), labels
