"""Training data: LFW View 2's identity-disjoint folds, descriptors and chips of labelled photos, P×K batches.

**The one place vectors and chips come from.** :func:`labelled_vectors` and :func:`labelled_chips`
are the only functions in :mod:`lookalike.training` (and the training protocol) that turn photo
files into descriptors or aligned chips, and both go through ``FacePipeline(spec)`` — the serving
pipeline — so a head trains on exactly the vectors search computes.

**Folds.** LFW's ``people.txt`` splits the 5,749 people into 10 disjoint sets, and fold *i* of
``pairs.txt`` only pairs photos of set *i*'s people (checked in :func:`lfw_folds`). For fold *i*
the model trains on every photo of the other nine sets' people and is scored on set *i*.

**Batches.** ``P`` identities × ``K`` photos each, drawn by pytorch-metric-learning's
:class:`~pytorch_metric_learning.samplers.MPerClassSampler`. Only identities with at least two
photos are sampled (a one-photo identity would give ``K`` copies of one photo: positives at
distance 0 that teach nothing). The sampler draws from NumPy's global generator; :func:`pk_batches`
swaps in a generator seeded with ``(seed, epoch)`` while it draws, so epoch *e*'s batches are the
same whether the run started at epoch 0 or resumed at *e*.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lookalike.errors import LookalikeError, TrainingDataError
from lookalike.faces.spec import PipelineSpec
from lookalike.training.pml import load_pml

Spec = PipelineSpec


def default_spec() -> Spec:
    """The spec trained heads sit on unless told otherwise: the serving default."""
    from lookalike.faces.spec import default_spec as serving_default

    return serving_default()


def spec_key(spec: Spec) -> str:
    """Short hash of everything that changes a descriptor (recorded in every model card and checkpoint)."""
    return spec.key


def spec_dict(spec: Spec) -> dict[str, object]:
    return {**spec.as_dict(), "text": spec.describe()}


def labelled_vectors(paths: Sequence[str | Path], spec: Spec | None = None) -> np.ndarray:
    """``(n, dim)`` float32 base descriptors of the labelled face of each photo, cached per spec."""
    from lookalike.faces.pipeline import FacePipeline

    return FacePipeline(spec or default_spec()).labelled_vectors(paths)


def labelled_chips(paths: Sequence[str | Path], spec: Spec | None = None, size: int = 150) -> np.ndarray:
    """``(n, size, size, 3)`` uint8 aligned chips of the same faces, cached per spec and size."""
    from lookalike.training.chips import chips_for

    return chips_for(paths, spec or default_spec(), size)


# ------------------------------------------------------------------------------------------ folds
@dataclass(frozen=True)
class Folds:
    """Every photo of a labelled set with its person and fold (``-1`` when the set has no folds)."""

    paths: list[str]
    people: np.ndarray  # (n,) str
    fold: np.ndarray  # (n,) int
    name: str = "lfw"

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def n_folds(self) -> int:
        return int(self.fold.max()) + 1 if len(self.fold) else 0

    def split(self, test_fold: int) -> tuple[np.ndarray, np.ndarray]:
        """``(train, test)`` photo indices: the other folds' people, and fold ``test_fold``'s."""
        if not 0 <= test_fold < self.n_folds:
            raise LookalikeError(f"fold must be in 0..{self.n_folds - 1}, got {test_fold}")
        test = self.fold == test_fold
        return np.flatnonzero(~test), np.flatnonzero(test)

    def subset(self, idx: np.ndarray) -> Folds:
        return Folds([self.paths[i] for i in idx], self.people[idx], self.fold[idx], self.name)

    def digest(self) -> str:
        """Hash of the photo list and labels (a checkpoint refuses to resume on other data)."""
        h = hashlib.sha256(json.dumps([self.paths, self.people.tolist(), self.fold.tolist()]).encode())
        return h.hexdigest()[:16]


def read_people_folds(path: str | Path) -> list[list[str]]:
    """LFW's ``people.txt``: a count of sets, then per set a count and that many ``name images`` lines."""
    rows = [ln.split() for ln in Path(path).read_text().splitlines() if ln.strip()]
    n, i, sets = int(rows[0][0]), 1, []
    for _ in range(n):
        c = int(rows[i][0])
        sets.append([r[0] for r in rows[i + 1 : i + 1 + c]])
        i += 1 + c
    return sets


def lfw_folds(root: str | Path) -> Folds:
    """All 13,233 LFW photos with their person and View 2 fold (0-based)."""
    from lookalike.gallery.sources import folder_per_person, read_lfw_pairs

    root = Path(root)
    sets = read_people_folds(root / "people.txt")
    fold_of = {name: f for f, names in enumerate(sets) for name in names}
    items = folder_per_person(root)
    missing = sorted({str(it.person) for it in items} - set(fold_of))
    if missing:
        raise LookalikeError(f"{len(missing)} LFW people are in no fold of people.txt, e.g. {missing[0]}")
    for p in read_lfw_pairs(root):
        for side in (p.left, p.right):
            if fold_of.get(side.parent.name) != p.fold:
                raise LookalikeError(f"pairs.txt fold {p.fold} names {side}, whose person is in another fold")
    return Folds([str(it.path) for it in items], np.array([str(it.person) for it in items]),
                 np.array([fold_of[str(it.person)] for it in items], dtype=np.int64))


def labelled_set(root: str | Path, name: str) -> Folds:
    """A folder-per-person data set (ORL, Yale) as one unfolded set."""
    from lookalike.gallery.sources import folder_per_person

    items = folder_per_person(root)
    return Folds([str(it.path) for it in items], np.array([str(it.person) for it in items]),
                 np.full(len(items), -1, dtype=np.int64), name)


# ---------------------------------------------------------------------------------------- batches
def trainable(people: np.ndarray, min_images: int = 2) -> np.ndarray:
    """Indices of photos whose person has at least ``min_images`` photos."""
    _, inv, counts = np.unique(people, return_inverse=True, return_counts=True)
    return np.flatnonzero(counts[inv] >= min_images)


def check_pk(labels: np.ndarray, p: int, k: int) -> None:
    """Raise :class:`TrainingDataError` unless ``labels`` hold at least ``p`` identities with ≥ 2 photos."""
    if p < 2 or k < 2:
        raise TrainingDataError(f"P × K batches need P ≥ 2 identities and K ≥ 2 photos each, got P={p}, K={k}")
    _, counts = np.unique(labels, return_counts=True)
    usable = int((counts >= 2).sum())
    if usable < p:
        raise TrainingDataError(
            f"too few identities for P × K = {p} × {k} batches: {usable} people have two or more photos "
            f"(need at least {p}); lower --p or add people")


@contextmanager
def _seeded_numpy(seed: int) -> Iterator[None]:
    load_pml()
    from pytorch_metric_learning.utils import common_functions as c_f

    old = c_f.NUMPY_RANDOM
    c_f.NUMPY_RANDOM = np.random.RandomState(seed)
    try:
        yield
    finally:
        c_f.NUMPY_RANDOM = old


def pk_batches(labels: np.ndarray, p: int, k: int, batches: int, seed: int, epoch: int) -> list[np.ndarray]:
    """``batches`` index arrays of ``p`` identities × ``k`` photos (positions into ``labels``).

    Only identities with ≥ 2 photos are drawn; one with fewer than ``k`` photos repeats some
    (MPerClassSampler samples with replacement then). Deterministic in ``(seed, epoch)``.
    """
    load_pml()
    from pytorch_metric_learning.samplers import MPerClassSampler

    check_pk(labels, p, k)
    keep = trainable(labels)
    codes = np.unique(labels[keep], return_inverse=True)[1]
    sampler = MPerClassSampler(codes, m=k, batch_size=p * k, length_before_new_iter=batches * p * k)
    with _seeded_numpy(seed * 100_003 + epoch):
        order = np.fromiter(iter(sampler), dtype=np.int64, count=len(sampler))
    return [keep[b] for b in order.reshape(-1, p * k)]


def label_codes(labels: np.ndarray) -> np.ndarray:
    """Any labels → dense int64 codes (0 … number of identities − 1)."""
    return np.unique(labels, return_inverse=True)[1].astype(np.int64).reshape(-1)
