"""What makes clustering scale: the graph's own HNSW build, sparse per-cluster sums, and the synthetic
collection (power-law people sizes) the million-face benchmark clusters."""

from __future__ import annotations

import numpy as np
import pytest

from lookalike.clustering import ClusterParams, cluster, score
from lookalike.clustering.graph import GRAPH_M, KnnGraph, build_index, knn_graph
from lookalike.clustering.incremental import extend, new_neighbours
from lookalike.clustering.refine import prototypes, sum_by_label
from lookalike.evaluation.synthetic import FaceModel, distance_stats, face_like
from lookalike.evaluation.synthetic_people import SizeLaw, describe, fit_exponent, people


@pytest.fixture(scope="module")
def collection() -> tuple[np.ndarray, np.ndarray]:
    return people(4000, FaceModel.load(), SizeLaw(2.3, 200), seed=5)


def test_sum_by_label_matches_add_at() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 7)).astype(np.float32)
    lab = rng.integers(0, 40, 500)
    ref = np.zeros((40, 7))
    np.add.at(ref, lab, x.astype(np.float64))
    assert np.allclose(sum_by_label(x, lab, 40), ref)
    protos, sizes = prototypes(x, lab)
    assert sizes.tolist() == np.bincount(lab, minlength=40).tolist()
    assert np.allclose(protos[sizes > 0], (ref / np.maximum(sizes, 1)[:, None])[sizes > 0], atol=1e-6)


def test_sizes_sum_to_n_and_the_exponent_is_recovered() -> None:
    law = SizeLaw(2.3, 500)
    rng = np.random.default_rng(1)
    for n in (1, 7, 1000, 54321):
        sizes = law.sizes(n, rng)
        assert sizes.sum() == n and (sizes >= 1).all() and sizes.max() <= 500
    labels = np.repeat(np.arange(30000), law.sizes(10**6, rng)[:30000])
    fit = fit_exponent(labels, max_size=500)
    assert fit.exponent == pytest.approx(2.3, abs=0.05)


def test_people_look_like_the_model(collection: tuple[np.ndarray, np.ndarray]) -> None:
    x, lab = collection
    assert x.shape == (4000, 128) and x.dtype == np.float32 and len(lab) == 4000
    d = describe(x, lab)
    # most people once, some many times (LFW: 71 % of the people, 31 % of the photos, are alone)
    assert d["people_with_one_photo"] / d["people"] > 0.5 and 0.15 < d["faces_alone"] < 0.5
    assert d["largest"] >= 20
    # same-person distances well under different-person ones, as with real dlib vectors (≈ 0.42 / 0.80)
    assert 0.3 < d["same_mean"] < 0.55
    assert 0.7 < d["diff_mean"] < 0.95
    # the identities are shuffled, not in blocks
    assert (np.diff(lab) != 0).mean() > 0.9


def test_graph_index_keeps_the_clustering(collection: tuple[np.ndarray, np.ndarray]) -> None:
    """The sparser graph index finds the near neighbours the clustering needs: same scores within a
    point as the exact k-NN graph."""
    x, lab = collection
    assert GRAPH_M < 16
    exact = knn_graph(x, 20, index="exact")
    approx = knn_graph(x, 20)
    near = exact.dist < 0.45  # the pairs that can become edges
    found = [len(np.intersect1d(e[m], a)) for e, m, a in zip(exact.ids, near, approx.ids)]
    assert sum(found) / near.sum() > 0.95
    p = ClusterParams()
    fast = score(cluster(x, p).labels, lab)
    slow = score(cluster(x, p, index="exact").labels, lab)
    assert fast.pairwise_f > slow.pairwise_f - 0.01 and fast.bcubed_f > slow.bcubed_f - 0.01
    assert fast.pairwise_precision > 0.99 and fast.bcubed_f > 0.9


def test_distance_stats_of_people_match_face_like() -> None:
    """Power-law sizes change who is alone, not how far apart photos are."""
    model = FaceModel.load()
    x, lab = people(3000, model, SizeLaw(2.0, 100), seed=2)
    ref = distance_stats(*model.sample(3000, 300, seed=2), pairs=5000)
    got = distance_stats(x, lab, pairs=5000)
    assert got["same_mean"] == pytest.approx(ref["same_mean"], abs=0.03)
    assert got["diff_mean"] == pytest.approx(ref["diff_mean"], abs=0.03)


def test_new_neighbours_keeps_the_new_faces_in_order() -> None:
    g = KnnGraph(np.array([[5, 2, 7, -1]]), np.array([[0.1, 0.2, 0.3, np.inf]], dtype=np.float32))
    out = new_neighbours(g, np.array([7, 5]))
    assert out.ids.tolist() == [[1, 0, -1, -1]]
    assert out.dist[0, :2].tolist() == pytest.approx([0.1, 0.3]) and np.isinf(out.dist[0, 2:]).all()


def test_incremental_with_the_new_faces_already_indexed() -> None:
    """As in a gallery, whose index holds the new faces: one search per new face, scores as a full run."""
    x, lab = face_like(3000, 300, seed=3)
    p = ClusterParams()
    old = cluster(x[:2700], p)
    labels, _ = extend(old, x[2700:], build_index(x), p, indexed=True)
    assert (labels[:2700] == old.labels).all()
    full = score(cluster(x, p).labels, lab)
    inc = score(labels, lab)
    assert inc.pairwise_f > full.pairwise_f - 0.01 and inc.bcubed_f > full.bcubed_f - 0.01
