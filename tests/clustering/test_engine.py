"""The clustering engine: metrics on hand-checked cases, each algorithm, refinement steps, incremental
assignment, on face-like vectors from the project's face model (fitted to real dlib LFW vectors)."""

from __future__ import annotations

import numpy as np
import pytest

from lookalike.clustering import ClusterParams, cluster, score
from lookalike.clustering.algorithms import ALGORITHMS, relabel
from lookalike.clustering.graph import build_index, knn_graph
from lookalike.clustering.incremental import extend
from lookalike.clustering.refine import average_linkage, prune, rms_spread
from lookalike.clustering.weights import fit_logistic
from lookalike.errors import LookalikeError
from lookalike.evaluation.synthetic import face_like


@pytest.fixture(scope="module")
def faces() -> tuple[np.ndarray, np.ndarray]:
    return face_like(3000, 300, seed=3)


def test_scores_by_hand() -> None:
    s = score(np.array([0, 0, 0, 1, 1, 2]), np.array(["a", "a", "b", "b", "b", "c"]))
    # pairs: predicted {01,02,12,34}, true {01,23,24,34}: 2 shared
    assert (s.pairwise_precision, s.pairwise_recall) == (0.5, 0.5)
    # BCubed precision per item: 2/3, 2/3, 1/3, 1, 1, 1
    assert s.bcubed_precision == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 3) / 6)
    assert (s.clusters, s.singletons, s.classes) == (3, 1, 3)
    perfect = score(np.arange(4), np.array([9, 8, 7, 6]))
    assert perfect.pairwise_f == perfect.bcubed_f == 1.0
    with pytest.raises(ValueError):
        score(np.zeros(3), np.zeros(4))


def test_relabel_numbers_by_first_appearance() -> None:
    assert relabel(np.array([7, 7, 3, 9, 3])).tolist() == [0, 0, 1, 2, 1]


def test_knn_graph_excludes_self_and_pads(faces: tuple[np.ndarray, np.ndarray]) -> None:
    v = faces[0][:50]
    g = knn_graph(v, 10)
    assert g.ids.shape == (50, 10) and not (g.ids == np.arange(50)[:, None]).any()
    exact = np.sort(np.linalg.norm(v[:, None] - v[None], axis=2), axis=1)[:, 1:11]
    assert np.allclose(np.sort(g.dist, axis=1), exact, atol=1e-4)
    small = knn_graph(v[:3], 5)
    assert (small.ids[:, 2:] == -1).all() and np.isinf(small.dist[:, 2:]).all()


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_every_algorithm_finds_the_identities(algorithm: str, faces: tuple[np.ndarray, np.ndarray]) -> None:
    v, lab = faces
    s = score(cluster(v, ClusterParams(algorithm=algorithm)).labels, lab)
    assert s.pairwise_precision > 0.9 and s.bcubed_f > 0.9, s


def test_chosen_setting_beats_the_plain_baseline(faces: tuple[np.ndarray, np.ndarray]) -> None:
    v, lab = faces
    base = score(cluster(v, ClusterParams(algorithm="chinese-whispers", k=30, threshold=0.45, strict=None,
                                           loose=None, prune=0, weighting="unit")).labels, lab)
    ours = score(cluster(v).labels, lab)
    assert ours.bcubed_f >= base.bcubed_f - 0.005 and ours.pairwise_precision >= base.pairwise_precision


def test_prune_and_average_linkage() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(0, 0.05, (10, 4)) + [1, 0, 0, 0]
    b = rng.normal(0, 0.05, (10, 4)) + [0, 1, 0, 0]
    x = np.vstack([a, b])
    one = np.zeros(20, np.int64)
    assert rms_spread(x, one)[0] > 1.0 and rms_spread(x, np.r_[one[:10], one[10:] + 1]).max() < 0.2
    assert len(set(prune(x, one, 0.5).tolist())) == 20  # every face is far from a two-person cluster
    pruned = prune(x, np.r_[one[:10], one[10:] + 1], 0.5)
    assert len(set(pruned.tolist())) == 2  # tight clusters keep their faces
    pairs = (np.repeat(np.arange(20), 20), np.tile(np.arange(20), 20))
    joined = average_linkage(x, np.arange(20), pairs, 0.3)
    assert score(joined, np.r_[one[:10], one[10:] + 1]).pairwise_f == 1.0


def test_incremental_matches_a_full_run(faces: tuple[np.ndarray, np.ndarray]) -> None:
    v, lab = faces
    p = ClusterParams()
    old = cluster(v[:2700], p)
    labels, _ = extend(old, v[2700:], build_index(v[:2700]), p)
    assert labels[:2700].tolist() == old.labels.tolist()  # old faces never move
    inc, full = score(labels, lab), score(cluster(v, p).labels, lab)
    assert inc.pairwise_f > full.pairwise_f - 0.02 and inc.bcubed_f > full.bcubed_f - 0.02


def test_logistic_calibration() -> None:
    rng = np.random.default_rng(1)
    d = np.r_[rng.normal(0.4, 0.05, 2000), rng.normal(0.8, 0.05, 2000)]
    same = np.r_[np.ones(2000, bool), np.zeros(2000, bool)]
    fit = fit_logistic(d, same)
    assert 0.58 < fit.threshold < 0.62 and fit.probability(np.array([0.3]))[0] > 0.99
    with pytest.raises(LookalikeError):
        fit_logistic(d, np.ones(4000, bool))


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_tiny_collections(n: int, faces: tuple[np.ndarray, np.ndarray]) -> None:
    for algorithm in sorted(ALGORITHMS):
        c = cluster(faces[0][:n], ClusterParams(algorithm=algorithm))
        assert len(c.labels) == n and (n == 0 or sorted(set(c.labels.tolist())) == list(range(c.count)))
