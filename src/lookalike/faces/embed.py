"""The Embedder protocol and the models that implement it.

An embedder turns aligned face chips — uint8 RGB arrays of shape ``(n, 150, 150, 3)`` — into
float32 descriptors of shape ``(n, dim)``. Every stored embedding records ``Embedder.name``; a
gallery refuses to mix embedders whose names differ, and equal names promise interchangeable vectors.

Registered keys (``load_embedder(key)``, the CLI's ``--embedder``), default order first:

* ``"onnx"`` — dlib's face ResNet run by ONNX Runtime (:class:`~lookalike.faces.fast_embed.OnnxEmbedder`):
  the default where ``onnx`` + ``onnxruntime`` are installed; ~40× dlib's throughput on 2 cores;
* ``"torch"`` — the same network in PyTorch (:class:`~lookalike.faces.fast_embed.TorchResNetEmbedder`),
  on a CUDA GPU when one is present;
* ``"dlib"`` — dlib's own runtime (:class:`DlibResNetEmbedder`), the reference; always available.

All three are named ``"dlib-resnet-v1"``: their descriptors agree to float32 rounding (tested on
500 LFW chips, cosine ≥ 0.9999; see :mod:`lookalike.faces.fast_embed` for what is not bit-exact),
so one gallery may hold vectors from any of them. ``Embedder.runtime`` says which engine ran.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from lookalike.errors import LookalikeError

CHIP_SIZE = 150


@runtime_checkable
class Embedder(Protocol):
    """Batched face-descriptor model."""

    #: stored with every embedding; equal names promise interchangeable vectors
    name: str
    #: descriptor length
    dim: int
    #: True when descriptors are unit-length
    normalized: bool

    def embed(self, chips: np.ndarray) -> np.ndarray:
        """``(n, 150, 150, 3)`` uint8 RGB chips → ``(n, dim)`` float32 descriptors."""
        ...


def check_chips(chips: np.ndarray) -> np.ndarray:
    """Validate a batch of chips and return it as a C-contiguous uint8 array."""
    arr = np.asarray(chips)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
        raise ValueError(f"chips must have shape (n, {CHIP_SIZE}, {CHIP_SIZE}, 3), got {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.uint8)


class DlibResNetEmbedder:
    """dlib's 128-d face ResNet (``dlib_face_recognition_resnet_model_v1.dat``), run by dlib itself.

    Reference implementation: about 80 ms per face on one CPU core here; batching does not help.
    """

    name = "dlib-resnet-v1"
    dim = 128
    normalized = False
    runtime = "dlib"

    def __init__(self, num_jitters: int = 0) -> None:
        import dlib
        import face_recognition_models as frm

        self.num_jitters = int(num_jitters)
        if self.num_jitters:
            self.name = f"dlib-resnet-v1-jitter{self.num_jitters}"
        self._net = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
        self._lock = threading.Lock()  # dlib's net object is not thread-safe

    def embed(self, chips: np.ndarray) -> np.ndarray:
        arr = check_chips(chips)
        if len(arr) == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        with self._lock:
            out = [
                np.asarray(self._net.compute_face_descriptor(c, num_jitters=self.num_jitters), dtype=np.float32)
                for c in arr
            ]
        return np.stack(out)


_EMBEDDERS: dict[str, Callable[[], Embedder]] = {"dlib": DlibResNetEmbedder}
_DEFAULT_ORDER = ["dlib"]


def register_embedder(key: str, factory: Callable[[], Embedder], preferred: bool = False) -> None:
    """Make an embedder available by key; ``preferred`` puts it first in the default order."""
    _EMBEDDERS[key] = factory
    if key not in _DEFAULT_ORDER:
        if preferred:
            _DEFAULT_ORDER.insert(0, key)
        else:
            _DEFAULT_ORDER.append(key)


def available_embedders() -> list[str]:
    """Keys of the registered embedders, default first."""
    return list(_DEFAULT_ORDER)


def load_embedder(key: str | None = None) -> Embedder:
    """Instantiate an embedder by key, or the best available one when ``key`` is None."""
    if key is not None:
        try:
            return _EMBEDDERS[key]()
        except KeyError:
            raise LookalikeError(f"unknown embedder {key!r}; choose one of {available_embedders()}") from None
    errors = []
    for k in _DEFAULT_ORDER:
        try:
            return _EMBEDDERS[k]()
        except (ImportError, LookalikeError) as exc:
            errors.append(f"{k}: {exc}")
    raise LookalikeError("no embedder could be loaded: " + "; ".join(errors))


# ONNX Runtime and PyTorch versions of the same network (lookalike.faces.fast_embed): same
# descriptors, many times faster. The factories import onnxruntime / torch only when called and
# raise MissingDependencyError when they are missing, so load_embedder() falls back to dlib.
def _onnx_factory() -> Embedder:
    from lookalike.faces.fast_embed import OnnxEmbedder

    return OnnxEmbedder()


def _torch_factory() -> Embedder:
    from lookalike.faces.fast_embed import TorchResNetEmbedder

    return TorchResNetEmbedder()


register_embedder("torch", _torch_factory, preferred=True)
register_embedder("onnx", _onnx_factory, preferred=True)  # default order: onnx, torch, dlib
