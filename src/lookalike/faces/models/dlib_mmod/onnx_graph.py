"""The detector's convolutions as an ONNX graph (built from the cached weights, no PyTorch needed).

Input ``tiled``: the ``(1, 3, rows, cols)`` float32 tiled pyramid (see :mod:`.pyramid`), rows and
columns dynamic; output ``scores``: ``(1, windows, rows', cols')``. The file is written once,
atomically, into the model's cache folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lookalike.errors import MissingDependencyError
from lookalike.faces.models.dlib_mmod._dlib import atomic_write
from lookalike.faces.models.dlib_mmod.weights import MMODModel

ONNX_OPSET = 17
#: bump when the graph built here changes, so stale cached files are not reused
GRAPH_VERSION = 1
INPUT_NAME = "tiled"
OUTPUT_NAME = "scores"


def onnx_path(model: MMODModel) -> Path:
    """Path of the cached ONNX file for this detector, building it first if needed."""
    target = model.folder / f"mmod-v{GRAPH_VERSION}-opset{ONNX_OPSET}.onnx"
    if not target.exists():
        export_onnx(model, target)
    return target


def build_onnx(model: MMODModel):
    """The ``onnx.ModelProto``: Conv (+ Relu) per layer."""
    try:
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise MissingDependencyError("onnx", "fast", "building the face detector's ONNX graph") from None
    nodes, inits = [], []
    x = INPUT_NAME
    for i, c in enumerate(model.convs):
        w, b = f"w{i}", f"b{i}"
        inits += [numpy_helper.from_array(np.ascontiguousarray(c.weight), w),
                  numpy_helper.from_array(np.ascontiguousarray(c.bias), b)]  # fmt: skip
        out = f"conv{i}"
        k, s, p = c.kernel, c.stride, c.padding
        nodes.append(helper.make_node("Conv", [x, w, b], [out], name=out, kernel_shape=[k, k], strides=[s, s],
                                      pads=[p, p, p, p]))  # fmt: skip
        x = out
        if c.relu:
            nodes.append(helper.make_node("Relu", [x], [f"relu{i}"], name=f"relu{i}"))
            x = f"relu{i}"
    nodes.append(helper.make_node("Identity", [x], [OUTPUT_NAME], name="output"))
    n_out = model.convs[-1].weight.shape[0]
    graph = helper.make_graph(
        nodes,
        "dlib_mmod_face_detector",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [1, 3, "rows", "cols"])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [1, n_out, "out_rows", "out_cols"])],
        initializer=inits,
    )
    onnx_model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)], producer_name="lookalike"
    )
    onnx_model.ir_version = 8  # readable by every onnxruntime ≥ 1.14
    return onnx_model


def export_onnx(model: MMODModel, target: Path) -> Path:
    """Build the graph, check it and write it atomically to ``target``."""
    import onnx

    proto = build_onnx(model)
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    return atomic_write(target, lambda tmp: tmp.write_bytes(data), suffix=".onnx")


class OnnxRunner:
    """Runs the graph with ONNX Runtime on the CPU, ``threads`` intra-op threads (default: all cores)."""

    runtime = "onnxruntime"

    def __init__(self, model: MMODModel, threads: int | None = None, spin: bool = False) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise MissingDependencyError("onnxruntime", "fast", "the ONNX Runtime face detector") from None
        from lookalike.faces.models.dlib_mmod._dlib import cpu_session_options, default_threads

        self.threads = threads or default_threads()
        opts = cpu_session_options(ort, self.threads, spin)
        path = onnx_path(model)
        try:
            self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception:  # noqa: BLE001 - a damaged cached graph: build it again, once
            export_onnx(model, path)
            self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def __call__(self, tiled: np.ndarray) -> np.ndarray:
        """``(1, 3, rows, cols)`` → ``(windows, rows', cols')`` scores."""
        return self._session.run(None, {INPUT_NAME: tiled})[0][0]
