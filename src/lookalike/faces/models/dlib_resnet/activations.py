"""Features that still carry expression: pooled intermediate activations of the ported dlib ResNet.

dlib's 128-d descriptor is trained to ignore expression, pose and lighting. Earlier in the same
network the activations still describe the face's shape locally: the output of the first residual
stage (64 channels at 17×17) and of the second (128 channels at 8×8), each average-pooled to a 4×4
grid so *where* on the face something changes (mouth, eyes) is kept. Concatenated: 64·16 + 128·16
= 3,072 numbers per aligned 150×150 chip. Which steps: the ReLU after the last ``add_prev`` of each
stage in :class:`~lookalike.faces.models.dlib_resnet.torch_net.DlibResNet` (steps 47 and 68).

These are inputs for a trained attribute embedding (:mod:`lookalike.training.attributes`), not a
descriptor to search with on their own.
"""

from __future__ import annotations

import threading

import numpy as np

#: (step of the ported network, side of the pooled grid): ends of the 64- and 128-channel stages
DEFAULT_TAPS: tuple[tuple[int, int], ...] = ((47, 4), (68, 4))

_lock = threading.Lock()
_model: object | None = None


def _network() -> object:
    global _model
    with _lock:
        if _model is None:
            from lookalike.faces.models.dlib_resnet.torch_net import build_model
            from lookalike.faces.models.dlib_resnet.weights import load_network

            _model = build_model(load_network(None).net)
    return _model


def taps_key(taps: tuple[tuple[int, int], ...] = DEFAULT_TAPS) -> str:
    """A short name of the taps (part of cache keys)."""
    return "-".join(f"s{s}g{g}" for s, g in taps)


def activation_features(chips: np.ndarray, taps: tuple[tuple[int, int], ...] = DEFAULT_TAPS,
                        batch: int = 32) -> np.ndarray:
    """``(n, d)`` float32: each tap's activation average-pooled to a ``g×g`` grid, flattened, concatenated."""
    import torch

    net = _network()
    want = dict(taps)
    n = len(chips)
    if n == 0:
        return np.empty((0, 0), np.float32)
    out: list[np.ndarray] = []
    with torch.no_grad():
        for s in range(0, n, batch):
            x = net.input(torch.from_numpy(np.ascontiguousarray(chips[s: s + batch], dtype=np.uint8)))  # type: ignore[attr-defined]
            out.append(_pooled_taps(net, x, want).numpy())
    return np.concatenate(out).astype(np.float32)


def _pooled_taps(net: object, x: object, want: dict[int, int]) -> object:
    """One batch through the network up to its last tap; each tap average-pooled, flattened, concatenated."""
    import torch
    import torch.nn.functional as F

    from lookalike.faces.models.dlib_resnet.torch_net import run_steps

    parts: list[torch.Tensor] = []

    def tap(i: int, t: torch.Tensor) -> None:
        if i in want:
            parts.append(F.adaptive_avg_pool2d(t, want[i]).flatten(1))

    run_steps(net.kinds, net.steps, x, visit=tap, stop=max(want))  # type: ignore[attr-defined]
    return torch.cat(parts, dim=1)
