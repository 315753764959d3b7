"""dlib's face ResNet as an ONNX graph, built straight from the parsed weights (no PyTorch needed).

The graph takes the chips exactly as the :class:`~lookalike.faces.embed.Embedder` protocol does —
``(n, 150, 150, 3)`` uint8 RGB, ``n`` dynamic — and returns ``(n, 128)`` float32 descriptors. It
does dlib's input scaling itself, folds each ``affine`` layer into the convolution before it
(:func:`~lookalike.faces.models.dlib_resnet.format.fold_affine`) and wires tag / skip / add_prev as dlib does:
``add_prev`` zero-pads the smaller operand at the end of the channel, row and column axes.

Only the ``onnx`` package is needed to build it and only ``onnxruntime`` to run it, so a server
can use the fast embedder without installing PyTorch. The file is written once, atomically, into
the model's cache folder (see :mod:`lookalike.faces.models.dlib_resnet.weights`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lookalike.errors import MissingDependencyError
from lookalike.faces.models.dlib_resnet.format import (
    AddPrev,
    Conv,
    DlibNetwork,
    FullyConnected,
    Pool,
    Relu,
    Skip,
    Tag,
    fold_affine,
)
from lookalike.faces.models.dlib_resnet.weights import LoadedNetwork
from lookalike.io import atomic_write

ONNX_OPSET = 17
#: bump when the graph built here changes, so stale cached files are not reused
GRAPH_VERSION = 2
INPUT_NAME = "chips"
OUTPUT_NAME = "descriptors"

Shape = tuple[int, int, int]  # (channels, rows, columns)


def onnx_path(loaded: LoadedNetwork) -> Path:
    """Path of the cached ONNX file for this network, building it first if needed."""
    target = loaded.folder / f"model-v{GRAPH_VERSION}-opset{ONNX_OPSET}.onnx"
    if not target.exists():
        export_onnx(loaded, target)
    return target


def export_onnx(loaded: LoadedNetwork, target: Path) -> Path:
    """Build the graph for ``loaded.net``, check it and write it atomically to ``target``."""
    try:
        import onnx
    except ImportError:
        raise MissingDependencyError("onnx", "fast", "building the face network's ONNX graph") from None
    model = build_onnx(loaded.net)
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    return atomic_write(target, lambda tmp: tmp.write_bytes(data), suffix=".onnx")


class _GraphBuilder:
    """Appends nodes and initializers with unique names."""

    def __init__(self, helper: Any, numpy_helper: Any) -> None:
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, stem: str, value: np.ndarray) -> str:
        name = self.name(stem)
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], **attrs: Any) -> str:
        out = self.name(op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


def _end_pad(g: _GraphBuilder, x: str, shape: Shape, out: Shape) -> str:
    """Zero-pad ``x`` at the end of the C, H, W axes up to ``out`` (dlib's ``tt::add`` rule)."""
    if shape == out:
        return x
    pads = np.array([0, 0, 0, 0, 0, out[0] - shape[0], out[1] - shape[1], out[2] - shape[2]], np.int64)
    return g.op("Pad", [x, g.const("pads", pads)], mode="constant")


def build_onnx(net: DlibNetwork) -> Any:
    """The ``onnx.ModelProto`` of ``net`` (affine layers folded into the convolutions)."""
    try:
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise MissingDependencyError("onnx", "fast", "building the face network's ONNX graph") from None
    g = _GraphBuilder(helper, numpy_helper)
    size = net.input.size
    # input_rgb_image: (pixel - mean[c]) / 256, planar R, G, B
    x = g.op("Cast", [INPUT_NAME], to=TensorProto.FLOAT)
    x = g.op("Transpose", [x], perm=[0, 3, 1, 2])
    x = g.op("Sub", [x, g.const("mean", np.array(net.input.mean, np.float32).reshape(1, 3, 1, 1))])
    x = g.op("Div", [x, g.const("scale", np.array(net.input.scale, np.float32))])
    shape: Shape = (3, size, size)
    tags: dict[int, tuple[str, Shape]] = {}
    for layer in fold_affine(net).layers:
        if isinstance(layer, Conv):
            out_c, in_c, kh, kw = layer.weight.shape
            if in_c != shape[0]:
                raise ValueError(f"convolution expects {in_c} channels, gets {shape[0]}")
            bias = layer.bias if layer.bias is not None else np.zeros(out_c, np.float32)
            (py, px), (sy, sx) = layer.padding, layer.stride
            x = g.op("Conv", [x, g.const("w", layer.weight), g.const("b", bias)],
                     kernel_shape=[kh, kw], strides=[sy, sx], pads=[py, px, py, px])  # fmt: skip
            shape = (out_c, 1 + (shape[1] + 2 * py - kh) // sy, 1 + (shape[2] + 2 * px - kw) // sx)
        elif isinstance(layer, Relu):
            x = g.op("Relu", [x])
        elif isinstance(layer, Pool) and layer.size == (0, 0):
            x = g.op("GlobalAveragePool" if layer.op == "avg" else "GlobalMaxPool", [x])
            shape = (shape[0], 1, 1)
        elif isinstance(layer, Pool):
            (kh, kw), (sy, sx), (py, px) = layer.size, layer.stride, layer.padding
            x = g.op("AveragePool" if layer.op == "avg" else "MaxPool", [x],
                     kernel_shape=[kh, kw], strides=[sy, sx], pads=[py, px, py, px])  # fmt: skip
            shape = (shape[0], 1 + (shape[1] + 2 * py - kh) // sy, 1 + (shape[2] + 2 * px - kw) // sx)
        elif isinstance(layer, Tag):
            tags[layer.id] = (x, shape)
        elif isinstance(layer, Skip):
            x, shape = tags[layer.id]
        elif isinstance(layer, AddPrev):
            other, other_shape = tags[layer.tag]
            out = tuple(max(a, b) for a, b in zip(shape, other_shape))
            x = g.op("Add", [_end_pad(g, x, shape, out), _end_pad(g, other, other_shape, out)])  # type: ignore[arg-type]
            shape = out  # type: ignore[assignment]
        elif isinstance(layer, FullyConnected):
            out_f, in_f = layer.weight.shape
            if in_f != shape[0] * shape[1] * shape[2]:
                raise ValueError(f"fc expects {in_f} inputs, gets {shape}")
            x = g.op("Flatten", [x], axis=1)
            x = g.op("MatMul", [x, g.const("fc", np.ascontiguousarray(layer.weight.T))])
            if layer.bias is not None:
                x = g.op("Add", [x, g.const("fc_bias", layer.bias)])
            shape = (out_f, 1, 1)
        else:
            raise ValueError(f"unsupported layer {type(layer).__name__}")
    g.nodes.append(helper.make_node("Identity", [x], [OUTPUT_NAME], name="output"))
    graph = helper.make_graph(
        g.nodes,
        "dlib_face_resnet_v1",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, ["n", size, size, 3])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["n", shape[0]])],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)], producer_name="lookalike"
    )
    model.ir_version = 8  # readable by every onnxruntime ≥ 1.14
    return model
