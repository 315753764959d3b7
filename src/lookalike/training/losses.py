"""Metric-learning losses: the quadruplet loss (written here) and a registry over pytorch-metric-learning's.

**Quadruplet loss** (W. Chen, X. Chen, J. Zhang, K. Huang, "Beyond triplet loss: a deep quadruplet
network for person re-identification", CVPR 2017, eq. 4)::

    L = Σ_{i,j,k}   [ g(x_i, x_j)² − g(x_i, x_k)² + α₁ ]₊
      + Σ_{i,j,k,l} [ g(x_i, x_j)² − g(x_l, x_k)² + α₂ ]₊
      with s_i = s_j,  s_k ≠ s_i,  s_l ≠ s_i,  s_l ≠ s_k   (i ≠ j)

The first term is the triplet loss; the second asks every positive pair to be closer than any pair
of two *other* identities, which pushes the intra-class spread below the inter-class distance across
the whole space, not only around each anchor (the paper sets α₂ < α₁). ``g`` is the Euclidean
distance here (the paper learns it); ``squared=False`` uses the plain distance as the source
documents' triplet example does. Sums run over ordered tuples, as the formula's indices do.

Mining: ``"all"`` uses every valid tuple of the batch; ``"hard"`` keeps, per anchor, its farthest
positive, nearest negative and the nearest pair of two other identities (batch-hard, in the spirit
of the paper's online hard-negative mining). Reduction ``"sum"`` (the formula) or ``"mean"`` (each
term divided by its number of tuples).

**Registry** (:func:`make_loss`): ``contrastive``, ``triplet-batch-hard``, ``triplet-semihard``,
``multi-similarity``, ``arcface``, ``cosface``, ``subcenter-arcface`` from pytorch-metric-learning
2.9, and ``quadruplet`` / ``quadruplet-all`` from this module. The classification-style losses
(ArcFace, CosFace, sub-center ArcFace) own a weight matrix that trains with the model and is not
part of the saved embedder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from lookalike.errors import LookalikeError
from lookalike.training.pml import load_pml

Mining = Literal["all", "hard"]
Reduction = Literal["sum", "mean"]


def pairwise_distances(x: torch.Tensor, squared: bool) -> torch.Tensor:
    """``(n, n)`` Euclidean (or squared) distances; exact zeros on the diagonal, finite gradients."""
    sq = (x.unsqueeze(1) - x.unsqueeze(0)).pow(2).sum(-1)
    if squared:
        return sq
    # sqrt has an infinite derivative at 0: take it only where the distance is positive
    pos = sq > 0
    return torch.where(pos, sq.clamp_min(1e-30).sqrt(), torch.zeros_like(sq))


class QuadrupletLoss(nn.Module):
    """Chen et al.'s quadruplet loss over a batch of embeddings and their integer labels."""

    def __init__(self, alpha1: float = 1.0, alpha2: float = 0.5, squared: bool = True,
                 mining: Mining = "hard", reduction: Reduction = "mean") -> None:
        super().__init__()
        if mining not in ("all", "hard") or reduction not in ("sum", "mean"):
            raise LookalikeError(f"unknown mining {mining!r} or reduction {reduction!r}")
        self.alpha1, self.alpha2 = float(alpha1), float(alpha2)
        self.squared, self.mining, self.reduction = squared, mining, reduction

    def terms(self, emb: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The two terms (triplet, pair-of-others), each already reduced."""
        d = pairwise_distances(emb, self.squared)
        y = labels.view(-1)
        same = y.unsqueeze(0) == y.unsqueeze(1)
        eye = torch.eye(len(y), dtype=torch.bool, device=emb.device)
        pos = same & ~eye  # (i, j): same identity, i ≠ j
        neg = ~same  # (i, k) or (l, k): different identities
        if self.mining == "all":
            return self._all(d, y, pos, neg)
        return self._hard(d, y, pos, neg)

    def forward(self, emb: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        t1, t2 = self.terms(emb, labels)
        return t1 + t2

    def _reduce(self, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        total = (values * mask).sum()
        if self.reduction == "sum":
            return total
        return total / mask.sum().clamp_min(1)

    def _all(self, d: torch.Tensor, y: torch.Tensor, pos: torch.Tensor,
             neg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # term 1 over (i, j, k): d[i, j] − d[i, k] + α₁
        t1 = torch.relu(d.unsqueeze(2) - d.unsqueeze(1) + self.alpha1)
        m1 = (pos.unsqueeze(2) & neg.unsqueeze(1)).to(d.dtype)
        term1 = self._reduce(t1, m1)
        # term 2: for each anchor identity c, the pairs (l, k) of two different identities, neither c
        total = d.new_zeros(())
        count = d.new_zeros(())
        for c in torch.unique(y):
            anchors = y == c
            pij = d[pos & anchors.unsqueeze(1)]  # positive-pair distances with anchor identity c
            others = ~anchors
            lk = neg & others.unsqueeze(1) & others.unsqueeze(0)
            dlk = d[lk]
            if len(pij) == 0 or len(dlk) == 0:
                continue
            v = torch.relu(pij.unsqueeze(1) - dlk.unsqueeze(0) + self.alpha2)
            total = total + v.sum()
            count = count + v.numel()
        term2 = total if self.reduction == "sum" else total / count.clamp_min(1)
        return term1, term2

    def _hard(self, d: torch.Tensor, y: torch.Tensor, pos: torch.Tensor,
              neg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        big = d.detach().max() + 1.0
        has = pos.any(1) & neg.any(1)
        hard_pos = torch.where(pos, d, torch.zeros_like(d)).max(1).values
        hard_neg = torch.where(neg, d, big.expand_as(d)).min(1).values
        t1 = torch.relu(hard_pos - hard_neg + self.alpha1)
        # nearest pair of two identities other than the anchor's: per anchor identity, masked min
        others = y.unsqueeze(1) != y.unsqueeze(0)  # (anchor, sample): sample not of the anchor's identity
        lk = neg.unsqueeze(0) & others.unsqueeze(2) & others.unsqueeze(1)  # (anchor, l, k)
        dlk = torch.where(lk, d.unsqueeze(0), big.expand(len(y), *d.shape)).flatten(1).min(1).values
        has2 = has & lk.flatten(1).any(1)
        t2 = torch.relu(hard_pos - dlk + self.alpha2)
        return self._reduce(t1, has.to(d.dtype)), self._reduce(t2, has2.to(d.dtype))


class NeighbourDistillation(nn.Module):
    """Keep the base descriptor's *near* distances: ``Σ w (d_head − d_base)² / Σ w``, ``w = exp(−d_base / τ)``.

    For a head on frozen descriptors the batch's inputs are the teacher. PCA keeps the large
    distances best (it minimises the total squared distortion, which the far pairs dominate);
    retrieval and verification live among the near ones, which this weights up. Identity-agnostic,
    so it carries over to people outside the training set.
    """

    def __init__(self, tau: float = 0.4) -> None:
        super().__init__()
        self.tau = float(tau)

    def forward(self, emb: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        ds = pairwise_distances(emb, squared=False)
        dt = pairwise_distances(inputs.to(emb.dtype), squared=False)
        w = torch.exp(-dt / self.tau) * (1 - torch.eye(len(emb), device=emb.device, dtype=emb.dtype))
        return (w * (ds - dt).pow(2)).sum() / w.sum().clamp_min(1e-12)


# ------------------------------------------------------------------------------------------ registry
@dataclass
class LossBundle:
    """A loss, the miner that feeds it (or None) and whether it owns trainable weights."""

    name: str
    loss: nn.Module
    miner: Callable[..., object] | None = None
    params: dict[str, float] = field(default_factory=dict)
    #: True for losses on cosine similarity (the model should output unit vectors); False for
    #: losses on plain Euclidean distance (the model keeps its scale, like dlib's descriptors)
    cosine: bool = False
    #: optional second term on the model's inputs (the base descriptors), with its weight
    distill: NeighbourDistillation | None = None
    distill_weight: float = 0.0

    def __call__(self, emb: torch.Tensor, labels: torch.Tensor, inputs: torch.Tensor | None = None) -> torch.Tensor:
        value = self.loss(emb, labels, self.miner(emb, labels)) if self.miner is not None else self.loss(emb, labels)
        if self.distill is not None and inputs is not None:
            value = value + self.distill_weight * self.distill(emb, inputs)
        return value

    @property
    def trainable(self) -> list[nn.Parameter]:
        return list(self.loss.parameters())


#: margins of the Euclidean losses in dlib's units (same-person threshold ≈ 0.6 there)
EUCLIDEAN_MARGIN = 0.1


def _pml(name: str, dim: int, classes: int) -> LossBundle:
    load_pml()
    from pytorch_metric_learning import distances, losses, miners

    lp = distances.LpDistance(normalize_embeddings=False)  # plain Euclidean, the scale kept
    if name == "contrastive":
        p = {"pos_margin": 0.3, "neg_margin": 0.7}
        return LossBundle(name, losses.ContrastiveLoss(**p, distance=lp),
                          miners.PairMarginMiner(**p, distance=lp), p)
    if name == "triplet-batch-hard":
        p = {"margin": EUCLIDEAN_MARGIN}
        return LossBundle(name, losses.TripletMarginLoss(**p, distance=lp), miners.BatchHardMiner(distance=lp), p)
    if name == "triplet-semihard":
        p = {"margin": EUCLIDEAN_MARGIN}
        return LossBundle(name, losses.TripletMarginLoss(**p, distance=lp),
                          miners.TripletMarginMiner(**p, type_of_triplets="semihard", distance=lp), p)
    if name == "multi-similarity":
        p = {"alpha": 2.0, "beta": 50.0, "base": 0.5}
        return LossBundle(name, losses.MultiSimilarityLoss(**p), miners.MultiSimilarityMiner(epsilon=0.1), p,
                          cosine=True)
    if name == "arcface":
        p = {"margin": 28.6, "scale": 64.0}
        return LossBundle(name, losses.ArcFaceLoss(num_classes=classes, embedding_size=dim, **p), None, p,
                          cosine=True)
    if name == "cosface":
        p = {"margin": 0.35, "scale": 64.0}
        return LossBundle(name, losses.CosFaceLoss(num_classes=classes, embedding_size=dim, **p), None, p,
                          cosine=True)
    if name == "subcenter-arcface":
        p = {"margin": 28.6, "scale": 64.0, "sub_centers": 3}
        return LossBundle(name, losses.SubCenterArcFaceLoss(num_classes=classes, embedding_size=dim, **p), None, p,
                          cosine=True)
    raise KeyError(name)


def is_cosine(name: str) -> bool:
    """Whether the loss called ``name`` works on cosine similarity (its model outputs unit vectors)."""
    return name in ("multi-similarity", "arcface", "cosface", "subcenter-arcface")


LOSSES = ("contrastive", "triplet-batch-hard", "triplet-semihard", "multi-similarity", "arcface", "cosface",
          "subcenter-arcface", "quadruplet", "quadruplet-all", "triplet+distill", "quadruplet+distill")
#: weight of the neighbour-distillation term in the "+distill" losses
DISTILL_WEIGHT = 10.0


def make_loss(name: str, dim: int, classes: int) -> LossBundle:
    """The loss called ``name`` for ``dim``-d embeddings of ``classes`` training identities."""
    if name not in LOSSES:
        raise LookalikeError(f"unknown loss {name!r}; choose one of {list(LOSSES)}")
    if name.endswith("+distill"):
        base = make_loss({"triplet": "triplet-batch-hard"}.get(name[:-8], name[:-8]), dim, classes)
        base.name, base.distill, base.distill_weight = name, NeighbourDistillation(), DISTILL_WEIGHT
        base.params = {**base.params, "distill_weight": DISTILL_WEIGHT, "tau": base.distill.tau}
        return base
    if name.startswith("quadruplet"):
        # plain Euclidean distances in dlib's units; α₂ < α₁ as in the paper
        p = {"alpha1": EUCLIDEAN_MARGIN, "alpha2": EUCLIDEAN_MARGIN / 2}
        mining: Mining = "all" if name == "quadruplet-all" else "hard"
        return LossBundle(name, QuadrupletLoss(**p, squared=False, mining=mining, reduction="mean"), None,
                          {**p, "squared": 0.0})
    return _pml(name, dim, classes)
