"""Many photos through one :class:`~lookalike.faces.pipeline.FacePipeline`, on every core, cached.

Worker processes (spawned, one pipeline each, no embedder loaded) decode, detect and align; the
parent embeds the chips in batches with all its threads (the embedder is batch-invariant, so a
face's vector does not depend on which batch it rode in) and serves cached photos without work.
Ingest (:mod:`lookalike.gallery.ingest`), evaluation protocols and training all go through
:func:`process_many`; :func:`labelled` adds the protocols' rule that every photo yields a vector.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from lookalike.errors import ImageError
from lookalike.faces.cache import CachedPhoto, EmbeddingCache
from lookalike.faces.detect import Selection, select_faces
from lookalike.faces.image import decode_image, read_bytes

if TYPE_CHECKING:
    from lookalike.faces.pipeline import FacePipeline
    from lookalike.faces.spec import PipelineSpec

#: faces embedded per batch in the parent
EMBED_BATCH = 64
_WORKER: dict[str, Any] = {}


@dataclass
class Prepared:
    """What a worker made of one photo: faces found and aligned, not yet embedded."""

    path: str
    sha256: str
    error: str | None = None
    width: int = 0
    height: int = 0
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    chips: np.ndarray | None = None
    how: str = ""


@dataclass
class Outcome:
    """One photo's result: ``photo`` (faces and vectors), or ``error`` for an unreadable file."""

    path: str
    sha256: str
    photo: CachedPhoto | None
    error: str | None = None
    cached: bool = False


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def signature(spec: PipelineSpec, select: Selection, stand_in: bool = False) -> str:
    """The cache key of a photo's result: spec key, which faces, and whether the stand-in box was allowed."""
    return f"{spec.key}|{select}" + ("|stand-in" if stand_in else "")


# ------------------------------------------------------------------------------------------ workers
def _init(pipeline_class: type[FacePipeline], spec: PipelineSpec) -> None:
    os.environ["LOOKALIKE_THREADS"] = "1"
    _WORKER["pipeline"] = pipeline_class(spec)  # the class travels by reference: no import cycle here


def prepare(pipeline: FacePipeline, path: str, select: Selection, stand_in: bool = False) -> Prepared:
    """Decode, detect and align one photo (the embedding is left to the caller's batch)."""
    try:
        data = read_bytes(path)
        image = decode_image(data)
    except ImageError as exc:
        return Prepared(path, "", error=str(exc))
    except OSError as exc:
        return Prepared(path, "", error=f"cannot read: {exc.strerror or exc}")
    sha = hashlib.sha256(data).hexdigest()
    if select == "labelled":
        face, how = pipeline.labelled_face(image, stand_in)
        faces = [face] if face is not None else []
    else:
        faces, how = select_faces(pipeline.detect(image), select, image.shape, None), ""
    boxes = [(f.box.left, f.box.top, f.box.right, f.box.bottom) for f in faces]
    return Prepared(path, sha, None, int(image.shape[1]), int(image.shape[0]), boxes,
                    [f.score for f in faces], pipeline.chips(image, faces), how)


def _work(task: tuple[str, Any, bool]) -> Prepared:
    return prepare(_WORKER["pipeline"], *task)


def prepare_many(pipeline: FacePipeline, tasks: Sequence[tuple[str, Any, bool]], workers: int) -> Iterator[Prepared]:
    """:func:`prepare` over ``(path, select, stand_in)`` tasks on ``workers`` processes (here when ≤ 1),
    in completion order. The one worker pool of lookalike."""
    if not tasks:
        return
    if workers <= 1 or len(tasks) < 4:
        for t in tasks:
            yield prepare(pipeline, *t)
        return
    with mp.get_context("spawn").Pool(workers, _init, (type(pipeline), pipeline.spec)) as pool:  # never fork model threads
        try:
            yield from pool.imap_unordered(_work, tasks, chunksize=4)
        finally:
            pool.terminate()


# ------------------------------------------------------------------------------------------ the engine
def process_many(
    pipeline: FacePipeline,
    items: Iterable[tuple[str, Selection]],
    workers: int = 0,
    cache: EmbeddingCache | None = None,
    stand_in: bool = False,
) -> Iterator[Outcome]:
    """Every photo's faces and vectors, in completion order: cached ones first, then the rest as
    workers finish them (embedded in batches here). ``cache`` is read and written."""
    workers = workers or (os.cpu_count() or 1)
    tasks: list[tuple[str, Any, bool]] = []
    for path, select in items:
        try:
            sha = file_sha256(path)
        except OSError as exc:
            yield Outcome(path, "", None, f"cannot read: {exc.strerror or exc}")
            continue
        hit = cache.get(sha, signature(pipeline.spec, select, stand_in)) if cache is not None else None
        if hit is not None:
            yield Outcome(path, sha, hit, cached=True)
        else:
            tasks.append((path, select, stand_in))
    pending: list[Prepared] = []
    selects = {t[0]: t[1] for t in tasks}

    def flush() -> Iterator[Outcome]:
        chips = [p.chips for p in pending if p.chips is not None and len(p.chips)]
        vecs = pipeline.embed_chips(np.concatenate(chips)) if chips else np.empty((0, pipeline.dim), np.float32)
        at = 0
        for p in pending:
            n = len(p.boxes)
            photo = CachedPhoto(p.width, p.height, p.boxes, p.scores, vecs[at : at + n], p.how)
            at += n
            if cache is not None:
                cache.put(p.sha256, signature(pipeline.spec, selects[p.path], stand_in), photo)
            yield Outcome(p.path, p.sha256, photo)
        pending.clear()

    faces = 0
    for prep in prepare_many(pipeline, tasks, workers):
        if prep.error is not None:
            yield Outcome(prep.path, prep.sha256, None, prep.error)
            continue
        pending.append(prep)
        faces += len(prep.boxes)
        if faces >= EMBED_BATCH:
            yield from flush()
            faces = 0
    yield from flush()


@dataclass
class Labelled:
    """One vector per labelled photo, in the order given, and how each photo's face was found."""

    vectors: np.ndarray
    how: list[str]

    def found_by(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for h in self.how:
            out[h] = out.get(h, 0) + 1
        return out


def labelled(pipeline: FacePipeline, paths: Sequence[str | Path], workers: int = 0, progress: bool = True,
             cache: EmbeddingCache | None = None) -> Labelled:
    """The labelled face's vector of every photo (the central box stands in where none is found),
    cached; protocols rely on every photo giving one vector. Unreadable photos raise."""
    keys = [str(p) for p in paths]
    own = cache is None
    cache = cache or EmbeddingCache()
    rows: dict[str, tuple[np.ndarray, str]] = {}
    bar = tqdm(total=len(set(keys)), desc=f"embed [{pipeline.spec.describe()}]", unit="photo",
               disable=not progress or os.environ.get("LOOKALIKE_QUIET") is not None, smoothing=0.05)
    try:
        for out in process_many(pipeline, ((k, "labelled") for k in dict.fromkeys(keys)), workers, cache, True):
            if out.photo is None:
                raise ImageError(f"{out.path}: {out.error}")
            rows[out.path] = (out.photo.embeddings[0], out.photo.how)
            bar.update(1)
    finally:
        bar.close()
        if own:
            cache.close()
    if not keys:
        return Labelled(np.empty((0, pipeline.dim), np.float32), [])
    return Labelled(np.stack([rows[k][0] for k in keys]).astype(np.float32), [rows[k][1] for k in keys])


def labelled_chips(pipeline: FacePipeline, paths: Sequence[str | Path], workers: int = 0,
                   progress: bool = True) -> np.ndarray:
    """Aligned chips of the labelled face of every photo (central box as stand-in), in order."""
    keys = [str(p) for p in paths]
    chips: dict[str, np.ndarray] = {}
    tasks = [(k, "labelled", True) for k in dict.fromkeys(keys)]
    for prep in tqdm(prepare_many(pipeline, tasks, workers or (os.cpu_count() or 1)), total=len(tasks),
                     desc="chips", unit="photo", disable=not progress):
        if prep.error is not None or prep.chips is None:
            raise ImageError(f"{prep.path}: {prep.error}")
        chips[prep.path] = prep.chips[0]
    size = pipeline.card.chip_size
    return np.stack([chips[k] for k in keys]) if keys else np.empty((0, size, size, 3), np.uint8)
