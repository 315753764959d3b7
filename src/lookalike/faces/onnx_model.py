"""Export the rebuilt dlib face ResNet to ONNX once and cache the file next to the weights."""

from __future__ import annotations

import warnings
from pathlib import Path

from lookalike.errors import MissingDependencyError
from lookalike.faces.model_cache import LoadedNetwork, atomic_write

ONNX_OPSET = 17
INPUT_NAME = "chips"
OUTPUT_NAME = "descriptors"


def onnx_path(loaded: LoadedNetwork) -> Path:
    """Path of the cached ``model.onnx`` for this network, exporting it first if needed."""
    target = loaded.folder / f"model-opset{ONNX_OPSET}.onnx"
    if not target.exists():
        export_onnx(loaded, target)
    return target


def export_onnx(loaded: LoadedNetwork, target: Path) -> Path:
    """Trace the torch model (legacy TorchScript exporter: no onnxscript needed) into ``target``."""
    try:
        import torch

        from lookalike.faces.torch_resnet import build_model
    except ImportError:
        raise MissingDependencyError("torch", "fast", "exporting the face network to ONNX") from None

    model = build_model(loaded.net)
    size = loaded.net.input.size
    example = torch.zeros((2, size, size, 3), dtype=torch.uint8)

    def write(tmp: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter is deprecated but dependency-free
            torch.onnx.export(
                model,
                (example,),
                str(tmp),
                dynamo=False,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "n"}, OUTPUT_NAME: {0: "n"}},
                opset_version=ONNX_OPSET,
            )

    return atomic_write(target, write, suffix=".onnx")
