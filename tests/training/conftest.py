"""A small identity-disjoint LFW subset with its base descriptors, shared by the training tests.

Train: people of folds 1–9 with ≥ 6 photos (at most 8 each, 60 people); test: people of fold 0
with ≥ 3 photos (at most 6 each). About 800 photos, embedded once through
:func:`lookalike.training.data.labelled_vectors` and cached, under :data:`SPEC` — the legacy spec
(HOG only, no mirror averaging): a fifth of the default spec's cost, and training does not care.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest


@dataclass
class Subset:
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    train_paths: list[str]
    test_paths: list[str]


def _pick(folds: object, mask: np.ndarray, min_n: int, cap: int, people: int) -> np.ndarray:
    rows = np.flatnonzero(mask)
    names, counts = np.unique(folds.people[rows], return_counts=True)  # type: ignore[attr-defined]
    keep = sorted(names[counts >= min_n])[:people]
    out = []
    for n in keep:
        out.extend(rows[folds.people[rows] == n][:cap])  # type: ignore[attr-defined]
    return np.array(out)


def _spec():
    from lookalike.faces.spec import LEGACY_SPEC_TEXT, PipelineSpec

    return PipelineSpec.parse(LEGACY_SPEC_TEXT)


@pytest.fixture(scope="session")
def spec():
    return _spec()


@pytest.fixture(scope="session")
def lfw_subset(lfw_root: Path) -> Subset:
    pytest.importorskip("torch")
    pytest.importorskip("pytorch_metric_learning")
    from lookalike.training.data import labelled_vectors, lfw_folds

    folds = lfw_folds(lfw_root)
    tr = _pick(folds, folds.fold != 0, 6, 8, 60)
    te = _pick(folds, folds.fold == 0, 3, 6, 70)
    paths = [folds.paths[i] for i in np.r_[tr, te]]
    vecs = labelled_vectors(paths, _spec())
    return Subset(vecs[: len(tr)], folds.people[tr], vecs[len(tr) :], folds.people[te], paths[: len(tr)],
                  paths[len(tr) :])
