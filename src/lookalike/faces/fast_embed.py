"""dlib's face ResNet run by PyTorch or ONNX Runtime instead of dlib: same descriptors, much faster.

Both embedders read the weights from dlib's own ``.dat`` file (pure Python, cached once, see
:mod:`lookalike.faces.model_cache`) and reproduce ``dlib.face_recognition_model_v1
.compute_face_descriptor(chip)`` (``num_jitters=0``) to float32 rounding: on real LFW chips the
largest absolute difference is about 1e-6 and the cosine similarity ≥ 0.99999. Because the
vectors are interchangeable they report the same :attr:`name` as
:class:`~lookalike.faces.embed.DlibResNetEmbedder`; :attr:`runtime` says which engine ran.

They are not bit-identical to dlib because the arithmetic is ordered differently: dlib runs each
convolution as im2col + its own GEMM and applies the ``affine`` layer separately, while here the
affine scale/shift is folded into the convolution weights (in float64, then rounded to float32)
and oneDNN / MLAS sum the products in their own blocked order.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from lookalike.errors import MissingDependencyError
from lookalike.faces.embed import check_chips

DLIB_RESNET_NAME = "dlib-resnet-v1"
DIM = 128


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _embedder_name(model_path: str | Path | None, sha256: str) -> str:
    return DLIB_RESNET_NAME if model_path is None else f"{DLIB_RESNET_NAME}@{sha256[:12]}"


@contextmanager
def _full_fp32(torch, on_cuda: bool) -> Iterator[None]:
    """Keep cuDNN convolutions / matmuls in float32 (TF32 would cost ~3 decimal digits)."""
    if not on_cuda:
        yield
        return
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


class TorchResNetEmbedder:
    """dlib's face ResNet in PyTorch: batched, all CPU cores, or CUDA when available.

    ``torch.set_num_threads`` is process-wide; ``threads=None`` uses every available core.
    On CUDA, TF32 is switched off during :meth:`embed` so descriptors keep float32 precision.
    """

    dim = DIM
    normalized = False
    runtime = "torch"

    def __init__(
        self,
        model_path: str | Path | None = None,
        device: str | None = None,
        threads: int | None = None,
        batch_size: int = 64,
        channels_last: bool | None = None,
    ) -> None:
        try:
            import torch

            from lookalike.faces.torch_resnet import build_model
        except ImportError:
            raise MissingDependencyError("torch", "fast", "the PyTorch face embedder") from None
        from lookalike.faces.model_cache import load_network

        self._torch = torch
        loaded = load_network(model_path)
        self.name = _embedder_name(model_path, loaded.sha256)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if self.device.type == "cpu":
            torch.set_num_threads(threads or available_cores())
        self.batch_size = int(batch_size)
        model = build_model(loaded.net)
        if channels_last if channels_last is not None else self.device.type == "cpu":
            model.use_channels_last(True)
        self._model = model.to(self.device)

    def embed(self, chips: np.ndarray) -> np.ndarray:
        arr = check_chips(chips)
        out = np.empty((len(arr), self.dim), dtype=np.float32)
        torch = self._torch
        with torch.inference_mode(), _full_fp32(torch, self.device.type == "cuda"):
            for start in range(0, len(arr), self.batch_size):
                batch = torch.from_numpy(arr[start : start + self.batch_size]).to(self.device)
                out[start : start + len(batch)] = self._model(batch).float().cpu().numpy()
        return out


class OnnxEmbedder:
    """dlib's face ResNet exported once to ONNX and run by ONNX Runtime on the CPU.

    ``threads=None`` uses every available core for intra-op parallelism. ``spin=True`` lets ONNX
    Runtime's worker threads busy-wait between operators: slightly faster on an idle machine, but
    about twice as slow when other processes compete for the cores, so it is off by default.
    """

    dim = DIM
    normalized = False
    runtime = "onnxruntime"

    def __init__(
        self,
        model_path: str | Path | None = None,
        threads: int | None = None,
        batch_size: int = 32,
        spin: bool = False,
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise MissingDependencyError("onnxruntime", "fast", "the ONNX Runtime face embedder") from None
        from lookalike.faces.model_cache import load_network
        from lookalike.faces.onnx_model import INPUT_NAME, onnx_path

        loaded = load_network(model_path)
        self.name = _embedder_name(model_path, loaded.sha256)
        self.batch_size = int(batch_size)
        self.threads = threads or available_cores()
        self.model_file = onnx_path(loaded)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        try:
            self._session = ort.InferenceSession(str(self.model_file), opts, providers=["CPUExecutionProvider"])
        except Exception:  # noqa: BLE001 - a damaged cached export: export again, once
            from lookalike.faces.onnx_model import export_onnx

            export_onnx(loaded, self.model_file)
            self._session = ort.InferenceSession(str(self.model_file), opts, providers=["CPUExecutionProvider"])
        self._input = INPUT_NAME

    def embed(self, chips: np.ndarray) -> np.ndarray:
        arr = check_chips(chips)
        out = np.empty((len(arr), self.dim), dtype=np.float32)
        for start in range(0, len(arr), self.batch_size):
            batch = arr[start : start + self.batch_size]
            out[start : start + len(batch)] = self._session.run(None, {self._input: batch})[0]
        return out

