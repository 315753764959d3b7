"""Every registered loss trains a 128-d embedding that beats its untrained start on people it never saw.

The embedding is the scratch CNN on 16-px chips (a few thousand parameters, seconds per loss):
its untrained start is genuinely poor, so "beats the start" measures that the loss learns
something that carries over to held-out people. A 128-d *head on dlib's descriptors* is not used
here on purpose: a random 128 → 128 linear map is nearly an isometry, so an untrained head is
already as good as dlib's own descriptor, and 60 training people (or all of LFW's, see
docs/training.md) teach it nothing that beats dlib on new people.
"""

from __future__ import annotations

import numpy as np
import pytest

from lookalike.training.losses import LOSSES
from tests.training.conftest import _spec

CHIP = 16


@pytest.fixture(scope="module")
def chips(lfw_subset):
    from lookalike.training.data import labelled_chips

    c = labelled_chips(lfw_subset.train_paths + lfw_subset.test_paths, _spec(), CHIP)
    return c[: len(lfw_subset.train_paths)], c[len(lfw_subset.train_paths) :]


def _map(model, x: np.ndarray, y: np.ndarray) -> float:
    from lookalike.evaluation.retrieval import retrieval
    from lookalike.training.loop import embed_array, resolve_device

    model.eval()
    return retrieval(embed_array(model, x, resolve_device("cpu")), y).summary()["map"]


@pytest.mark.parametrize("loss", [name for name in LOSSES if not name.endswith("+distill")])
def test_loss_beats_untrained_start_on_held_out_people(loss: str, lfw_subset, chips) -> None:
    import torch

    from lookalike.training.loop import TrainConfig
    from lookalike.training.models import SmallCNN
    from lookalike.usecases.train import Inputs, fit

    train_x, test_x = chips
    torch.manual_seed(0)
    model = SmallCNN(128, CHIP, 8)
    start = _map(model, test_x, lfw_subset.test_y)
    cfg = TrainConfig(arch="cnn", dim=128, loss=loss, epochs=6, p=16, k=4, batches=8, lr=3e-3, seed=0,
                      device="cpu", flip=True)
    res = fit(cfg, Inputs("chip", train_x), lfw_subset.train_y, _spec(), progress=False, model=model)
    after = _map(res.model, test_x, lfw_subset.test_y)
    assert np.isfinite(res.history[-1]["loss"])
    assert after > start + 0.005, f"{loss}: held-out mAP {after:.4f}, untrained {start:.4f}"


def test_distillation_keeps_the_base_descriptors_near_distances(lfw_subset) -> None:
    """The '+distill' term on a head: training from PCA init must not lose held-out mAP beyond noise."""
    from lookalike.training.loop import TrainConfig
    from lookalike.usecases.train import Inputs, fit

    cfg = TrainConfig(arch="linear", dim=128, loss="triplet+distill", epochs=3, p=16, k=4, batches=6, lr=1e-3,
                      seed=0, device="cpu", init="pca")
    res = fit(cfg, Inputs("descriptor", lfw_subset.train_x), lfw_subset.train_y, _spec(), progress=False)
    from lookalike.evaluation.retrieval import retrieval

    raw = retrieval(lfw_subset.test_x, lfw_subset.test_y).summary()["map"]
    assert _map(res.model, lfw_subset.test_x, lfw_subset.test_y) > raw - 0.02
