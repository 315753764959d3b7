"""A persistent cache of per-photo face results, so a data set is embedded once and reused.

Keyed by the photo's SHA-256 and a signature made of the pipeline spec's key and which faces were
kept; a different model or setting never sees another's results. Ingest, enrolment and evaluation
share it, so LFW embedded by ``lookalike eval`` is not embedded again by ``lookalike ingest``.
Lives in the cache folder (``$LOOKALIKE_CACHE/embeddings.sqlite``); a damaged file is replaced.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lookalike.settings import cache_dir


@dataclass(frozen=True)
class CachedPhoto:
    """What the pipeline found in one photo."""

    width: int
    height: int
    boxes: list[tuple[int, int, int, int]]
    scores: list[float]
    embeddings: np.ndarray  # (n, dim) float32
    #: for a labelled photo, which detector found its face ("hog", "cnn", ...), "centre" for the
    #: stand-in central box, "" when no face was found or all faces were kept
    how: str = ""


class EmbeddingCache:
    """SQLite key-value store: (sha256, signature) → faces. Safe to share between threads."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else cache_dir() / "embeddings.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS photos (sha256 TEXT, signature TEXT, meta TEXT NOT NULL, "
                "embeddings BLOB NOT NULL, PRIMARY KEY (sha256, signature))"
            )
        except sqlite3.DatabaseError:
            # A cache is disposable: a damaged one is replaced, never trusted.
            self.path.unlink(missing_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute(
                "CREATE TABLE photos (sha256 TEXT, signature TEXT, meta TEXT NOT NULL, "
                "embeddings BLOB NOT NULL, PRIMARY KEY (sha256, signature))"
            )

    def get(self, sha256: str, signature: str) -> CachedPhoto | None:
        with self._lock:
            row = self._db.execute(
                "SELECT meta, embeddings FROM photos WHERE sha256 = ? AND signature = ?", (sha256, signature)
            ).fetchone()
        if row is None:
            return None
        meta = json.loads(row[0])
        emb = np.frombuffer(row[1], dtype=np.float32).reshape(len(meta["boxes"]), meta["dim"]).copy()
        return CachedPhoto(meta["width"], meta["height"], [tuple(b) for b in meta["boxes"]], meta["scores"], emb,
                           meta.get("how", ""))

    def put(self, sha256: str, signature: str, photo: CachedPhoto) -> None:
        emb = np.ascontiguousarray(photo.embeddings, dtype=np.float32)
        meta = {
            "width": photo.width,
            "height": photo.height,
            "boxes": [list(map(int, b)) for b in photo.boxes],
            "scores": [float(s) for s in photo.scores],
            "dim": int(emb.shape[1]) if emb.ndim == 2 else 0,
            "how": photo.how,
        }
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO photos(sha256, signature, meta, embeddings) VALUES (?, ?, ?, ?)",
                (sha256, signature, json.dumps(meta), emb.tobytes()),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
