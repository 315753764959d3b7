"""Saved models round-trip through safetensors + JSON (no pickle), load by key, and training is deterministic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.training.conftest import _spec

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from lookalike.errors import (
    DeviceUnavailableError,
    LookalikeError,
    SpecMismatchError,
    TrainingDataError,
)
from lookalike.training.data import pk_batches, spec_dict
from lookalike.training.loop import TrainConfig
from lookalike.usecases.train import Inputs, fit

CFG = TrainConfig(arch="mlp", dim=32, loss="triplet-batch-hard", epochs=3, p=8, k=4, batches=5, lr=3e-3, seed=7,
                  device="cpu", init="pca")


def _weights(model: torch.nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def test_training_is_deterministic_on_cpu(lfw_subset) -> None:
    runs = [fit(CFG, Inputs("descriptor", lfw_subset.train_x), lfw_subset.train_y, _spec(), progress=False)
            for _ in range(2)]
    a, b = (_weights(r.model) for r in runs)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert [h["loss"] for h in runs[0].history] == [h["loss"] for h in runs[1].history]


def test_resume_ends_where_an_uninterrupted_run_ends(lfw_subset, tmp_path: Path) -> None:
    x, y = Inputs("descriptor", lfw_subset.train_x), lfw_subset.train_y
    full = fit(CFG, x, y, _spec(), progress=False)
    calls: list[int] = []

    def interrupt_in_epoch_two(model: object) -> dict[str, float]:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # as if Ctrl-C arrived during epoch 2 (its checkpoint is not written)
        return {}

    with pytest.raises(KeyboardInterrupt):
        fit(CFG, x, y, _spec(), out_dir=tmp_path, validate=interrupt_in_epoch_two, progress=False)
    assert json.loads((tmp_path / "checkpoint.json").read_text())["epoch"] == 1
    resumed = fit(CFG, x, y, _spec(), out_dir=tmp_path, resume=True, progress=False)
    assert resumed.resumed_from == 1 and len(resumed.history) == CFG.epochs
    w_full, w_res = _weights(full.model), _weights(resumed.model)
    assert all(np.array_equal(w_full[k], w_res[k]) for k in w_full)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.json", "checkpoint.safetensors"]


def test_resume_refuses_another_configuration(lfw_subset, tmp_path: Path) -> None:
    x, y = Inputs("descriptor", lfw_subset.train_x), lfw_subset.train_y
    fit(TrainConfig(**{**CFG.__dict__, "epochs": 1}), x, y, _spec(), out_dir=tmp_path, progress=False)
    with pytest.raises(SpecMismatchError, match="another config"):
        fit(TrainConfig(**{**CFG.__dict__, "dim": 64}), x, y, _spec(), out_dir=tmp_path, resume=True,
            progress=False)


def test_save_load_round_trip_by_key(lfw_subset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lookalike.faces.embed import load_embedder
    from lookalike.faces.models.trained.store import ModelCard, save_model
    from lookalike.training.models import saved_state

    monkeypatch.setenv("LOOKALIKE_MODELS", str(tmp_path))
    res = fit(CFG, Inputs("descriptor", lfw_subset.train_x), lfw_subset.train_y, _spec(), progress=False)
    spec = _spec()
    card = ModelCard(key="test-mlp-32", architecture=res.model.config(), input="descriptor", spec=spec_dict(spec),
                     base_embedder=spec.card.name, loss={"name": CFG.loss}, data={"dataset": "lfw-subset"},
                     seed=CFG.seed, training=CFG.__dict__, threshold=0.8)
    save_model(card, {k: v.detach().numpy() for k, v in saved_state(res.model).items()})
    folder = tmp_path / "test-mlp-32"
    assert sorted(p.name for p in folder.iterdir()) == ["card.json", "model.safetensors"]
    assert json.loads((folder / "card.json").read_text())["architecture"]["arch"] == "mlp"
    emb = load_embedder("test-mlp-32")  # found by key through the embedder registry
    assert emb.card.dim == 32 and not emb.card.normalized  # a Euclidean loss keeps dlib's scale
    assert emb.card.name.startswith("trained-test-mlp-32@") and emb.card.threshold == 0.8
    with torch.no_grad():
        want = res.model(torch.from_numpy(lfw_subset.test_x)).numpy()
    got = emb.embed_descriptors(lfw_subset.test_x)  # NumPy head, no torch
    assert np.abs(got - want).max() < 1e-5
    emb.check_spec(spec.key)
    from lookalike.faces.spec import PipelineSpec

    assert PipelineSpec(embedder="test-mlp-32").card == emb.card  # a spec takes the trained key
    with pytest.raises(SpecMismatchError):
        emb.check_spec("0000000000000000")
    with pytest.raises(SpecMismatchError):
        emb.embed_descriptors(lfw_subset.test_x[:, :64])
    # a damaged weights file is refused, not half-loaded
    blob = bytearray((folder / "model.safetensors").read_bytes())
    blob[-1] ^= 0xFF
    (folder / "model.safetensors").write_bytes(bytes(blob))
    with pytest.raises(LookalikeError, match="does not match its card"):
        load_embedder("test-mlp-32")
    with pytest.raises(LookalikeError, match="unknown embedder"):
        load_embedder("no-such-model")


def test_too_few_identities_for_pk() -> None:
    labels = np.array([0, 0, 1, 1, 2, 3, 4])  # two people with ≥ 2 photos
    with pytest.raises(TrainingDataError, match="too few identities"):
        pk_batches(labels, p=4, k=2, batches=1, seed=0, epoch=0)


def test_pk_batches_are_p_by_k_and_seeded() -> None:
    labels = np.repeat(np.arange(20), 5)
    a = pk_batches(labels, p=4, k=3, batches=6, seed=1, epoch=2)
    b = pk_batches(labels, p=4, k=3, batches=6, seed=1, epoch=2)
    assert len(a) == 6 and all(len(x) == 12 for x in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert all(sorted(np.unique(labels[x], return_counts=True)[1]) == [3, 3, 3, 3] for x in a)


def test_cuda_without_gpu_is_a_clear_error() -> None:
    from lookalike.training.loop import resolve_device

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(DeviceUnavailableError, match="no CUDA GPU"):
        resolve_device("cuda")


def test_cli_train_refuses_cuda_without_gpu() -> None:
    from typer.testing import CliRunner

    from lookalike.cli import app

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    out = CliRunner().invoke(app, ["train", "x", "--device", "cuda"])
    assert out.exit_code == 1 and "no CUDA GPU" in out.output
