"""An attribute embedding (expression, glasses, …) trained with triplet loss on features that carry it.

Inputs: :func:`~lookalike.faces.models.dlib_resnet.activations.activation_features` of the aligned
chips of ``FacePipeline(spec)`` — the served pipeline's faces — cached per spec
(``<cache>/compose/features-<spec key>-<taps>.npz``, read with ``allow_pickle=False``).

Model: standardise (training mean and spread) → PCA whitened to at most 64 dimensions (fitted on the
training photos, at most half as many dimensions as photos) → :class:`~lookalike.faces.models.trained.nets.MlpHead` to 16 unit-length
dimensions, started as PCA, trained by :func:`lookalike.training.loop.train` on P×K batches (P =
every attribute value, K = 8 photos) with pytorch-metric-learning's triplet margin loss (margin 0.2
on unit vectors, semi-hard triplets) — triplet loss, as the source did. The labels it trains on are
the attribute values, never the people.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lookalike.errors import MissingDependencyError, TrainingDataError
from lookalike.faces.spec import PipelineSpec
from lookalike.io import atomic_save_npz
from lookalike.settings import cache_dir


@dataclass(frozen=True)
class AttributeConfig:
    """How an attribute embedding is fitted (every field fixed in advance, none tuned on a test set)."""

    pca: int = 64
    #: and at most this share of the training photos (a whitened PCA with about as many dimensions as
    #: photos blows up its weakest directions, which a new person's photo then mostly lives in)
    pca_share: float = 0.5
    dim: int = 16
    hidden: int = 64
    epochs: int = 30
    k: int = 8
    margin: float = 0.2
    lr: float = 3e-3
    seed: int = 0


def unit(x: np.ndarray) -> np.ndarray:
    """Rows (or a vector) scaled to length 1 (zero stays zero)."""
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


# -------------------------------------------------------------------------------------------- inputs
def _load(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        return {}
    try:
        with np.load(path, allow_pickle=False) as z:
            return dict(zip((str(p) for p in z["paths"]), z["features"]))
    except (OSError, ValueError, KeyError, EOFError):
        return {}  # a cache is disposable


def attribute_features(paths: Sequence[str | Path], spec: PipelineSpec, workers: int = 0) -> np.ndarray:
    """``(n, 3072)`` float32 pooled activations of each labelled photo's face (cached per spec)."""
    from lookalike.faces.models.dlib_resnet.activations import DEFAULT_TAPS, activation_features, taps_key
    from lookalike.training.chips import chips_for

    keys = [str(p) for p in paths]
    file = cache_dir() / "compose" / f"features-{spec.key}-{taps_key(DEFAULT_TAPS)}.npz"
    table = _load(file)
    missing = sorted(set(keys) - set(table))
    if missing:
        chips = chips_for(missing, spec, spec.card.chip_size, workers)
        table.update(zip(missing, activation_features(chips)))
        names = sorted(table)
        atomic_save_npz(file, paths=np.array(names, dtype=str), features=np.stack([table[k] for k in names]))
    if not keys:
        return np.empty((0, 0), np.float32)
    return np.stack([table[k] for k in keys]).astype(np.float32)


# ------------------------------------------------------------------------------------------- model
@dataclass
class AttributeModel:
    """Standardise → whitened PCA → trained head → unit vectors."""

    mean: np.ndarray
    scale: np.ndarray
    pca_mean: np.ndarray
    components: np.ndarray  # (p, d)
    spread: np.ndarray  # (p,)
    head: object  # torch module
    config: AttributeConfig
    values: list[str]

    def reduce(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, np.float64) - self.mean) / self.scale
        return ((z - self.pca_mean) @ self.components.T / self.spread).astype(np.float32)

    def embed(self, x: np.ndarray) -> np.ndarray:
        """``(n, dim)`` unit attribute vectors of feature rows."""
        import torch

        if len(x) == 0:
            return np.empty((0, self.head.dim), np.float64)  # type: ignore[attr-defined]
        with torch.no_grad():
            y = self.head(torch.from_numpy(self.reduce(x)))  # type: ignore[operator]
        return unit(y.numpy())


def require_training_stack() -> None:
    """PyTorch and pytorch-metric-learning, or a typed error naming the extra that installs them."""
    try:
        import torch  # noqa: F401

        from lookalike.training.pml import load_pml

        load_pml()
    except ImportError as e:
        raise MissingDependencyError(e.name or "pytorch-metric-learning", "train", "composed queries") from None


def fit_attribute_model(features: np.ndarray, values: Sequence[str], config: AttributeConfig | None = None
                        ) -> AttributeModel:
    """Fit the attribute embedding on feature rows labelled with attribute values (≥ 2 values, each ≥ 2 photos)."""
    require_training_stack()
    import torch
    from pytorch_metric_learning import losses, miners

    from lookalike.faces.models.trained.nets import MlpHead
    from lookalike.training.loop import TrainConfig, train
    from lookalike.training.losses import LossBundle

    cfg = config or AttributeConfig()
    labels = np.asarray(values, dtype=str)
    names, counts = np.unique(labels, return_counts=True)
    if len(names) < 2 or (counts < 2).any():
        raise TrainingDataError(
            f"an attribute embedding needs at least two values with two or more photos each; got "
            f"{dict(zip(names.tolist(), counts.tolist()))}")
    x = np.asarray(features, np.float64)
    mean, scale = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / scale
    pmean = z.mean(0)
    _, s, vt = np.linalg.svd(z - pmean, full_matrices=False)
    p = int(max(2, min(cfg.pca, int(cfg.pca_share * len(z)), len(z) - 1, z.shape[1])))
    spread = np.maximum(s[:p] / np.sqrt(max(len(z) - 1, 1)), 1e-6)
    model = AttributeModel(mean, scale, pmean, vt[:p], spread, None, cfg, names.tolist())
    reduced = model.reduce(x)
    torch.manual_seed(cfg.seed)
    head = MlpHead(p, min(cfg.dim, p), cfg.hidden, normalize=True)
    head.init_pca(reduced)
    bundle = LossBundle("triplet-semihard", losses.TripletMarginLoss(margin=cfg.margin),
                        miners.TripletMarginMiner(margin=cfg.margin, type_of_triplets="semihard"),
                        {"margin": cfg.margin}, cosine=True)
    tcfg = TrainConfig(arch="mlp", dim=min(cfg.dim, p), loss="triplet-semihard", epochs=cfg.epochs, p=len(names), k=cfg.k,
                       lr=cfg.lr, seed=cfg.seed, device="cpu")
    model.head = train(head, bundle, reduced, labels, tcfg, progress=False, label="attribute").model
    return model


def config_dict(cfg: AttributeConfig) -> dict[str, object]:
    return asdict(cfg)


def model_arrays(model: AttributeModel) -> dict[str, np.ndarray]:
    """The fitted model as plain arrays (saved with ``np.savez``, read back with ``allow_pickle=False``)."""
    head = {f"head.{k}": v.detach().cpu().numpy() for k, v in model.head.state_dict().items()}  # type: ignore[attr-defined]
    return {"mean": model.mean, "scale": model.scale, "pca_mean": model.pca_mean, "components": model.components,
            "spread": model.spread, "values": np.array(model.values, dtype=str), **head}


def model_from_arrays(arrays: dict[str, np.ndarray], config: AttributeConfig | None = None) -> AttributeModel:
    """Rebuild a model saved by :func:`model_arrays` (the head's shape read from its weights)."""
    import torch

    from lookalike.faces.models.trained.nets import MlpHead

    cfg = config or AttributeConfig()
    state = {k[5:]: torch.from_numpy(np.asarray(v)) for k, v in arrays.items() if k.startswith("head.")}
    hidden, p = state["fc1.weight"].shape
    head = MlpHead(int(p), int(state["fc2.weight"].shape[0]), int(hidden), normalize=True)
    head.load_state_dict(state)
    head.eval()
    return AttributeModel(arrays["mean"], arrays["scale"], arrays["pca_mean"], arrays["components"], arrays["spread"],
                          head, cfg, [str(v) for v in arrays["values"]])
