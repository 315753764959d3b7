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
from typing import Any

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


def retrieval_validator(inputs: Inputs, people: np.ndarray, kind: str, device: str = "auto") -> Any:
    """``validate(model)`` → rank-1 and mAP of identity retrieval on a held-out set (for the curves only)."""
    from lookalike.evaluation.retrieval import retrieval

    dev = resolve_device(device)

    def validate(model: Any) -> dict[str, float]:
        v = embed_array(forward_of(model, kind), inputs.array, dev)
        s = retrieval(v, people).summary()
        return {"val_rank1": s["rank1"], "val_map": s["map"]}

    return validate


def embed_inputs(model: Any, inputs: Inputs, device: str = "auto") -> np.ndarray:
    model.eval()
    return embed_array(forward_of(model, inputs.kind), inputs.array, resolve_device(device))


def threshold_on(vectors: np.ndarray, people: np.ndarray, max_pairs: int = 400_000, seed: int = 0) -> float:
    """Same-person distance with the best accuracy over sampled training pairs (every same pair, as many
    different ones): the threshold a saved model carries."""
    from lookalike.evaluation.verification import best_threshold

    rng = np.random.default_rng(seed)
    order = np.argsort(people, kind="stable")
    _, starts, counts = np.unique(people[order], return_index=True, return_counts=True)
    same = [(order[s + a], order[s + b]) for s, c in zip(starts, counts) if c > 1
            for a in range(c) for b in range(a + 1, c)][:max_pairs]
    if not same:
        raise LookalikeError("no same-person pairs to choose a threshold on")
    sa = np.array(same)
    da = rng.integers(0, len(people), (len(sa) * 2, 2))
    da = da[people[da[:, 0]] != people[da[:, 1]]][: len(sa)]
    pairs = np.concatenate([sa, da])
    d = np.linalg.norm(vectors[pairs[:, 0]] - vectors[pairs[:, 1]], axis=1)
    return best_threshold(d, np.r_[np.ones(len(sa), bool), np.zeros(len(da), bool)])


# ------------------------------------------------------------------------------------- the CLI's use
@dataclass
class TrainRequest:
    key: str
    config: TrainConfig
    holdout: int | None = 0  # LFW fold (0-based) kept out and scored; None = train on all of LFW
    resume: bool = False
    lfw_root: Path | None = None


def train_model(req: TrainRequest, spec: Spec | None = None, progress: bool = True,
                models_root: Path | None = None) -> dict[str, Any]:
    """Train, score the held-out fold, save weights + card under ``req.key``; returns the card as a dict."""
    from lookalike.evaluation.protocols.lfw_folds import FoldData, score_fold
    from lookalike.evaluation.verification import lfw_pairs
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
    if len(test_rows):
        validate = retrieval_validator(Inputs(all_inputs.kind, all_inputs.array[test_rows]),
                                       folds.people[test_rows], all_inputs.kind, cfg.device)
    t0 = time.perf_counter()
    model = probe if probe is not None else new_model(cfg, tr)
    res = fit(cfg, tr, folds.people[train_rows], spec, out_dir=work, resume=req.resume, validate=validate,
              progress=progress, label=req.key, data_digest=folds.subset(train_rows).digest(), model=model)
    seconds = time.perf_counter() - t0
    vecs = embed_inputs(res.model, all_inputs, cfg.device)
    metrics: dict[str, Any] = {"train_seconds": seconds, "history": res.history}
    if req.holdout is not None:
        pairs = lfw_pairs(root)
        data = FoldData.build(folds.paths, folds.people, folds.fold, pairs)
        metrics[f"lfw_fold_{req.holdout}"] = score_fold(vecs, data, req.holdout)
    curves = plot_curves(res.history, work / "curves.png", f"{req.key}: {cfg.arch}-{cfg.dim}, {cfg.loss}")
    card = ModelCard(
        key=req.key, architecture=res.model.config(), input="descriptor" if all_inputs.kind == "descriptor" else "chip",
        spec=spec_dict(spec), base_embedder=spec.card.name, loss={"name": cfg.loss},
        data={"dataset": "lfw", "root": str(root), "photos": len(train_rows),
              "people": len(np.unique(folds.people[train_rows])),
              "folds_trained": sorted({int(f) for f in folds.fold[train_rows]}),
              "holdout_fold": req.holdout, "digest": folds.subset(train_rows).digest()},
        seed=cfg.seed, training=asdict(cfg), metrics=metrics,
        threshold=threshold_on(vecs[train_rows], folds.people[train_rows], seed=cfg.seed),
    )
    state = {k: v.detach().cpu().numpy() for k, v in saved_state(res.model).items()}
    folder = save_model(card, state, models_root)
    return {**asdict(card), "folder": str(folder), "curves": str(curves)}
