"""Embeddings of labelled photos under a named *recipe*, computed on every core and cached.

A recipe is everything between a photo file and its descriptor: detector and upsampling, what to
do when no face is found (the photo's central box, or dlib's CNN detector first), the landmark
model, the chip padding, test-time augmentation (averaging with the mirrored chip, dlib's random
jitter) and the embedder. Two caches live in ``<cache>/eval/`` (``$LOOKALIKE_CACHE``):

* ``detect-<detector>-up<n>.npz``: per photo path, the central face box one detector found (or
  none) — the slow step (HOG upsampled once ≈ 40 ms per LFW photo, the CNN ≈ 2 s), shared by
  every recipe that uses that detector;
* ``embed-<key>.npz``: per photo path, the descriptor — keyed by the whole recipe.

Both are plain arrays read with ``allow_pickle=False`` and grow incrementally: asking for more
photos computes only the missing ones. Writes are atomic (temp file + fsync + rename).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.errors import LookalikeError
from lookalike.settings import cache_dir

FALLBACKS = ("centre", "cnn")
#: which detection is the labelled face: the one nearest the photo's centre, or the nearest among
#: those whose box contains the centre (LFW photos are centred on the labelled face)
PICKS = ("central", "covers")
LANDMARKS = ("5", "68")
#: how a face was found: HOG, dlib's CNN detector (HOG found none), the photo's central box (neither)
HOW = ("hog", "cnn", "centre")
_BLOCK = 256  # photos per embedding batch

_WORKER: dict[str, Any] = {}


@dataclass(frozen=True)
class Recipe:
    """Photo → descriptor settings. ``plain()`` is the project's pipeline on labelled photos."""

    upsample: int = 1
    fallback: str = "centre"  # "centre" or "cnn" (CNN detector, then the central box)
    pick: str = "central"  # "central" or "covers" (the box must contain the photo's centre)
    landmarks: str = "5"  # "5" or "68" point shape predictor
    padding: float = 0.25  # dlib's chip padding around the landmark square
    flip: bool = False  # average the descriptor with that of the mirrored chip
    jitter: int = 0  # average over this many dlib.jitter_image copies (0 = the chip itself)
    embedder: str = "onnx"  # registry key; "onnx"/"torch"/"dlib" give the same dlib-resnet-v1 vectors

    def __post_init__(self) -> None:
        if self.fallback not in FALLBACKS:
            raise LookalikeError(f"fallback must be one of {FALLBACKS}, got {self.fallback!r}")
        if self.pick not in PICKS:
            raise LookalikeError(f"pick must be one of {PICKS}, got {self.pick!r}")
        if self.landmarks not in LANDMARKS:
            raise LookalikeError(f"landmarks must be one of {LANDMARKS}, got {self.landmarks!r}")
        if not 0 <= self.upsample <= 2 or self.jitter < 0 or not 0.0 <= self.padding <= 1.0:
            raise LookalikeError(f"invalid recipe {self}")

    @classmethod
    def parse(cls, text: str) -> Recipe:
        """``"upsample=1,fallback=cnn,flip=1,jitter=10"`` → Recipe (unnamed fields keep defaults)."""
        kw: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            k, _, v = part.partition("=")
            if k not in cls.__dataclass_fields__:
                raise LookalikeError(f"unknown recipe field {k!r}; fields: {sorted(cls.__dataclass_fields__)}")
            typ = type(getattr(cls(), k))
            kw[k] = (v.lower() in ("1", "true", "yes")) if typ is bool else typ(v)
        return cls(**kw)

    def describe(self) -> str:
        """Short human-readable name: only the fields that differ from the default."""
        d = {k: v for k, v in asdict(self).items() if v != getattr(Recipe(), k)}
        return ",".join(f"{k}={v}" for k, v in d.items()) or "plain"

    def embed_key(self, embedder_name: str) -> str:
        d = asdict(self)
        d.pop("embedder")
        if d["pick"] == "central":  # keys of recipes from before the field existed stay valid
            d.pop("pick")
        return _key({**d, "embedder_name": embedder_name, "v": 1})


def _key(d: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


# ------------------------------------------------------------------------------------------ caches
def _load_table(path: Path, value: str) -> dict[str, np.ndarray]:
    """``{photo path: row}`` from a cache file, or empty when absent/unreadable (a cache is disposable)."""
    if not path.exists():
        return {}
    try:
        with np.load(path, allow_pickle=False) as z:
            return dict(zip((str(p) for p in z["paths"]), z[value]))
    except (OSError, ValueError, KeyError, EOFError):
        return {}


def _save_table(path: Path, table: dict[str, np.ndarray], value: str, extra: dict[str, np.ndarray] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    paths = sorted(table)
    arrays = {"paths": np.array(paths, dtype=str), value: np.stack([table[p] for p in paths])}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays, **(extra or {}))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------------------------ workers
def _init(recipe: Recipe) -> None:
    os.environ.setdefault("LOOKALIKE_THREADS", "1")
    import dlib
    import face_recognition_models as frm

    _WORKER["recipe"] = recipe
    _WORKER["hog"] = dlib.get_frontal_face_detector()
    _WORKER["cnn"] = None
    _WORKER["sp"] = {
        "5": dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
        "68": dlib.shape_predictor(frm.pose_predictor_model_location()),
    }


def _central(rects: list[Any], shape: tuple[int, ...]) -> Any:
    if not rects:
        return None
    cy, cx = shape[0] / 2.0, shape[1] / 2.0
    return min(rects, key=lambda r: ((r.left() + r.right()) / 2 - cx) ** 2 + ((r.top() + r.bottom()) / 2 - cy) ** 2)


def _covers(rect: Any, shape: tuple[int, ...]) -> bool:
    cy, cx = shape[0] / 2.0, shape[1] / 2.0
    return bool(rect.left() <= cx <= rect.right() and rect.top() <= cy <= rect.bottom())


def _detect(task: tuple[str, str, int, str]) -> tuple[str, np.ndarray]:
    """``(path, [left, top, right, bottom, found])`` of the labelled face for one detector
    (``"hog"`` or ``"cnn"``) and pick rule; ``found`` is 0 when the detector saw no such face."""
    import dlib

    from lookalike.faces.image import load_image

    path, detector, upsample, pick = task
    img = load_image(path)
    if detector == "hog":
        rects = list(_WORKER["hog"].run(img, upsample, 0.0)[0])
    else:
        if _WORKER["cnn"] is None:
            import face_recognition_models as frm

            _WORKER["cnn"] = dlib.cnn_face_detection_model_v1(frm.cnn_face_detector_model_location())
        rects = [d.rect for d in _WORKER["cnn"](img, upsample)]
    if pick == "covers":
        rects = [r for r in rects if _covers(r, img.shape)]
    rect = _central(rects, img.shape)
    if rect is None:
        return path, np.zeros(5, dtype=np.int32)
    return path, np.array([rect.left(), rect.top(), rect.right(), rect.bottom(), 1], dtype=np.int32)


def _box_covers_centre(box: np.ndarray, path: str) -> bool:
    from PIL import Image

    with Image.open(path) as im:  # header (and EXIF) only
        w, h = im.size
        if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # EXIF rotations by 90°
            w, h = h, w
    return bool(box[0] <= w / 2 <= box[2] and box[1] <= h / 2 <= box[3])


def _centre_box(path: str) -> np.ndarray:
    from lookalike.faces.image import load_image

    h, w = load_image(path).shape[:2]
    return np.array([w // 4, h // 4, 3 * w // 4 - 1, 3 * h // 4 - 1], dtype=np.int32)


def _chip(task: tuple[str, np.ndarray]) -> np.ndarray:
    """The aligned 150×150 chip for a photo and its face box."""
    import dlib

    from lookalike.faces.image import load_image

    path, box = task
    r: Recipe = _WORKER["recipe"]
    img = load_image(path)
    shape = _WORKER["sp"][r.landmarks](img, dlib.rectangle(*(int(v) for v in box[:4])))
    return np.asarray(dlib.get_face_chip(img, shape, size=150, padding=r.padding), dtype=np.uint8)


def _pool(workers: int, recipe: Recipe) -> Any:
    return mp.get_context("spawn").Pool(workers, _init, (recipe,))


_LAST_PRINT = [0.0]


def _progress(label: str, done: int, total: int, t0: float) -> None:
    now = time.perf_counter()
    if os.environ.get("LOOKALIKE_QUIET") or (now - _LAST_PRINT[0] < 2.0 and done != total):
        return
    _LAST_PRINT[0] = now
    rate = done / max(time.perf_counter() - t0, 1e-9)
    sys.stderr.write(f"\r{label}: {done}/{total} ({rate:.1f}/s)   ")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


# ------------------------------------------------------------------------------------------ public
def _run_detector(keys: list[str], detector: str, upsample: int, recipe: Recipe, workers: int,
                  pick: str = "central") -> dict[str, np.ndarray]:
    """One detector's labelled face per photo, cached per (detector, upsampling, pick rule)."""
    suffix = "" if pick == "central" else f"-{pick}"
    file = cache_dir() / "eval" / f"detect-{detector}-up{upsample}{suffix}.npz"
    table = _load_table(file, "boxes")
    missing = sorted(set(keys) - set(table))
    if missing:
        workers = workers or (os.cpu_count() or 1)
        t0, last = time.perf_counter(), time.perf_counter()
        with _pool(workers, recipe) as pool:
            tasks = [(p, detector, upsample, pick) for p in missing]
            for i, (p, box) in enumerate(pool.imap_unordered(_detect, tasks, chunksize=4), 1):
                table[p] = box
                _progress(f"detect {detector}-up{upsample}", i, len(missing), t0)
                if time.perf_counter() - last > 120:  # checkpoint: an interrupted run resumes
                    _save_table(file, table, "boxes")
                    last = time.perf_counter()
        _save_table(file, table, "boxes")
    return table


def detect_boxes(paths: Sequence[str | Path], recipe: Recipe, workers: int = 0) -> np.ndarray:
    """``(n, 5)`` int32 ``[left, top, right, bottom, how]`` per photo (how indexes :data:`HOW`), cached.

    HOG with ``recipe.upsample`` first; where it finds nothing, dlib's CNN detector (upsampled
    once) when ``recipe.fallback == "cnn"``; where that finds nothing too, the photo's central box.
    """
    keys = [str(p) for p in paths]
    out = np.zeros((len(keys), 5), dtype=np.int32)
    hog = _run_detector(keys, "hog", recipe.upsample, recipe, workers)
    if recipe.pick == "covers":
        # the central face already contains the centre for most photos; only the others are re-run
        redo = [k for k in keys if hog[k][4] and not _box_covers_centre(hog[k], k)]
        hog = {**hog, **_run_detector(redo, "hog", recipe.upsample, recipe, workers, "covers")}
    lost = [k for k in keys if not hog[k][4]]
    cnn = _run_detector(lost, "cnn", 1, recipe, workers, recipe.pick) if recipe.fallback == "cnn" and lost else {}
    for i, k in enumerate(keys):
        if hog[k][4]:
            out[i] = [*hog[k][:4], 0]
        elif k in cnn and cnn[k][4]:
            out[i] = [*cnn[k][:4], 1]
        else:
            out[i] = [*_centre_box(k), 2]
    return out


def _augment(chips: np.ndarray, recipe: Recipe) -> tuple[np.ndarray, int]:
    """The chips to embed for one block and how many copies each photo has (averaged afterwards)."""
    import dlib

    if recipe.jitter:
        out = [np.asarray(j, np.uint8) for c in chips for j in dlib.jitter_image(np.ascontiguousarray(c), recipe.jitter)]
        copies = recipe.jitter
        stacked = np.stack(out)
    else:
        stacked, copies = chips, 1
    if recipe.flip:
        s = stacked.reshape(len(chips), copies, *chips.shape[1:])
        stacked = np.concatenate([s, s[:, :, :, ::-1]], axis=1).reshape(-1, *chips.shape[1:])
        copies *= 2
    return np.ascontiguousarray(stacked), copies


def embed_paths(paths: Sequence[str | Path], recipe: Recipe, workers: int = 0) -> np.ndarray:
    """``(n, dim)`` float32 descriptors of the labelled face of each photo, cached per recipe.

    Every photo yields one descriptor (the central box stands in when no detector finds a face), so
    pair and retrieval protocols never drop a photo. Jitter uses ``dlib.jitter_image`` in this
    process, in path order, so a recipe's result is reproducible.
    """
    from lookalike.faces.embed import load_embedder

    keys = [str(p) for p in paths]
    embedder = load_embedder(recipe.embedder)
    file = cache_dir() / "eval" / f"embed-{recipe.embed_key(embedder.name)}.npz"
    table = _load_table(file, "vectors")
    missing = sorted(set(keys) - set(table))
    if missing:
        boxes = detect_boxes(missing, recipe, workers)
        workers = workers or (os.cpu_count() or 1)
        t0, last = time.perf_counter(), time.perf_counter()
        info = {"recipe": np.array(json.dumps(asdict(recipe))), "embedder": np.array(embedder.name)}
        with _pool(workers, recipe) as pool:
            for s in range(0, len(missing), _BLOCK):
                block = missing[s : s + _BLOCK]
                chips = np.stack(pool.map(_chip, list(zip(block, boxes[s : s + _BLOCK])), chunksize=8))
                batch, copies = _augment(chips, recipe)
                vecs = embedder.embed(batch).reshape(len(block), copies, -1).mean(axis=1)
                table.update(zip(block, vecs.astype(np.float32)))
                _progress(f"embed [{recipe.describe()}]", s + len(block), len(missing), t0)
                if time.perf_counter() - last > 120:
                    _save_table(file, table, "vectors", info)
                    last = time.perf_counter()
        _save_table(file, table, "vectors", info)
    return np.stack([table[k] for k in keys]).astype(np.float32) if keys else np.empty((0, embedder.dim), np.float32)


def how_found(paths: Sequence[str | Path], recipe: Recipe) -> dict[str, int]:
    """How many photos had their face found by HOG, the CNN, or stood in by the central box."""
    boxes = detect_boxes(paths, recipe)
    return {h: int((boxes[:, 4] == i).sum()) for i, h in enumerate(HOW)}


def iter_recipes(base: Recipe, **grid: Sequence[Any]) -> Iterator[Recipe]:
    """``base`` with each value of each field in ``grid`` substituted, one field at a time."""
    for field_name, values in grid.items():
        for v in values:
            yield replace(base, **{field_name: v})
