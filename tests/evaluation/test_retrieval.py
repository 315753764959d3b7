"""Retrieval metrics against hand-worked cases and against the argsort-inverse definition."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lookalike.evaluation.retrieval import (
    relevant_positions,
    retrieval,
    retrieval_from_neighbours,
    truncated_exact,
)


def test_hand_worked_line() -> None:
    # five points on a line, labels A B A B A; query 0 ranks 1(B) 2(A) 3(B) 4(A)
    x = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]], dtype=np.float32)
    labels = ["A", "B", "A", "B", "A"]
    res = retrieval(x, labels, queries=np.array([0]))
    # relevant at positions 2 and 4
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 / math.log2(2) + 1 / math.log2(3)
    assert res.ndcg[0] == pytest.approx(dcg / idcg)
    assert res.ap[0] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert res.first[0] == 2
    assert res.cmc(5).tolist() == [0.0, 1.0, 1.0, 1.0, 1.0]


def test_hand_worked_all_queries() -> None:
    x = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]], dtype=np.float32)
    labels = [0, 1, 0, 1, 0]
    res = retrieval(x, labels)
    # query 1 (B, x=1): 0(A), 2(A) at distance 1 → positions 1, 2; 3(B) at 2 → position 3
    # query 3 (B, x=3): 2(A), 4(A) at 1 → 1, 2; 1(B) at 2 → 3.   query 4 (A): 3(B) → 1, 2(A) → 2
    assert res.first.tolist() == [2, 3, 3, 3, 2]
    # query 2 (x=2): 1(B),3(B) at distance 1 (positions 1,2), 0(A),4(A) at 2 → positions 3, 4
    idcg2 = 1 + 1 / math.log2(3)
    assert res.ndcg[2] == pytest.approx((1 / math.log2(4) + 1 / math.log2(5)) / idcg2)
    assert res.ap[2] == pytest.approx((1 / 3 + 2 / 4) / 2)
    s = res.summary()
    assert s["rank1"] == 0.0 and s["rank5"] == 1.0 and s["cmc"][:3] == [0.0, 0.4, 1.0]


def test_perfect_and_singletons() -> None:
    x = np.array([[0.0], [0.1], [5.0], [5.1], [9.0]], dtype=np.float32)
    res = retrieval(x, ["a", "a", "b", "b", "c"])
    assert res.skipped == 1  # "c" has no other photo
    assert np.allclose(res.ndcg, 1.0) and np.allclose(res.ap, 1.0) and res.summary()["rank1"] == 1.0


def _naive(x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions from the inverse of a full argsort (what the seed notebook meant), per query."""
    nd, ap = [], []
    for q in range(len(x)):
        d = ((x - x[q]) ** 2).sum(1)
        d[q] = np.inf
        order = np.argsort(d, kind="stable")
        pos = np.empty(len(x), int)
        pos[order] = np.arange(1, len(x) + 1)
        rel = np.flatnonzero((labels == labels[q]) & (np.arange(len(x)) != q))
        if not len(rel):
            continue
        p = np.sort(pos[rel])
        nd.append((1 / np.log2(p + 1)).sum() / (1 / np.log2(np.arange(2, len(p) + 2))).sum())
        ap.append(np.mean(np.arange(1, len(p) + 1) / p))
    return np.array(nd), np.array(ap)


def test_matches_argsort_inverse_on_random_data() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 30, 400)
    x = (rng.normal(size=(30, 16))[labels] * 0.7 + rng.normal(size=(400, 16))).astype(np.float32)
    res = retrieval(x, labels, chunk=37)
    nd, ap = _naive(x.astype(np.float64), labels)
    assert np.allclose(res.ndcg, nd, atol=1e-6) and np.allclose(res.ap, ap, atol=1e-6)


def test_seed_notebook_formula_is_not_ndcg() -> None:
    """The seed's ``argsort(dists)[mask]`` gives item ids, not positions: far off on a perfect ranking."""
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(50), 8)
    x = (rng.normal(size=(50, 8))[labels] * 10 + rng.normal(size=(400, 8)) * 0.01).astype(np.float32)
    q = 123
    d = np.sqrt(((x - x[q]) ** 2).sum(1))
    ranks = np.argsort(d)
    seed_rel = ranks[labels == labels[q]][1:]
    n = len(seed_rel)
    seed = (1 / np.log2(1 + seed_rel)).sum() / (1 / np.log2(2 + np.arange(n))).sum()
    ours = retrieval(x, labels, queries=np.array([q])).ndcg[0]
    assert ours == pytest.approx(1.0)
    assert seed < 0.5


def test_relevant_positions_ties_pessimistic() -> None:
    row = np.array([1.0, 1.0, 1.0, 0.5, np.inf])
    assert relevant_positions(row, np.array([0, 1])).tolist() == [3, 4]


def test_truncated_metrics_match_full_when_k_covers_all() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 10, 60)
    x = rng.normal(size=(60, 4)).astype(np.float32)
    full = retrieval(x, labels)
    trunc = truncated_exact(x, labels, k=59)
    assert np.allclose(full.ndcg, trunc.ndcg) and np.allclose(full.ap, trunc.ap)
    assert full.first.tolist() == trunc.first.tolist()


def test_truncated_counts_misses() -> None:
    ids = np.array([[0, 5, 6], [1, 0, 7]])
    res = retrieval_from_neighbours(ids, np.array([0, 1]), {0: 0, 1: 0, 5: 1, 6: 1, 7: 0}, np.array([2, 2]))
    assert res.first.tolist()[1] == 1 and res.first[0] > 2
    assert res.ap[0] == 0.0 and res.ap[1] == pytest.approx(1.0)  # 0 and 7 at positions 1, 2
    # one of two relevant items found, at position 2: AP@2 = (1/2) / 2
    part = retrieval_from_neighbours(np.array([[1, 5, 0]]), np.array([1]), {0: 0, 1: 0, 5: 1, 7: 0}, np.array([2]))
    assert part.ap[0] == pytest.approx(0.25) and part.first[0] == 2
