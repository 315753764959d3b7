"""dlib's own descriptors for real photos: the yardstick other runtimes are checked against.

Each photo is decoded, its faces found and aligned by the project's own pipeline pieces
(:class:`~lookalike.faces.detect.FaceDetector`, :func:`~lookalike.faces.align.align`), the face
nearest the centre kept (LFW's labelled face) and embedded by
:class:`~lookalike.faces.embed.DlibResNetEmbedder`. dlib holds the GIL while it computes, so the
photos are spread over worker processes (spawn). Results can be cached in
``<cache>/reference/`` keyed by everything that changes them (photo list, options, dlib version,
model checksum); the file holds only numeric arrays and strings and is read with
``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.errors import ImageError
from lookalike.faces.embed import CHIP_SIZE

#: how a chip was found: HOG without upsampling, HOG upsampled once, or the image's central box
HOW = ("hog", "hog-upsampled", "centre")

_WORKER: dict[str, Any] = {}


@dataclass
class ReferenceSet:
    """Chips and dlib's descriptors for photos, in the order the photos were given."""

    paths: list[str]
    chips: np.ndarray  # (n, 150, 150, 3) uint8
    descriptors: np.ndarray  # (n, 128) float32, dlib's own
    how: list[str]


def _init(fallback: bool) -> None:
    from lookalike.faces.detect import FaceDetector
    from lookalike.faces.embed import DlibResNetEmbedder

    _WORKER.update(
        fallback=fallback,
        detector=FaceDetector("hog", upsample=0),
        upsampled=FaceDetector("hog", upsample=1) if fallback else None,
        embedder=DlibResNetEmbedder(),
    )


def _work(path: str) -> tuple[str, np.ndarray | None, np.ndarray | None, str]:
    """(path, chip, dlib descriptor, how) — chip and descriptor None when no face is used."""
    from lookalike.faces.align import align
    from lookalike.faces.detect import Box, most_central
    from lookalike.faces.image import decode_image, read_bytes

    try:
        image = decode_image(read_bytes(path))
    except ImageError as exc:
        return path, None, None, f"error: {exc}"
    face, how = most_central(_WORKER["detector"].detect(image), image.shape), "hog"
    if face is None and _WORKER["fallback"]:
        face, how = most_central(_WORKER["upsampled"].detect(image), image.shape), "hog-upsampled"
        if face is None:  # LFW photos are centred on the labelled face
            h, w = image.shape[:2]
            face = _WORKER["detector"].landmarks(image, Box(w // 4, h // 4, 3 * w // 4, 3 * h // 4))
            how = "centre"
    if face is None:
        return path, None, None, "none"
    chip = align(image, face)
    return path, chip, _WORKER["embedder"].embed(chip)[0], how


def compute_reference(
    paths: Sequence[str | Path],
    workers: int = 1,
    limit: int | None = None,
    fallback: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ReferenceSet:
    """dlib chips + descriptors for ``paths`` (in order), using ``workers`` processes.

    Photos without a face are skipped unless ``fallback`` (then: upsample once, else the central
    box). ``limit`` stops after that many faces. ``progress(done, total)`` is called as photos finish.
    """
    items = [str(p) for p in paths]
    used: list[str] = []
    chips: list[np.ndarray] = []
    descs: list[np.ndarray] = []
    hows: list[str] = []

    def collect(results: Any) -> None:
        for i, (path, chip, desc, how) in enumerate(results):
            if progress is not None:
                progress(i + 1, len(items))
            if chip is not None:
                used.append(path)
                chips.append(chip)
                descs.append(desc)
                hows.append(how)
                if limit is not None and len(chips) >= limit:
                    return

    if workers <= 1:
        _init(fallback)
        collect(_work(p) for p in items)
    else:
        with mp.get_context("spawn").Pool(workers, _init, (fallback,)) as pool:
            collect(pool.imap(_work, items, chunksize=4))  # leaving the block terminates the pool
    return ReferenceSet(
        paths=used,
        chips=np.stack(chips) if chips else np.empty((0, CHIP_SIZE, CHIP_SIZE, 3), np.uint8),
        descriptors=np.stack(descs).astype(np.float32) if descs else np.empty((0, 128), np.float32),
        how=hows,
    )


def reference_key(paths: Sequence[str | Path], **options: Any) -> str:
    """Checksum of everything that determines a :class:`ReferenceSet`."""
    import dlib

    from lookalike.faces.model_cache import default_model_path, file_sha256

    parts = [dlib.__version__, file_sha256(default_model_path()), repr(sorted(options.items())), *map(str, paths)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def cached_reference(
    label: str,
    paths: Sequence[str | Path],
    workers: int = 1,
    limit: int | None = None,
    fallback: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ReferenceSet:
    """:func:`compute_reference`, kept in ``<cache>/reference/<label>-<key>.npz`` between runs."""
    from lookalike.faces.model_cache import atomic_write
    from lookalike.settings import cache_dir

    key = reference_key(paths, limit=limit, fallback=fallback)
    target = cache_dir() / "reference" / f"{label}-{key}.npz"
    if target.exists():
        try:
            with np.load(target, allow_pickle=False) as data:
                return ReferenceSet(
                    paths=[str(p) for p in data["paths"]],
                    chips=data["chips"],
                    descriptors=data["descriptors"],
                    how=[str(h) for h in data["how"]],
                )
        except (OSError, ValueError, KeyError):
            pass  # unreadable: compute again
    ref = compute_reference(paths, workers=workers, limit=limit, fallback=fallback, progress=progress)

    def write(tmp: Path) -> None:
        with tmp.open("wb") as fh:
            np.savez(fh, paths=np.array(ref.paths, dtype=str), chips=ref.chips,
                     descriptors=ref.descriptors, how=np.array(ref.how, dtype=str))  # fmt: skip

    try:
        atomic_write(target, write, suffix=".npz")
    except OSError:
        pass  # a read-only cache only costs the next run time
    return ref

