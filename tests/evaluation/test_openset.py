"""Open-set protocol on a small hand-made set."""

from __future__ import annotations

import numpy as np
import pytest

from lookalike.evaluation.openset import open_set, split_identities


def test_split_is_disjoint_and_complete() -> None:
    labels = np.repeat(np.arange(20), 3).tolist() + [100, 101, 102]  # 20 people × 3, three singletons
    sp = split_identities(labels, unknown_fraction=0.5, enroll_per_person=1, seed=4)
    lab = np.asarray(labels)
    assert sp.enrolled_people == 10 and sp.unknown_people == 13
    assert len(sp.gallery) == 10 and len(sp.mated) == 20 and len(sp.nonmated) == 33
    assert set(lab[sp.gallery]) == set(lab[sp.mated])  # every mated probe's person is enrolled
    assert not set(lab[sp.nonmated]) & set(lab[sp.gallery])  # unknown people never enrolled
    assert sorted([*sp.gallery, *sp.mated, *sp.nonmated]) == list(range(len(labels)))


def test_rates_on_a_line() -> None:
    # gallery: A at 0, B at 10.  mated probes: A at 0.1 (right), B at 10.3 (right), A at 6 (nearest B: wrong)
    # non-mated probes at 5.0 (nearest: 5 away) and at 0.2 (0.2 away)
    x = np.array([[0.0], [10.0], [0.1], [10.3], [6.0], [5.0], [0.2]], dtype=np.float32)
    labels = ["A", "B", "A", "B", "A", "U", "V"]
    from lookalike.evaluation.openset import OpenSetSplit

    sp = OpenSetSplit(np.array([0, 1]), np.array([2, 3, 4]), np.array([5, 6]), 2, 2)
    out = open_set(x, labels, sp, fars=(0.5,))
    f = out["far_0.5"]  # one of two impostors may pass: threshold just under 5.0
    assert f["far_measured"] == 0.5 and 4.0 < f["threshold"] < 5.0
    assert f["detection_rate"] == pytest.approx(1.0)  # 0.1, 0.3 and 4.0 all within
    assert f["identification_rate"] == pytest.approx(2 / 3)  # the probe at 6 is named B
    assert out["closed_set_rank1"] == pytest.approx(2 / 3)
