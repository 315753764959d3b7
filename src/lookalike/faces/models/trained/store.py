"""Save, list and load trained models; the embedders that run them.

Heads run in NumPy (no PyTorch needed to serve them): base descriptor from the spec's embedder →
``normalize(W (x − μ))`` (linear) or ``normalize(W₂ relu(W₁ z + b₁) + b₂ + S z)`` (MLP). Chip models
(the scratch CNN, the fine-tuned ResNet) need PyTorch.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lookalike.errors import CorruptFileError, LookalikeError, ModelNotFoundError, SpecMismatchError
from lookalike.io import atomic_write_bytes

if TYPE_CHECKING:
    from lookalike.faces.embed import EmbedderCard

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
CARD = "card.json"
WEIGHTS = "model.safetensors"
CARD_VERSION = 1


def models_dir() -> Path:
    """``LOOKALIKE_MODELS`` when set, else ``<data dir>/models``."""
    env = os.environ.get("LOOKALIKE_MODELS")
    if env:
        return Path(env)
    from lookalike.settings import data_dir

    return data_dir() / "models"


@dataclass
class ModelCard:
    """Everything needed to rebuild, trust and compare a trained model."""

    key: str
    architecture: dict[str, Any]  # models.build_model arguments: arch, dim, …
    input: str  # "descriptor" (a head on the spec's base embedder) or "chip"
    spec: dict[str, Any]  # the pipeline spec (recipe) incl. its hash "key"
    base_embedder: str  # name of the base embedder's vectors (heads), e.g. "dlib-resnet-v1"
    loss: dict[str, Any]
    data: dict[str, Any]  # data set, people, photos, folds trained on
    seed: int
    training: dict[str, Any]  # the TrainConfig
    metrics: dict[str, Any] = field(default_factory=dict)
    threshold: float | None = None  # same-person distance chosen on the training data
    created: str = ""
    weights_sha256: str = ""
    version: int = CARD_VERSION

    @property
    def dim(self) -> int:
        return int(self.architecture["dim"])


def _check_key(key: str) -> str:
    if not KEY_RE.match(key):
        raise LookalikeError(f"model key {key!r} must be 1-64 lowercase letters, digits, '.', '_' or '-'")
    return key


def save_model(card: ModelCard, tensors: dict[str, np.ndarray], root: Path | None = None) -> Path:
    """Write ``<root>/<key>/model.safetensors`` then ``card.json`` (atomically each; card last)."""
    from safetensors.numpy import save

    folder = (root or models_dir()) / _check_key(card.key)
    folder.mkdir(parents=True, exist_ok=True)
    blob = save({k: np.ascontiguousarray(v) for k, v in tensors.items()})
    card.weights_sha256 = hashlib.sha256(blob).hexdigest()
    card.created = card.created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    atomic_write_bytes(folder / WEIGHTS, blob)
    atomic_write_bytes(folder / CARD, json.dumps(asdict(card), indent=1).encode())
    return folder


def load_card(key: str, root: Path | None = None) -> tuple[ModelCard, Path]:
    folder = (root or models_dir()) / _check_key(key)
    if not (folder / CARD).is_file():
        raise ModelNotFoundError(f"no trained model {key!r} in {folder.parent} (train one with `lookalike train`, "
                                 "or set LOOKALIKE_MODELS)")
    try:
        raw = json.loads((folder / CARD).read_text())
        card = ModelCard(**raw)
    except (ValueError, TypeError) as exc:
        raise CorruptFileError(f"{folder / CARD} is not a model card: {exc}") from None
    return card, folder


def load_weights(card: ModelCard, folder: Path) -> dict[str, np.ndarray]:
    """The tensors, after checking the file's SHA-256 against the card."""
    from safetensors.numpy import load

    blob = (folder / WEIGHTS).read_bytes()
    if hashlib.sha256(blob).hexdigest() != card.weights_sha256:
        raise CorruptFileError(f"{folder / WEIGHTS} does not match its card (SHA-256 differs)")
    return load(blob)


def list_models(root: Path | None = None) -> list[str]:
    base = root or models_dir()
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / CARD).is_file() and KEY_RE.match(p.name))


# ---------------------------------------------------------------------------------------- embedders
def head_forward(arch: str, w: dict[str, np.ndarray], x: np.ndarray, normalize: bool = False) -> np.ndarray:
    """A head in NumPy (float64 inside, float32 out), same maths as the torch modules."""
    z = np.asarray(x, np.float64) - w["mean"]
    if arch == "linear":
        y = z @ w["proj.weight"].T.astype(np.float64)
    elif arch == "mlp":
        h = np.maximum(z @ w["fc1.weight"].T + w["fc1.bias"], 0.0)
        y = h @ w["fc2.weight"].T + w["fc2.bias"] + z @ w["skip.weight"].T
    else:
        raise LookalikeError(f"{arch!r} is not a head")
    if normalize:
        y = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
    return y.astype(np.float32)


def embedder_card(model: ModelCard) -> EmbedderCard:
    """The registry card of a saved model (known without loading its weights)."""
    from lookalike.faces.embed import EmbedderCard

    arch = model.architecture
    padding = model.spec.get("padding")
    return EmbedderCard(
        name=f"trained-{model.key}@{model.weights_sha256[:12]}", dim=model.dim, chip_size=150,
        chip_padding=float(0.25 if padding is None else padding), metric="euclidean",
        normalized=bool(arch.get("normalize", arch["arch"] == "cnn")),
        threshold=float(model.threshold if model.threshold is not None else 0.6),
        threshold_source=f"best accuracy on sampled pairs of its training people ({model.data.get('dataset')})")


class TrainedEmbedder:
    """A trained model as an :class:`~lookalike.faces.embed.Embedder` (Euclidean distances)."""

    def __init__(self, key: str, root: Path | None = None) -> None:
        self.model, folder = load_card(key, root)
        self.key = key
        self.card = embedder_card(self.model)
        self.dim = self.card.dim
        self.runtime = "numpy" if self.model.input == "descriptor" else "torch"
        self._w = load_weights(self.model, folder)
        self._base: Any = None
        self._torch: Any = None

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def normalized(self) -> bool:
        return self.card.normalized

    @property
    def spec_key(self) -> str:
        return str(self.model.spec.get("key", ""))

    def check_spec(self, spec_key: str) -> None:
        """Raise :class:`SpecMismatchError` unless descriptors made under ``spec_key`` are what the head expects."""
        if spec_key != self.spec_key:
            raise SpecMismatchError(f"model {self.key!r} was trained on descriptors of spec {self.spec_key}, "
                                    f"these come from spec {spec_key}")

    def embed_descriptors(self, x: np.ndarray) -> np.ndarray:
        """Base descriptors (the card's spec) → this model's vectors (heads only)."""
        if self.model.input != "descriptor":
            raise LookalikeError(f"model {self.key!r} takes chips, not descriptors")
        x = np.asarray(x, np.float32)
        if x.ndim != 2 or x.shape[1] != int(self.model.architecture.get("in_dim", 128)):
            raise SpecMismatchError(f"model {self.key!r} expects {self.model.architecture.get('in_dim', 128)}-d "
                                    f"base descriptors, got shape {x.shape}")
        arch = self.model.architecture
        return head_forward(arch["arch"], self._w, x, bool(arch.get("normalize", False)))

    def embed(self, chips: np.ndarray) -> np.ndarray:
        from lookalike.faces.embed import check_chips, load_embedder

        arr = check_chips(chips, self.card.chip_size)
        if self.model.input == "descriptor":
            if self._base is None:
                self._base = load_embedder(self.model.spec.get("embedder", "onnx"))
                if self._base.card.name != self.model.base_embedder:
                    raise SpecMismatchError(f"model {self.key!r} sits on {self.model.base_embedder!r} vectors; "
                                            f"the installed base embedder makes {self._base.card.name!r}")
            return self.embed_descriptors(self._base.embed(arr))
        return self._embed_torch(arr)

    def _embed_torch(self, arr: np.ndarray) -> np.ndarray:
        import torch

        from lookalike.faces.models.trained.nets import from_config

        if self._torch is None:
            model = from_config(self.model.architecture)
            state = {k: torch.from_numpy(v.copy()) for k, v in self._w.items()}
            strict = self.model.architecture["arch"] != "resnet-ft"  # the trunk comes from dlib's file
            if not strict and getattr(model, "base_sha256", None) != self.model.architecture.get("base_sha256"):
                raise SpecMismatchError(f"model {self.key!r} fine-tunes another dlib network file")
            model.load_state_dict(state, strict=strict)
            self._torch = model.eval()
        out = []
        with torch.no_grad():
            for s in range(0, len(arr), 64):
                out.append(self._torch(torch.from_numpy(arr[s : s + 64])).numpy())
        return np.concatenate(out).astype(np.float32) if out else np.empty((0, self.dim), np.float32)


def find_embedder(key: str) -> TrainedEmbedder | None:
    """The trained model saved under ``key``, or None when there is none."""
    if not KEY_RE.match(key) or not (models_dir() / key / CARD).is_file():
        return None
    return TrainedEmbedder(key)


def register_saved(key: str) -> bool:
    """Register the model saved under ``key`` (if any) with the embedder registry; True when found.
    Models saved after start-up (``lookalike train``) register on the first use of their key."""
    from lookalike.faces.embed import register_embedder

    if not KEY_RE.match(key) or not (models_dir() / key / CARD).is_file():
        return False
    model, _ = load_card(key)
    register_embedder(key, embedder_card(model), lambda: TrainedEmbedder(key), requires=None)
    return True


def register() -> None:
    """Register every model in the models folder (called when the registry loads its families)."""
    for key in list_models():
        try:
            register_saved(key)
        except LookalikeError:
            continue  # a damaged card is reported when its key is used
