"""Train a face model with metric learning and save it as an embedder (``lookalike train``).

:func:`fit` trains one model on a set of LFW photos (the people of some folds) — the building
block of both the CLI command and the 10-fold protocol (``benchmarks/train_models.py``).
:func:`train_model` is the CLI's use case: train on every fold but ``holdout`` (or on all of LFW),
score the held-out fold with :mod:`lookalike.evaluation.protocols.lfw_folds`, save weights + card
under a key, write the loss/validation curve.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from lookalike.errors import LookalikeError
from lookalike.training.data import (
    Folds,
    Spec,
    default_spec,
    labelled_chips,
    labelled_vectors,
    spec_dict,
    spec_key,
)
from lookalike.training.loop import TrainConfig, TrainResult, embed_array, plot_curves, resolve_device, train

#: chip side for the scratch CNN (the 150-px chip resized): 32 px keeps a CPU epoch short on 2 shared cores
CNN_CHIP = 32


@dataclass
class Inputs:
    """What a model of one kind eats, for every photo of a :class:`Folds` (row-aligned)."""

    kind: str  # "descriptor" | "chip" | "trunk"
    array: np.ndarray


def model_inputs(arch: str, folds: Folds, spec: Spec, model: Any = None, rows: np.ndarray | None = None) -> Inputs:
    """Descriptors (heads), chips (CNN) or the fine-tuned ResNet's frozen-trunk activations."""
    paths = folds.paths if rows is None else [folds.paths[i] for i in rows]
    if arch in ("linear", "mlp"):
        return Inputs("descriptor", labelled_vectors(paths, spec))
    if arch == "cnn":
        return Inputs("chip", labelled_chips(paths, spec, CNN_CHIP))
    if arch == "resnet-ft":
        import torch

        chips = labelled_chips(paths, spec, 150)
        acts = [model.trunk(torch.from_numpy(chips[s : s + 64])).numpy() for s in range(0, len(chips), 64)]
        return Inputs("trunk", np.concatenate(acts).astype(np.float32))
    raise LookalikeError(f"unknown architecture {arch!r}")


def new_model(cfg: TrainConfig, train_inputs: Inputs) -> Any:
    import torch

    from lookalike.training.losses import is_cosine
    from lookalike.training.models import build_model

    torch.manual_seed(cfg.seed)
    kw = {"normalize": is_cosine(cfg.loss)} if cfg.arch in ("linear", "mlp") else {}
    model = build_model(cfg.arch, cfg.dim, **kw)
    if cfg.init == "pca":
        if train_inputs.kind != "descriptor":
            raise LookalikeError("--init pca is for heads on descriptors")
        model.init_pca(train_inputs.array.astype(np.float64))
    return model


def forward_of(model: Any, kind: str) -> Any:
    return model.tail if kind == "trunk" else model


def fit(cfg: TrainConfig, inputs: Inputs, people: np.ndarray, spec: Spec, out_dir: Path | None = None,
        resume: bool = False, validate: Any = None, progress: bool = True, label: str = "train",
        data_digest: str = "", model: Any = None) -> TrainResult:
    """Train a fresh model of ``cfg`` (or ``model``) on ``inputs`` labelled by ``people``."""
    import torch

    from lookalike.training.losses import make_loss

    torch.manual_seed(cfg.seed)
    model = model if model is not None else new_model(cfg, inputs)
    classes = len(np.unique(people))
    loss = make_loss(cfg.loss, cfg.dim, classes)
    return train(model, loss, inputs.array, people, cfg, out_dir=out_dir, resume=resume, validate=validate,
                 forward=forward_of(model, inputs.kind), spec=spec_key(spec), data_digest=data_digest,
                 progress=progress, label=label)


def embed_inputs(model: Any, inputs: Inputs, device: str = "auto") -> np.ndarray:
    model.eval()
    return embed_array(forward_of(model, inputs.kind), inputs.array, resolve_device(device))


# ------------------------------------------------------------------------------------- the CLI's use
class HeldOutScorer(Protocol):
    """What the use case needs from an evaluation protocol (the CLI passes
    :class:`lookalike.evaluation.protocols.lfw_folds.LfwFoldScorer`; usecases never import evaluation)."""

    def validator(self, inputs: Inputs, people: np.ndarray, device: str) -> Any:
        """``validate(model) -> dict`` for the curves (held-out photos)."""

    def score(self, vectors: np.ndarray, folds: Folds, holdout: int) -> dict[str, float]:
        """Every number of the protocol for the held-out fold, given vectors of every photo."""

    def threshold(self, vectors: np.ndarray, people: np.ndarray) -> float:
        """The same-person distance a saved model carries, chosen on its training people."""


@dataclass
class TrainRequest:
    key: str
    config: TrainConfig
    holdout: int | None = 0  # LFW fold (0-based) kept out and scored; None = train on all of LFW
    resume: bool = False
    lfw_root: Path | None = None


def train_model(req: TrainRequest, spec: Spec | None = None, progress: bool = True,
                models_root: Path | None = None, scorer: HeldOutScorer | None = None) -> dict[str, Any]:
    """Train, score the held-out fold (with ``scorer``), save weights + card under ``req.key``;
    returns the card as a dict."""
    from lookalike.faces.models.trained.store import ModelCard, _check_key, models_dir, save_model
    from lookalike.settings import datasets_dir
    from lookalike.training.data import lfw_folds
    from lookalike.training.models import saved_state

    _check_key(req.key)
    spec = spec or default_spec()
    cfg = req.config
    resolve_device(cfg.device)  # fail before any work when --device cuda has no GPU
    root = req.lfw_root or datasets_dir() / "lfw"
    folds = lfw_folds(root)
    if req.holdout is not None:
        train_rows, test_rows = folds.split(req.holdout)
    else:
        train_rows, test_rows = np.arange(len(folds)), np.empty(0, np.int64)
    probe = new_model(replace(cfg, init="random"), Inputs("descriptor", np.zeros((1, 128), np.float32))) \
        if cfg.arch == "resnet-ft" else None
    all_inputs = model_inputs(cfg.arch, folds, spec, probe)
    tr = Inputs(all_inputs.kind, all_inputs.array[train_rows])
    work = (models_root or models_dir()) / ".runs" / req.key
    validate = None
    if len(test_rows) and scorer is not None:
        validate = scorer.validator(Inputs(all_inputs.kind, all_inputs.array[test_rows]), folds.people[test_rows],
                                    cfg.device)
    t0 = time.perf_counter()
    model = probe if probe is not None else new_model(cfg, tr)
    res = fit(cfg, tr, folds.people[train_rows], spec, out_dir=work, resume=req.resume, validate=validate,
              progress=progress, label=req.key, data_digest=folds.subset(train_rows).digest(), model=model)
    seconds = time.perf_counter() - t0
    vecs = embed_inputs(res.model, all_inputs, cfg.device)
    metrics: dict[str, Any] = {"train_seconds": seconds, "history": res.history}
    if req.holdout is not None and scorer is not None:
        metrics[f"lfw_fold_{req.holdout}"] = scorer.score(vecs, folds, req.holdout)
    curves = plot_curves(res.history, work / "curves.png", f"{req.key}: {cfg.arch}-{cfg.dim}, {cfg.loss}")
    card = ModelCard(
        key=req.key, architecture=res.model.config(), input="descriptor" if all_inputs.kind == "descriptor" else "chip",
        spec=spec_dict(spec), base_embedder=spec.card.name, loss={"name": cfg.loss},
        data={"dataset": "lfw", "root": str(root), "photos": len(train_rows),
              "people": len(np.unique(folds.people[train_rows])),
              "folds_trained": sorted({int(f) for f in folds.fold[train_rows]}),
              "holdout_fold": req.holdout, "digest": folds.subset(train_rows).digest()},
        seed=cfg.seed, training=asdict(cfg), metrics=metrics,
        threshold=scorer.threshold(vecs[train_rows], folds.people[train_rows]) if scorer is not None else None,
    )
    state = {k: v.detach().cpu().numpy() for k, v in saved_state(res.model).items()}
    folder = save_model(card, state, models_root)
    return {**asdict(card), "folder": str(folder), "curves": str(curves)}
