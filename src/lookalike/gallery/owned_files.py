"""Files the gallery owns: photos enrolled through the web service, kept in ``<gallery>/uploads``.

Photos ingested from the user's own folders are only read, never deleted. A photo the gallery owns is
deleted as soon as no image record uses it any more, so deleting a face deletes the photo it came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from lookalike.gallery.store import Store

UPLOADS_DIR = "uploads"


def is_owned(root: Path, path: str | Path) -> bool:
    """True when ``path`` lies directly in the gallery's uploads folder."""
    p = Path(path)
    try:
        return p.resolve().parent == (root / UPLOADS_DIR).resolve()
    except OSError:
        return False


def discard_unreferenced(root: Path, store: Store, paths: Iterable[str]) -> list[str]:
    """Delete the owned files among ``paths`` that no image record refers to; returns those deleted."""
    out = []
    for path in paths:
        if is_owned(root, path) and not store.has_image(path):
            Path(path).unlink(missing_ok=True)
            out.append(path)
    return out
