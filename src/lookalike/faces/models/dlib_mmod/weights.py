"""Read ``mmod_human_face_detector.dat`` once, keep the folded weights in the model cache.

The cache entry is ``<cache>/models/<sha256 of the .dat>/mmod-weights-v1.npz``: the convolutions
with each ``affine`` (dlib's frozen batch-norm) folded in, plus a JSON description of the input
pyramid and the ``loss_mmod`` settings, read back with ``allow_pickle=False``. Written atomically;
an unreadable entry is rebuilt.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lookalike.errors import CorruptFileError
from lookalike.faces.models.dlib_mmod._dlib import (
    Conv,
    DetectorWindow,
    InputRGBPyramid,
    LossMMOD,
    Relu,
    atomic_write,
    fold_affine,
    model_cache_folder,
    parse_network,
)
from lookalike.faces.models.dlib_mmod.arch import mmod_face_detector

WEIGHTS_VERSION = 1
_META = "__meta__"


def default_model_path() -> Path:
    """dlib's CNN face detector as shipped by ``face_recognition_models``."""
    import face_recognition_models

    return Path(face_recognition_models.cnn_face_detector_model_location())


@dataclass(frozen=True)
class ConvSpec:
    """One convolution with its batch-norm folded in, optionally followed by a ReLU."""

    weight: np.ndarray  # (out, in, k, k) float32
    bias: np.ndarray  # (out,) float32
    stride: int
    padding: int
    relu: bool

    @property
    def kernel(self) -> int:
        return int(self.weight.shape[-1])


@dataclass(frozen=True)
class MMODModel:
    """Everything needed to run the detector: input settings, convolutions, loss settings."""

    input: InputRGBPyramid
    convs: tuple[ConvSpec, ...]
    loss: LossMMOD
    sha256: str
    folder: Path


def read_mmod_file(path: str | Path) -> tuple[InputRGBPyramid, tuple[ConvSpec, ...], LossMMOD]:
    """Parse a dlib MMOD detector file laid out as :func:`mmod_face_detector`."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise CorruptFileError(f"{p}: cannot read dlib detector file: {exc}") from exc
    net = parse_network(
        data, mmod_face_detector(), str(p), what=("MMOD face detector", "mmod_human_face_detector.dat")
    )
    assert isinstance(net.input, InputRGBPyramid) and isinstance(net.loss, LossMMOD)
    convs: list[ConvSpec] = []
    layers = fold_affine(net).layers
    for i, layer in enumerate(layers):
        if isinstance(layer, Conv):
            relu = i + 1 < len(layers) and isinstance(layers[i + 1], Relu)
            bias = layer.bias if layer.bias is not None else np.zeros(layer.weight.shape[0], np.float32)
            if layer.stride[0] != layer.stride[1] or layer.padding[0] != layer.padding[1]:
                raise CorruptFileError(f"{p}: non-square convolution settings are not supported")
            convs.append(ConvSpec(layer.weight, bias, layer.stride[0], layer.padding[0], relu))
    if net.loss.use_bbr or convs[-1].weight.shape[0] != len(net.loss.windows):
        raise CorruptFileError(
            f"{p}: detector output channels do not match its {len(net.loss.windows)} windows"
        )
    return net.input, tuple(convs), net.loss


def _to_arrays(inp: InputRGBPyramid, convs: tuple[ConvSpec, ...], loss: LossMMOD) -> dict[str, np.ndarray]:
    meta = {
        "version": WEIGHTS_VERSION,
        "input": {
            "mean": inp.mean,
            "padding": inp.padding,
            "outer_padding": inp.outer_padding,
            "pyramid_n": inp.pyramid_n,
            "scale": inp.scale,
        },
        "convs": [{"stride": c.stride, "padding": c.padding, "relu": c.relu} for c in convs],
        "loss": {
            "windows": [[w.width, w.height, w.label] for w in loss.windows],
            "nms_iou": loss.nms_iou,
            "nms_covered": loss.nms_covered,
            "use_bbr": loss.use_bbr,
            "assume_image_pyramid": loss.assume_image_pyramid,
        },
    }
    arrays = {_META: np.frombuffer(json.dumps(meta).encode(), np.uint8)}
    for i, c in enumerate(convs):
        arrays[f"{i}.weight"], arrays[f"{i}.bias"] = c.weight, c.bias
    return arrays


def _from_arrays(arrays: dict[str, np.ndarray]) -> tuple[InputRGBPyramid, tuple[ConvSpec, ...], LossMMOD]:
    meta = json.loads(bytes(arrays[_META]).decode())
    if meta.get("version") != WEIGHTS_VERSION:
        raise ValueError(f"cache version {meta.get('version')}, expected {WEIGHTS_VERSION}")
    i = meta["input"]
    inp = InputRGBPyramid(tuple(i["mean"]), i["padding"], i["outer_padding"], i["pyramid_n"], i["scale"])
    convs = tuple(
        ConvSpec(
            np.asarray(arrays[f"{k}.weight"], np.float32),
            np.asarray(arrays[f"{k}.bias"], np.float32),
            d["stride"],
            d["padding"],
            d["relu"],
        )
        for k, d in enumerate(meta["convs"])
    )
    lo = meta["loss"]
    loss = LossMMOD(tuple(DetectorWindow(w, h, lab) for w, h, lab in lo["windows"]), lo["nms_iou"],
                    lo["nms_covered"], lo["use_bbr"], lo["assume_image_pyramid"])  # fmt: skip
    return inp, convs, loss


def load_mmod(model_path: str | Path | None = None) -> MMODModel:
    """The detector in ``model_path`` (default: dlib's), converted at most once per cache."""
    src = Path(model_path) if model_path is not None else default_model_path()
    folder = model_cache_folder(src)
    target = folder / f"mmod-weights-v{WEIGHTS_VERSION}.npz"
    if target.exists():
        try:
            with np.load(target, allow_pickle=False) as data:
                parts = _from_arrays({k: data[k] for k in data.files})
            return MMODModel(*parts, sha256=folder.name, folder=folder)
        except Exception as exc:  # noqa: BLE001 - any unreadable cache entry is rebuilt
            warnings.warn(f"ignoring unreadable cached detector weights {target}: {exc}", stacklevel=2)
    parts = read_mmod_file(src)
    arrays = _to_arrays(*parts)

    def write(tmp: Path) -> None:
        with tmp.open("wb") as fh:
            np.savez(fh, **arrays)

    try:
        atomic_write(target, write, suffix=".npz")
    except OSError as exc:  # read-only cache: still usable, just not cached
        warnings.warn(f"could not cache converted detector weights in {folder}: {exc}", stacklevel=2)
    return MMODModel(*parts, sha256=folder.name, folder=folder)
