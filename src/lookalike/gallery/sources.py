"""Where gallery photos come from: a folder per person, the LFW layout, CelebA's identity file, or loose photos."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lookalike.errors import LookalikeError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".pgm", ".ppm", ".gif", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass(frozen=True)
class SourceItem:
    """One photo to ingest. ``person`` is None for unlabelled photos (every face is kept then)."""

    path: Path
    person: str | None

    @property
    def selection(self) -> str:
        """Labelled photos give their labelled face (the pipeline spec's rule); unlabelled every face."""
        return "labelled" if self.person else "all"


def _is_image(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")


def folder_per_person(root: str | Path) -> list[SourceItem]:
    """``root/<person>/<photo>``: the folder name is the person's name."""
    root = Path(root).resolve()
    items = []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        items.extend(SourceItem(f, d.name) for f in sorted(d.iterdir()) if _is_image(f))
    return items


def loose_photos(path: str | Path) -> list[SourceItem]:
    """A single photo, or every photo directly inside a folder, unlabelled."""
    path = Path(path).resolve()
    if path.is_file():
        return [SourceItem(path, None)]
    return [SourceItem(f, None) for f in sorted(path.iterdir()) if _is_image(f)]


def read_lfw_people(path: str | Path) -> list[tuple[str, int]]:
    """LFW's ``people*.txt``: ``(name, image count)``; fold headers (lone numbers) are skipped."""
    out = []
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            out.append((parts[0], int(parts[1])))
    return out


@dataclass(frozen=True)
class LfwPair:
    """One line of ``pairs.txt``: two image paths and whether they show the same person."""

    fold: int
    left: Path
    right: Path
    same: bool


def lfw_image_path(root: str | Path, name: str, number: int) -> Path:
    """``root/<name>/<name>_NNNN.jpg``."""
    return Path(root) / name / f"{name}_{number:04d}.jpg"


def read_lfw_pairs(root: str | Path, filename: str = "pairs.txt") -> list[LfwPair]:
    """LFW's pairs files: ``pairs.txt`` (10 folds) or ``pairsDevTrain/Test.txt`` (one set)."""
    root = Path(root)
    lines = (root / filename).read_text().split("\n")
    head = lines[0].split()
    folds, per = (int(head[0]), int(head[1])) if len(head) == 2 else (1, int(head[0]))
    pairs, body = [], [ln.split() for ln in lines[1:] if ln.strip()]
    if len(body) != folds * 2 * per:
        raise LookalikeError(f"{filename}: expected {folds * 2 * per} pairs, found {len(body)}")
    for i, parts in enumerate(body):
        fold = i // (2 * per)
        if len(parts) == 3:
            n, a, b = parts
            pairs.append(LfwPair(fold, lfw_image_path(root, n, int(a)), lfw_image_path(root, n, int(b)), True))
        elif len(parts) == 4:
            n1, a, n2, b = parts
            pairs.append(LfwPair(fold, lfw_image_path(root, n1, int(a)), lfw_image_path(root, n2, int(b)), False))
        else:
            raise LookalikeError(f"{filename}: cannot parse line {i + 2}: {' '.join(parts)!r}")
    return pairs


def lfw(root: str | Path, min_images: int = 1, people_file: str | None = None) -> list[SourceItem]:
    """The LFW layout (``<name>/<name>_NNNN.jpg``); optionally only people with ``min_images`` photos,
    or only the people listed in one of LFW's ``people*.txt`` files."""
    root = Path(root)
    items = folder_per_person(root)
    if people_file:
        wanted = {n for n, _ in read_lfw_people(root / people_file)}
        items = [it for it in items if it.person in wanted]
    if min_images > 1:
        counts: dict[str, int] = {}
        for it in items:
            counts[it.person or ""] = counts.get(it.person or "", 0) + 1
        items = [it for it in items if counts[it.person or ""] >= min_images]
    return items


def celeba(identity_file: str | Path, images_dir: str | Path | None = None) -> list[SourceItem]:
    """CelebA's ``identity_CelebA.txt`` (``000001.jpg 2880`` per line); images in ``img_align_celeba/``
    beside it unless ``images_dir`` says otherwise. People are named ``celeba_<id>``."""
    identity_file = Path(identity_file).resolve()
    folder = Path(images_dir) if images_dir else identity_file.parent / "img_align_celeba"
    if (folder / folder.name).is_dir():  # the official zip unpacks into a folder of the same name
        folder = folder / folder.name
    items = []
    for n, line in enumerate(identity_file.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise LookalikeError(f"{identity_file}:{n}: expected '<image> <identity>', got {line!r}")
        items.append(SourceItem(folder / parts[0], f"celeba_{parts[1]}"))
    return items


def detect_source(path: str | Path) -> tuple[str, list[SourceItem]]:
    """Guess a source's layout: CelebA identity file, LFW folder, folder per person, or loose photos."""
    p = Path(path)
    if not p.exists():
        raise LookalikeError(f"{p} does not exist")
    if p.is_file() and p.name.startswith("identity_") and p.suffix == ".txt":
        return "celeba", celeba(p)
    if p.is_file():
        return "photos", loose_photos(p)
    if (p / "identity_CelebA.txt").is_file():
        return "celeba", celeba(p / "identity_CelebA.txt")
    if (p / "pairs.txt").is_file() or (p / "lfw-names.txt").is_file():
        return "lfw", lfw(p)
    if any(d.is_dir() for d in p.iterdir()):
        return "folders", folder_per_person(p)
    return "photos", loose_photos(p)


def sample_people(
    items: list[SourceItem], people: int | None = None, min_images: int = 1, seed: int = 0
) -> list[SourceItem]:
    """Keep labelled people with at least ``min_images`` photos, then a seeded sample of ``people`` of them.

    Unlabelled photos are kept only when no filter is asked for. The order of ``items`` is preserved.
    """
    if people is None and min_images <= 1:
        return items
    counts: dict[str, int] = {}
    for it in items:
        if it.person is not None:
            counts[it.person] = counts.get(it.person, 0) + 1
    names = sorted(p for p, c in counts.items() if c >= min_images)
    if people is not None:
        if people < 1:
            raise LookalikeError("people must be at least 1")
        rng = random.Random(seed)
        names = sorted(rng.sample(names, min(people, len(names))))
    wanted = set(names)
    return [it for it in items if it.person in wanted]


@dataclass(frozen=True)
class PairSet:
    """Labelled pairs over a list of unique photos (so each photo is embedded once)."""

    paths: list[str]
    left: np.ndarray  # (n,) int indices into paths
    right: np.ndarray
    same: np.ndarray  # (n,) bool
    folds: np.ndarray  # (n,) int fold number, as in the file

    def __len__(self) -> int:
        return len(self.same)

    def distances(self, vectors: np.ndarray) -> np.ndarray:
        """Euclidean distance of every pair, given one descriptor per photo (rows follow ``paths``)."""
        v = np.asarray(vectors, dtype=np.float64)
        if len(v) != len(self.paths):
            raise LookalikeError(f"got {len(v)} descriptors for {len(self.paths)} photos")
        return np.linalg.norm(v[self.left] - v[self.right], axis=1)


def lfw_pairs(root: str | Path, filename: str = "pairs.txt") -> PairSet:
    """LFW pairs file → :class:`PairSet` (folds exactly as in the file: consecutive blocks of 600)."""
    pairs = read_lfw_pairs(root, filename)
    index: dict[str, int] = {}
    for p in pairs:
        for side in (p.left, p.right):
            index.setdefault(str(side), len(index))
    missing = [p for p in index if not Path(p).is_file()]
    if missing:
        raise LookalikeError(f"{len(missing)} photos named in {filename} are missing, e.g. {missing[0]}")
    return PairSet(
        paths=list(index),
        left=np.array([index[str(p.left)] for p in pairs]),
        right=np.array([index[str(p.right)] for p in pairs]),
        same=np.array([p.same for p in pairs]),
        folds=np.array([p.fold for p in pairs]),
    )
