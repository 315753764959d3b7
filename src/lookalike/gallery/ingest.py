"""Turning photos into stored faces, on every core, resumable, reusing cached embeddings."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.errors import ImageError, LookalikeError
from lookalike.gallery.cache import CachedPhoto, EmbeddingCache
from lookalike.gallery.sources import SourceItem

#: what a worker sends back for one photo
Outcome = tuple[str, str, str, Any]  # (path, status, sha256, CachedPhoto | error message)

_WORKER: dict[str, Any] = {}


@dataclass
class IngestReport:
    """What an ingest did."""

    total: int = 0
    skipped_existing: int = 0
    added_images: int = 0
    added_faces: int = 0
    cached: int = 0
    no_face: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _init_worker(embedder: str | None, detector: str, upsample: Any, threads: int) -> None:
    os.environ["LOOKALIKE_THREADS"] = str(threads)
    from lookalike.faces.pipeline import FacePipeline

    _WORKER["pipeline"] = FacePipeline(embedder, detector, upsample)


def _process(task: tuple[str, str, str]) -> Outcome:
    path, keep, sha = task
    pipe = _WORKER["pipeline"]
    try:
        res = pipe.process_path(path, keep)  # type: ignore[arg-type]
    except ImageError as exc:
        return path, "error", sha, str(exc)
    except OSError as exc:
        return path, "error", sha, f"cannot read: {exc}"
    emb = (
        np.stack([f.embedding for f in res.faces])
        if res.faces
        else np.empty((0, pipe.embedder.dim), dtype=np.float32)
    )
    photo = CachedPhoto(
        res.width,
        res.height,
        [(f.box.left, f.box.top, f.box.right, f.box.bottom) for f in res.faces],
        [f.score for f in res.faces],
        emb,
    )
    return path, "ok" if res.faces else "noface", res.sha256 or sha, photo


def run_pipeline(
    tasks: list[tuple[str, str, str]],
    embedder: str | None,
    detector: str,
    upsample: Any,
    workers: int,
    pipeline: Any = None,
) -> Iterator[Outcome]:
    """Process photos on ``workers`` processes (in this process when ``workers`` ≤ 1)."""
    if not tasks:
        return
    if workers <= 1:
        if pipeline is not None:
            _WORKER["pipeline"] = pipeline
        else:
            _init_worker(embedder, detector, upsample, int(os.environ.get("LOOKALIKE_THREADS", "0") or 0))
        for t in tasks:
            yield _process(t)
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    ctx = mp.get_context("spawn")  # never fork a process holding model threads
    with ctx.Pool(workers, _init_worker, (embedder, detector, upsample, threads)) as pool:
        try:
            yield from pool.imap_unordered(_process, tasks, chunksize=2)
        finally:
            pool.terminate()


def plan(
    items: list[SourceItem],
    already: set[str],
    cache: EmbeddingCache | None,
    signature: str,
    report: IngestReport,
    on_cached: Callable[[SourceItem, str, CachedPhoto], None],
) -> list[tuple[str, str, str]]:
    """Skip stored photos, serve cached ones, and return the tasks left for the pipeline."""
    tasks = []
    for it in items:
        key = str(it.path)
        if key in already:
            report.skipped_existing += 1
            continue
        try:
            sha = file_sha256(it.path)
        except OSError as exc:
            report.errors.append((key, f"cannot read: {exc.strerror or exc}"))
            continue
        hit = cache.get(sha, f"{signature}|{it.keep}") if cache else None
        if hit is not None:
            report.cached += 1
            on_cached(it, sha, hit)
        else:
            tasks.append((key, it.keep, sha))
    return tasks


def check_workers(workers: int) -> int:
    if workers < 0:
        raise LookalikeError("workers must be ≥ 0 (0 = one per core)")
    return workers or (os.cpu_count() or 1)
