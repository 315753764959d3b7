"""The quadruplet loss on values worked by hand.

The source document (seed 003, a metric-learning lecture) works a triplet example: four 1-d points
A1 = −2, A2 = −1 (person A), B1 = 1, B2 = 2 (person B), the "network" e(x) = w·x + b, Euclidean
distance, α = 5. Its eight triplets give

    L(w, b) = 4·max(5 − 2w, 0) + 2·max(5 − 3w, 0) + 2·max(5 − w, 0)      (w > 0)

With two people there is no quadruplet (the second term needs two identities other than the
anchor's), so the quadruplet loss must equal that sum. A third person C1 = 5 makes the second
term appear; its values below are worked out by hand in the comments.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from lookalike.training.losses import QuadrupletLoss

X = torch.tensor([-2.0, -1.0, 1.0, 2.0])
Y = torch.tensor([0, 0, 1, 1])


def source_formula(w: float) -> float:
    return 4 * max(5 - 2 * w, 0) + 2 * max(5 - 3 * w, 0) + 2 * max(5 - w, 0)


def embed(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (w * x + b).unsqueeze(1)  # (n, 1) embeddings


@pytest.mark.parametrize("w", [0.5, 1.0, 1.7, 2.0, 3.0, 6.0])
def test_two_people_equals_the_sources_triplet_sum(w: float) -> None:
    loss = QuadrupletLoss(alpha1=5.0, alpha2=3.0, squared=False, mining="all", reduction="sum")
    value = loss(embed(X, torch.tensor(w), torch.tensor(0.7)), Y)
    assert float(value) == pytest.approx(source_formula(w), abs=1e-5)


def test_gradient_matches_the_hand_derivative() -> None:
    # at w = 1 every hinge is active: dL/dw = 4·(−2) + 2·(−3) + 2·(−1) = −16; b cancels: dL/db = 0
    w = torch.tensor(1.0, requires_grad=True)
    b = torch.tensor(0.3, requires_grad=True)
    loss = QuadrupletLoss(alpha1=5.0, alpha2=3.0, squared=False, mining="all", reduction="sum")
    value = loss(embed(X, w, b), Y)
    value.backward()
    assert float(value.detach()) == pytest.approx(24.0)
    assert float(w.grad) == pytest.approx(-16.0)
    assert float(b.grad) == pytest.approx(0.0)


X3 = torch.tensor([-2.0, -1.0, 1.0, 2.0, 5.0])
Y3 = torch.tensor([0, 0, 1, 1, 2])


def test_third_person_adds_the_pair_term() -> None:
    # w = 1, α1 = 5, α2 = 3, plain distances; every positive pair is at distance 1.
    # term 1, Σ max(1 − d(i,k) + 5, 0) per anchor over its negatives:
    #   A1: d = 3, 4, 7 → 3 + 2 + 0 = 5;   A2: d = 2, 3, 6 → 4 + 3 + 0 = 7
    #   B1: d = 3, 2, 4 → 3 + 4 + 2 = 9;   B2: d = 4, 3, 3 → 2 + 3 + 3 = 8;   C1 has no positive → 29
    # term 2, Σ max(1 − d(l,k) + 3, 0) over ordered pairs of two people other than the anchor's:
    #   anchor A (2 positive pairs): (B1,C1) 4, (B2,C1) 3, both orders → 0 + 0 + 1 + 1 = 2 each → 4
    #   anchor B (2 positive pairs): (A1,C1) 7, (A2,C1) 6 → 0                                   → 0
    loss = QuadrupletLoss(alpha1=5.0, alpha2=3.0, squared=False, mining="all", reduction="sum")
    t1, t2 = loss.terms(embed(X3, torch.tensor(1.0), torch.tensor(0.0)), Y3)
    assert (float(t1), float(t2)) == pytest.approx((29.0, 4.0))


def test_hard_mining_keeps_the_hardest_of_each() -> None:
    # per anchor: farthest positive (1), nearest negative, nearest pair of two other people
    #   term 1: A1 max(1−3+5) = 3, A2 max(1−2+5) = 4, B1 (nearest A2 at 2) 4, B2 (nearest A2/C1 at 3) 3 → 14
    #   term 2: anchors A: nearest B–C pair (B2,C1) = 3 → max(1−3+3, 0) = 1 each → 2; anchors B: A–C ≥ 6 → 0
    loss = QuadrupletLoss(alpha1=5.0, alpha2=3.0, squared=False, mining="hard", reduction="sum")
    t1, t2 = loss.terms(embed(X3, torch.tensor(1.0), torch.tensor(0.0)), Y3)
    assert (float(t1), float(t2)) == pytest.approx((14.0, 2.0))


def test_squared_distances_and_mean_reduction() -> None:
    # squared, w = 1: the 8 triplets of the two-person example have d_ap² = 1 and d_an² ∈ {9, 16, 4, 9, 9, 4, 16, 9}
    # hinge max(1 − d² + 10, 0): 2, 0, 7, 2, 2, 7, 0, 2 → sum 22, mean over the 8 triplets 2.75
    loss = QuadrupletLoss(alpha1=10.0, alpha2=1.0, squared=True, mining="all", reduction="mean")
    t1, t2 = loss.terms(embed(X, torch.tensor(1.0), torch.tensor(0.0)), Y)
    assert float(t1) == pytest.approx(2.75)
    assert float(t2) == 0.0


def test_loss_is_zero_once_margins_hold() -> None:
    # w large enough that every negative is beyond every positive by more than α: nothing to learn
    loss = QuadrupletLoss(alpha1=5.0, alpha2=3.0, squared=False, mining="all", reduction="sum")
    assert float(loss(embed(X, torch.tensor(6.0), torch.tensor(0.0)), Y)) == 0.0
