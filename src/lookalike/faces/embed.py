"""The Embedder protocol, the card each model declares, and the registry that finds models by key.

An embedder turns aligned face chips — uint8 RGB arrays of shape ``(n, S, S, 3)`` with ``S`` its
card's ``chip_size`` — into float32 descriptors of shape ``(n, dim)``. Every stored embedding records
``card.name``; a gallery refuses to mix embedders whose names differ, and equal names promise
interchangeable vectors.

A model family lives in its own sub-package of :mod:`lookalike.faces.models` and registers its keys
there with :func:`register_embedder` (one line in ``faces/models/__init__.py``): nothing else in
lookalike changes for a new model. Built-in keys, default order first:

* ``"onnx"`` — dlib's face ResNet run by ONNX Runtime (the default where onnxruntime is installed);
* ``"torch"`` — the same network in PyTorch, on a CUDA GPU when one is present;
* ``"dlib"`` — dlib's own runtime, the reference; always available.

All three are named ``"dlib-resnet-v1"``: their descriptors agree to float32 rounding (see
:mod:`lookalike.faces.models.dlib_resnet.embedders`).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from lookalike.errors import LookalikeError

Metric = Literal["euclidean", "cosine"]


@dataclass(frozen=True)
class EmbedderCard:
    """What a model needs and promises, known without loading it.

    ``metric="cosine"`` models get unit-length vectors from the pipeline, so every index and
    threshold downstream still works on Euclidean distance (monotone in cosine on the sphere).
    ``threshold`` is the same-person Euclidean distance the model ships with, until
    ``lookalike calibrate`` measures one; ``threshold_source`` says where it comes from.
    """

    name: str
    dim: int
    chip_size: int
    chip_padding: float
    metric: Metric = "euclidean"
    normalized: bool = False
    threshold: float = 0.6
    threshold_source: str = ""


@runtime_checkable
class Embedder(Protocol):
    """Batched face-descriptor model."""

    #: what the model needs and promises (name, dim, chip size and padding, metric, threshold)
    card: EmbedderCard

    def embed(self, chips: np.ndarray) -> np.ndarray:
        """``(n, S, S, 3)`` uint8 RGB chips → ``(n, dim)`` float32 descriptors."""
        ...


def check_chips(chips: np.ndarray, size: int) -> np.ndarray:
    """Validate a batch of ``size``×``size`` chips and return it as a C-contiguous uint8 array."""
    arr = np.asarray(chips)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[1:] != (size, size, 3):
        raise ValueError(f"chips must have shape (n, {size}, {size}, 3), got {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.uint8)


@dataclass(frozen=True)
class _Entry:
    card: EmbedderCard
    factory: Callable[[], Embedder]
    requires: str | None  # the optional module the factory imports, if any


_EMBEDDERS: dict[str, _Entry] = {}
_DEFAULT_ORDER: list[str] = []
_BUILTINS_LOADED = [False]


def register_embedder(key: str, card: EmbedderCard, factory: Callable[[], Embedder],
                      preferred: bool = False, requires: str | None = None) -> None:
    """Make an embedder available by key.

    ``preferred`` puts it first in the default order; ``requires`` names the optional module its
    factory imports, so :func:`default_embedder_key` skips it where that module is missing.
    """
    _EMBEDDERS[key] = _Entry(card, factory, requires)
    if key in _DEFAULT_ORDER:
        _DEFAULT_ORDER.remove(key)
    _DEFAULT_ORDER.insert(0, key) if preferred else _DEFAULT_ORDER.append(key)


def _builtins() -> None:
    if not _BUILTINS_LOADED[0]:
        _BUILTINS_LOADED[0] = True
        importlib.import_module("lookalike.faces.models")  # registers every bundled model family


def available_embedders() -> list[str]:
    """Keys of the registered embedders, default first."""
    _builtins()
    return list(_DEFAULT_ORDER)


def embedder_card(key: str) -> EmbedderCard:
    """The card of a registered embedder (no model is loaded)."""
    _builtins()
    if key not in _EMBEDDERS:
        _saved(key)
    try:
        return _EMBEDDERS[key].card
    except KeyError:
        raise LookalikeError(f"unknown embedder {key!r}; choose one of {available_embedders()}") from None


def load_embedder(key: str | None = None) -> Embedder:
    """Instantiate an embedder by key, or the first one of the default order that loads."""
    _builtins()
    if key is not None:
        return _EMBEDDERS[key].factory() if key in _EMBEDDERS or _saved(key) else _unknown(key)
    errors = []
    for k in _DEFAULT_ORDER:
        try:
            return _EMBEDDERS[k].factory()
        except (ImportError, LookalikeError) as exc:
            errors.append(f"{k}: {exc}")
    raise LookalikeError("no embedder could be loaded: " + "; ".join(errors))


def default_embedder_key() -> str:
    """The first key of the default order whose runtime package is installed (``"onnx"`` normally)."""
    _builtins()
    for k in _DEFAULT_ORDER:
        need = _EMBEDDERS[k].requires
        if need is None or importlib.util.find_spec(need) is not None:
            return k
    raise LookalikeError("no embedder is registered")


def _saved(key: str) -> bool:
    """A model saved by ``lookalike train`` after the registry loaded: register it now (True if found)."""
    from lookalike.faces.models.trained import register_saved

    return register_saved(key)


def _unknown(key: str) -> Embedder:
    raise LookalikeError(f"unknown embedder {key!r}; choose one of {available_embedders()}")
