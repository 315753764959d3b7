"""The three kinds of trainable face model.

* ``linear`` / ``mlp`` — heads on frozen dlib ResNet descriptors (128 → 128 / 64 / 32). Input is
  the base descriptor; a head may start from the PCA of the training descriptors (``init="pca"``),
  so training begins where PCA ends and only has to improve on it. Heads trained with a Euclidean
  loss keep dlib's scale (no normalisation: unit-normalising dlib's descriptors costs about a point
  of LFW accuracy); with a cosine loss (multi-similarity, ArcFace family) they output unit vectors.
* ``cnn`` — a small CNN trained from scratch on aligned chips (32×32 by default): the honest
  baseline, what the source projects built.
* ``resnet-ft`` — dlib's ResNet (ported, :mod:`lookalike.faces.models.dlib_resnet.torch_net`) with its last stage
  (the last two 256-channel residual blocks, the pool and the 256→128 layer) fine-tuned and the
  rest frozen. The frozen trunk's output can be computed once (:meth:`ResNetFineTune.trunk`) and
  the tail trained on it (:meth:`ResNetFineTune.tail`).

Every model has ``config()`` — the JSON-able arguments that rebuild it (:func:`build_model`) — and
``input_kind`` (``"descriptor"`` or ``"chip"``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lookalike.errors import LookalikeError

ARCHS = ("linear", "mlp", "cnn", "resnet-ft")
#: step of the ported dlib network where the fine-tuned tail starts (the tag before the last two
#: 256-channel residual blocks; see ``DlibResNet.kinds``)
RESNET_TAIL_START = 84


def _out(y: torch.Tensor, normalize: bool) -> torch.Tensor:
    return F.normalize(y, dim=1) if normalize else y


def _start_as_pca(mean: torch.Tensor, linear: nn.Linear, x: np.ndarray, dim: int) -> None:
    """Set ``mean`` to the mean of ``x`` and ``linear``'s weight to its top ``dim`` principal directions."""
    m = x.mean(0)
    _, _, vt = np.linalg.svd(x - m, full_matrices=False)
    with torch.no_grad():
        mean.copy_(torch.from_numpy(m.astype(np.float32)))
        linear.weight.copy_(torch.from_numpy(vt[:dim].astype(np.float32)))


class LinearHead(nn.Module):
    """``W (x − μ)`` (unit-normalised when ``normalize``): a projection of the base descriptor."""

    input_kind = "descriptor"

    def __init__(self, in_dim: int = 128, dim: int = 32, normalize: bool = False) -> None:
        super().__init__()
        self.in_dim, self.dim, self.normalize = in_dim, dim, bool(normalize)
        self.register_buffer("mean", torch.zeros(in_dim))
        self.proj = nn.Linear(in_dim, dim, bias=False)

    def init_pca(self, x: np.ndarray) -> None:
        """Start as the PCA projection of ``x`` (the training descriptors)."""
        _start_as_pca(self.mean, self.proj, x, self.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _out(self.proj(x - self.mean), self.normalize)

    def config(self) -> dict[str, Any]:
        return {"arch": "linear", "in_dim": self.in_dim, "dim": self.dim, "normalize": self.normalize}


class MlpHead(nn.Module):
    """``W₂ relu(W₁ z + b₁) + b₂ + P z`` with ``z = x − μ``: a small MLP with a linear skip."""

    input_kind = "descriptor"

    def __init__(self, in_dim: int = 128, dim: int = 32, hidden: int = 256, normalize: bool = False) -> None:
        super().__init__()
        self.in_dim, self.dim, self.hidden, self.normalize = in_dim, dim, hidden, bool(normalize)
        self.register_buffer("mean", torch.zeros(in_dim))
        self.fc1 = nn.Linear(in_dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.skip = nn.Linear(in_dim, dim, bias=False)

    def init_pca(self, x: np.ndarray) -> None:
        """Start as the PCA projection of ``x`` through the skip, the MLP branch nearly silent."""
        _start_as_pca(self.mean, self.skip, x, self.dim)
        with torch.no_grad():
            self.fc2.weight.mul_(0.01)
            self.fc2.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x - self.mean
        return _out(self.fc2(F.relu(self.fc1(z))) + self.skip(z), self.normalize)

    def config(self) -> dict[str, Any]:
        return {"arch": "mlp", "in_dim": self.in_dim, "dim": self.dim, "hidden": self.hidden,
                "normalize": self.normalize}


class SmallCNN(nn.Module):
    """Four conv–BN–ReLU–pool blocks (16, 32, 64, 128 channels by default), global average pool, linear → ``dim``.

    Takes uint8 NHWC RGB chips of ``size`` pixels (chips of another size are resized).
    """

    input_kind = "chip"

    def __init__(self, dim: int = 128, size: int = 32, width: int = 16) -> None:
        super().__init__()
        self.dim, self.size, self.width = dim, size, width
        layers: list[nn.Module] = []
        c_in = 3
        for i in range(4):
            c = width * 2**i
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                       nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, dim)

    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        x = chips.permute(0, 3, 1, 2).to(torch.float32) / 127.5 - 1.0
        if x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
        x = self.features(x).mean(dim=(2, 3))
        return F.normalize(self.fc(x), dim=1)

    def config(self) -> dict[str, Any]:
        return {"arch": "cnn", "dim": self.dim, "size": self.size, "width": self.width}


def _run_steps(net: nn.Module, x: torch.Tensor, start: int, end: int) -> torch.Tensor:
    """Run steps ``start:end`` of a ported dlib network (tags defined inside the range only)."""
    from lookalike.faces.models.dlib_resnet.torch_net import run_steps

    return run_steps(net.kinds[start:end], net.steps[start:end], x)


class ResNetFineTune(nn.Module):
    """dlib's ResNet with the steps from ``tail_start`` on trainable; dlib's scale (not normalised)."""

    input_kind = "chip"

    def __init__(self, tail_start: int = RESNET_TAIL_START) -> None:
        super().__init__()
        from lookalike.faces.models.dlib_resnet.torch_net import DlibResNet
        from lookalike.faces.models.dlib_resnet.weights import load_network

        loaded = load_network(None)
        self.base_sha256 = loaded.sha256
        self.net = DlibResNet(loaded.net)
        self.tail_start = int(tail_start)
        self.dim = self.net.output_dim
        for p in self.net.parameters():
            p.requires_grad_(False)
        for p in self.net.steps[self.tail_start :].parameters():
            p.requires_grad_(True)

    def trunk(self, chips: torch.Tensor) -> torch.Tensor:
        """Frozen part: uint8 chips → the activation the tail starts from."""
        with torch.no_grad():
            return _run_steps(self.net, self.net.input(chips), 0, self.tail_start)

    def tail(self, act: torch.Tensor) -> torch.Tensor:
        return _run_steps(self.net, act, self.tail_start, len(self.net.steps))

    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        return self.tail(self.trunk(chips))

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """Only the tail's tensors (the trunk is dlib's, rebuilt from its own file)."""
        names = {n for n, p in self.named_parameters() if p.requires_grad}
        return {k: v for k, v in self.state_dict().items() if k in names or k.startswith(
            tuple(f"net.steps.{i}." for i in range(self.tail_start, len(self.net.steps))))}

    def config(self) -> dict[str, Any]:
        return {"arch": "resnet-ft", "tail_start": self.tail_start, "dim": self.dim,
                "base_sha256": self.base_sha256}


def build_model(arch: str, dim: int = 32, **kw: Any) -> nn.Module:
    """A fresh model of ``arch`` (see :data:`ARCHS`) with ``dim``-d output."""
    if arch == "linear":
        return LinearHead(kw.get("in_dim", 128), dim, kw.get("normalize", False))
    if arch == "mlp":
        return MlpHead(kw.get("in_dim", 128), dim, kw.get("hidden", 256), kw.get("normalize", False))
    if arch == "cnn":
        return SmallCNN(dim, kw.get("size", 32), kw.get("width", 16))
    if arch == "resnet-ft":
        m = ResNetFineTune(kw.get("tail_start", RESNET_TAIL_START))
        if dim != m.dim:
            raise LookalikeError(f"the fine-tuned ResNet keeps dlib's {m.dim} dimensions, not {dim}")
        return m
    raise LookalikeError(f"unknown architecture {arch!r}; choose one of {list(ARCHS)}")


def from_config(cfg: dict[str, Any]) -> nn.Module:
    cfg = dict(cfg)
    return build_model(cfg.pop("arch"), cfg.pop("dim"), **cfg)


def saved_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The tensors a saved model needs (all of them, or the tail of a fine-tuned ResNet)."""
    if isinstance(model, ResNetFineTune):
        return model.trainable_state()
    return model.state_dict()
