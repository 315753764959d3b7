"""The training loop: seeded P×K batches, Rich progress, a checkpoint every epoch, ``resume``, curves.

Deterministic on CPU: the batches of epoch *e* depend only on ``(seed, e)``
(:func:`~lookalike.training.data.pk_batches`), torch's generator is reseeded with ``(seed, e)`` at
the start of each epoch, and deterministic algorithms are switched on — so a run resumed from the
checkpoint of epoch *e* ends with the same weights as one that never stopped.

Checkpoints are ``checkpoint.safetensors`` (model, loss and optimizer tensors) + ``checkpoint.json``
(epoch, history, configuration, spec key, data digest), written atomically; nothing is pickled.
Resuming refuses a checkpoint made with another configuration, spec or data
(:class:`~lookalike.errors.SpecMismatchError`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lookalike.errors import DeviceUnavailableError, LookalikeError, SpecMismatchError
from lookalike.io import atomic_write_bytes
from lookalike.training.data import label_codes, pk_batches
from lookalike.training.losses import LossBundle

Validate = Callable[[nn.Module], dict[str, float]]


@dataclass(frozen=True)
class TrainConfig:
    """What a run does. Recorded in checkpoints and model cards."""

    arch: str = "linear"
    dim: int = 32
    loss: str = "multi-similarity"
    epochs: int = 20
    p: int = 32  # identities per batch
    k: int = 4  # photos per identity
    batches: int = 0  # per epoch; 0 = (training photos) / (P × K)
    lr: float = 1e-3
    weight_decay: float = 0.0  # AdamW decay would pull a PCA-initialised head towards 0
    seed: int = 0
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    init: str = "random"  # "random" | "pca" (heads)
    flip: bool = False  # random horizontal flips (chip inputs)
    threads: int = 1  # CPU threads for torch (1: small models gain nothing from more, and on a shared
    #                   machine OpenMP threads spin-waiting for a busy core slow a step down 20×)


@dataclass
class TrainResult:
    model: nn.Module
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    resumed_from: int = 0


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when present, else CPU; ``cuda`` without a GPU is a typed error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceUnavailableError("--device cuda was asked for, but PyTorch sees no CUDA GPU here "
                                     "(use --device cpu or auto)")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise LookalikeError(f"unknown device {name!r}; use auto, cpu or cuda")
    return torch.device(name)


def embed_array(forward: Callable[[torch.Tensor], torch.Tensor], inputs: np.ndarray, device: torch.device,
                batch: int = 1024) -> np.ndarray:
    """Run ``forward`` over ``inputs`` in batches, no gradients → float32 numpy."""
    out = []
    with torch.no_grad():
        for s in range(0, len(inputs), batch):
            out.append(forward(torch.from_numpy(np.ascontiguousarray(inputs[s : s + batch])).to(device)).float().cpu())
    return torch.cat(out).numpy() if out else np.empty((0, 0), np.float32)


# ------------------------------------------------------------------------------------ checkpoints
def _opt_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors = {f"opt.{i}.{name}": t.detach().cpu().contiguous()
               for i, st in sd["state"].items() for name, t in st.items() if torch.is_tensor(t)}
    return tensors, {"param_groups": sd["param_groups"], "state_keys": {str(i): list(st) for i, st in sd["state"].items()}}


def save_checkpoint(folder: Path, model: nn.Module, loss: LossBundle, opt: torch.optim.Optimizer,
                    meta: dict[str, Any]) -> None:
    from safetensors.torch import save

    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update({f"loss.{k}": v.detach().cpu().contiguous() for k, v in loss.loss.state_dict().items()})
    ot, ometa = _opt_tensors(opt)
    tensors.update(ot)
    # weights first, then the JSON that points at them: a crash between the two leaves the old JSON,
    # whose epoch is older than the weights — the next resume repeats one epoch, never skips one
    atomic_write_bytes(folder / "checkpoint.safetensors", save(tensors))
    atomic_write_bytes(folder / "checkpoint.json", json.dumps({**meta, "optimizer": ometa}, indent=1).encode())


def load_checkpoint(folder: Path, model: nn.Module, loss: LossBundle, opt: torch.optim.Optimizer,
                    expect: dict[str, Any]) -> dict[str, Any]:
    from safetensors.torch import load_file

    meta = json.loads((folder / "checkpoint.json").read_text())
    for key in ("config", "spec", "data"):
        have, want = meta.get(key), expect.get(key)
        if key == "config" and isinstance(have, dict) and isinstance(want, dict):  # more epochs may be asked for
            have, want = {**have, "epochs": 0}, {**want, "epochs": 0}
        if have != want:
            raise SpecMismatchError(
                f"the checkpoint in {folder} was made with another {key} ({meta.get(key)!r}, now "
                f"{expect.get(key)!r}); start without --resume or use another output folder")
    t = load_file(str(folder / "checkpoint.safetensors"))
    model.load_state_dict({k[6:]: v for k, v in t.items() if k.startswith("model.")})
    if any(k.startswith("loss.") for k in t):
        loss.loss.load_state_dict({k[5:]: v for k, v in t.items() if k.startswith("loss.")})
    om = meta["optimizer"]
    state = {int(i): {n: t[f"opt.{i}.{n}"] for n in names} for i, names in om["state_keys"].items()}
    opt.load_state_dict({"state": state, "param_groups": om["param_groups"]})
    return meta


# ------------------------------------------------------------------------------------------- loop
def _progress(enabled: bool) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]:.4f}"), TextColumn("{task.fields[rate]:.0f} samples/s"),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), disable=not enabled,
                    transient=True)


def train(
    model: nn.Module,
    loss: LossBundle,
    inputs: np.ndarray,
    labels: np.ndarray,
    cfg: TrainConfig,
    out_dir: str | Path | None = None,
    resume: bool = False,
    validate: Validate | None = None,
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
    spec: str = "",
    data_digest: str = "",
    progress: bool = True,
    label: str = "train",
) -> TrainResult:
    """Train ``model`` (or the ``forward`` that uses its parameters) on ``inputs`` with P×K batches.

    ``inputs`` are whatever ``forward`` takes (descriptors, uint8 chips, trunk activations);
    ``labels`` one identity per row. With ``out_dir`` a checkpoint is written after every epoch and
    ``resume`` continues from it. ``validate(model)`` is called after every epoch (its numbers go into
    the history and the curves; nothing is selected by them).
    """
    device = resolve_device(cfg.device)
    if device.type == "cpu" and cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    model.to(device)
    loss.loss.to(device)
    fwd = forward or model
    codes = label_codes(labels)
    params = [p for p in model.parameters() if p.requires_grad] + loss.trainable
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    batches = cfg.batches or max(1, len(inputs) // (cfg.p * cfg.k))
    folder = Path(out_dir) if out_dir else None
    meta = {"config": asdict(cfg), "spec": spec, "data": data_digest}
    history: list[dict[str, float]] = []
    start = 0
    if resume:
        if folder is None or not (folder / "checkpoint.json").exists():
            raise LookalikeError(f"--resume: no checkpoint in {folder}")
        ck = load_checkpoint(folder, model, loss, opt, meta)
        start, history = int(ck["epoch"]), list(ck["history"])
    t0 = time.perf_counter()
    per = cfg.p * cfg.k
    with _progress(progress) as bar:
        task = bar.add_task(label, total=(cfg.epochs - start) * batches, loss=float("nan"), rate=0.0)
        done = 0
        for epoch in range(start, cfg.epochs):
            torch.manual_seed(cfg.seed * 100_003 + epoch)
            model.train()
            order = pk_batches(codes, cfg.p, cfg.k, batches, cfg.seed, epoch)
            te, total = time.perf_counter(), 0.0
            for b in order:
                x = torch.from_numpy(np.ascontiguousarray(inputs[b])).to(device)
                if cfg.flip and x.ndim == 4:
                    flip = torch.rand(len(x)) < 0.5
                    x[flip.to(device)] = torch.flip(x[flip.to(device)], dims=[2])
                y = torch.from_numpy(codes[b]).to(device)
                value = loss(fwd(x), y, x if loss.distill is not None else None)
                opt.zero_grad(set_to_none=True)
                value.backward()
                opt.step()
                total += float(value.detach())
                done += 1
                bar.update(task, advance=1, loss=float(value.detach()),
                           rate=done * per / max(time.perf_counter() - t0, 1e-9))
            model.eval()
            row = {"epoch": epoch + 1, "loss": total / len(order), "seconds": time.perf_counter() - te}
            if validate is not None:
                row.update(validate(model))
            history.append(row)
            if folder is not None:
                save_checkpoint(folder, model, loss, opt, {**meta, "epoch": epoch + 1, "history": history})
    model.eval()
    return TrainResult(model, history, time.perf_counter() - t0, start)


def plot_curves(history: list[dict[str, float]], path: str | Path, title: str) -> Path:
    """Loss (left axis) and every validation number (right axis) per epoch → PNG (atomic)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    ep = [h["epoch"] for h in history]
    ax.plot(ep, [h["loss"] for h in history], "o-", color="tab:red", label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    keys = [k for k in (history[0] if history else {}) if k not in ("epoch", "loss", "seconds")]
    if keys:
        ax2 = ax.twinx()
        for key in keys:
            ax2.plot(ep, [h[key] for h in history], "s--", label=key)
        ax2.set_ylabel("validation")
        ax2.legend(loc="center right", fontsize=8)
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title, fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)
