"""Convert dlib's network file once and keep the result in the user's cache folder.

Layout: ``<cache>/models/<sha256 of the .dat>/weights.npz`` (parameters plus a JSON description
of the layers, read back with ``allow_pickle=False``) and ``model-v*-opset*.onnx`` (the ONNX
graph). ``<cache>`` is :func:`lookalike.settings.cache_dir` (``$LOOKALIKE_CACHE`` or the platform's
user cache folder). Every write
goes to a temporary file in the same folder and is renamed into place, so a crash or a concurrent
process never leaves a half-written file under the final name. A cached file that cannot be read
is converted again.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lookalike.faces.models.dlib_resnet.format import (
    AddPrev,
    Affine,
    Conv,
    DlibNetwork,
    FullyConnected,
    InputRGB,
    LossMetric,
    Pool,
    Relu,
    Skip,
    Tag,
    read_dlib_network,
)
from lookalike.io import atomic_save_npz
from lookalike.settings import cache_dir

CACHE_FORMAT = 1
_META = "__meta__"
_SHA_MEMO: dict[tuple[str, int, int], str] = {}


def default_model_path() -> Path:
    """dlib's face ResNet as shipped by ``face_recognition_models``."""
    import face_recognition_models

    return Path(face_recognition_models.face_recognition_model_location())


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, memoised per (path, size, mtime) within the process."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _SHA_MEMO:
        h = hashlib.sha256()
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        _SHA_MEMO[key] = h.hexdigest()
    return _SHA_MEMO[key]


def model_cache_folder(model_path: str | Path) -> Path:
    """``<cache>/models/<sha256>`` for this network file."""
    return cache_dir() / "models" / file_sha256(model_path)


# --------------------------------------------------------------------------- (de)serialisation


def network_to_arrays(net: DlibNetwork) -> dict[str, np.ndarray]:
    """Parameters plus a JSON layer description, all as plain numeric arrays."""
    layers: list[dict] = []
    for layer in net.layers:
        if isinstance(layer, Conv):
            layers.append({"kind": "conv", "stride": layer.stride, "padding": layer.padding,
                           "bias": layer.bias is not None})  # fmt: skip
        elif isinstance(layer, Affine):
            layers.append({"kind": "affine"})
        elif isinstance(layer, Relu):
            layers.append({"kind": "relu"})
        elif isinstance(layer, Pool):
            layers.append({"kind": "pool", "op": layer.op, "size": layer.size, "stride": layer.stride,
                           "padding": layer.padding})  # fmt: skip
        elif isinstance(layer, AddPrev):
            layers.append({"kind": "add_prev", "tag": layer.tag})
        elif isinstance(layer, Tag):
            layers.append({"kind": "tag", "id": layer.id})
        elif isinstance(layer, Skip):
            layers.append({"kind": "skip", "id": layer.id})
        elif isinstance(layer, FullyConnected):
            layers.append({"kind": "fc", "bias": layer.bias is not None})
        else:  # pragma: no cover - DlibNetwork holds only the types above
            raise TypeError(type(layer).__name__)
    meta = {
        "format": CACHE_FORMAT,
        "input": {"mean": net.input.mean, "size": net.input.size, "scale": net.input.scale},
        "loss": None if net.loss is None else {"margin": net.loss.margin, "dist_thresh": net.loss.dist_thresh},
        "layers": layers,
    }
    arrays = dict(net.arrays())
    arrays[_META] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return arrays


def network_from_arrays(arrays: dict[str, np.ndarray]) -> DlibNetwork:
    """Inverse of :func:`network_to_arrays`."""
    meta = json.loads(bytes(arrays[_META]).decode())
    if meta.get("format") != CACHE_FORMAT:
        raise ValueError(f"cache format {meta.get('format')}, expected {CACHE_FORMAT}")
    inp = meta["input"]
    net = DlibNetwork(input=InputRGB(mean=tuple(inp["mean"]), size=inp["size"], scale=inp["scale"]))
    if meta["loss"] is not None:
        net.loss = LossMetric(**meta["loss"])
    for i, d in enumerate(meta["layers"]):

        def arr(name: str, i: int = i) -> np.ndarray:
            return np.asarray(arrays[f"{i}.{name}"], dtype=np.float32)

        kind = d["kind"]
        if kind == "conv":
            net.layers.append(Conv(weight=arr("weight"), bias=arr("bias") if d["bias"] else None,
                                   stride=tuple(d["stride"]), padding=tuple(d["padding"])))  # fmt: skip
        elif kind == "affine":
            net.layers.append(Affine(gamma=arr("gamma"), beta=arr("beta")))
        elif kind == "relu":
            net.layers.append(Relu())
        elif kind == "pool":
            net.layers.append(Pool(op=d["op"], size=tuple(d["size"]), stride=tuple(d["stride"]),
                                   padding=tuple(d["padding"])))  # fmt: skip
        elif kind == "add_prev":
            net.layers.append(AddPrev(d["tag"]))
        elif kind == "tag":
            net.layers.append(Tag(d["id"]))
        elif kind == "skip":
            net.layers.append(Skip(d["id"]))
        elif kind == "fc":
            net.layers.append(FullyConnected(weight=arr("weight"), bias=arr("bias") if d["bias"] else None))
        else:
            raise ValueError(f"unknown layer kind {kind!r}")
    return net


# --------------------------------------------------------------------------- loading


@dataclass
class LoadedNetwork:
    """A network plus where it came from."""

    net: DlibNetwork
    sha256: str
    from_cache: bool
    folder: Path


def load_network(model_path: str | Path | None = None) -> LoadedNetwork:
    """The parsed network for ``model_path`` (default: dlib's face ResNet), converted at most once."""
    src = Path(model_path) if model_path is not None else default_model_path()
    folder = model_cache_folder(src)
    weights = folder / "weights.npz"
    if weights.exists():
        try:
            with np.load(weights, allow_pickle=False) as data:
                net = network_from_arrays({k: data[k] for k in data.files})
            return LoadedNetwork(net=net, sha256=folder.name, from_cache=True, folder=folder)
        except Exception as exc:  # noqa: BLE001 - any unreadable cache entry is rebuilt
            warnings.warn(f"ignoring unreadable cached weights {weights}: {exc}", stacklevel=2)
    net = read_dlib_network(src)
    arrays = network_to_arrays(net)
    try:
        atomic_save_npz(weights, **arrays)
    except OSError as exc:  # read-only cache: still usable, just not cached
        warnings.warn(f"could not cache converted weights in {folder}: {exc}", stacklevel=2)
    return LoadedNetwork(net=net, sha256=folder.name, from_cache=False, folder=folder)

