"""dlib's face ResNet run by ONNX Runtime or PyTorch instead of dlib: same descriptors, much faster.

Both embedders read the weights from dlib's own ``.dat`` file (pure Python, converted once and
cached, see :mod:`lookalike.faces.models.dlib_resnet.weights`) and reproduce
``dlib.face_recognition_model_v1.compute_face_descriptor(chip)`` (``num_jitters=0``) up to float32
rounding. ``tests/faces/test_fast_embedder.py`` checks this on 500 aligned LFW chips (cosine
similarity ≥ 0.9999 for every chip, the largest absolute difference is reported; measured: about
4e-7 on descriptor components of magnitude ~0.1) and ``benchmarks/embed.py --lfw`` checks that
LFW 10-fold verification accuracy agrees with dlib's.

**Names and interchangeability.** Because that equality holds, the fast embedders report the same
:attr:`name` as :class:`~lookalike.faces.embed.DlibResNetEmbedder` (``"dlib-resnet-v1"``): their
vectors may share one gallery, index and embedding cache with dlib's. :attr:`runtime` says which
engine ran (``"dlib"``, ``"onnxruntime"``, ``"torch"``). A network file other than dlib's default
gets the name ``"dlib-resnet-v1@<sha256 prefix>"`` so it can never be mixed with the default.
A model that does *not* pass the equality test must register under a different name.

**What is not bit-exact, and why.** The inputs are identical (``(pixel - mean) / 256`` in float32,
the division by a power of two is exact), the layer semantics are dlib's (unpadded strided
convolutions and pools, ``add_prev`` zero-padding the smaller tensor), but the arithmetic is
ordered differently:

* each ``affine`` layer (dlib's frozen batch-norm, ``gamma·x + beta``) is folded into the
  convolution before it — weights ``gamma·W`` and bias ``gamma·b + beta`` computed in float64
  and rounded once to float32 — whereas dlib applies it as a separate pass over the output;
* dlib runs each convolution as im2col + one GEMM, MLAS (ONNX Runtime) and oneDNN (PyTorch) use
  blocked / direct kernels with FMA, so every dot product of up to 2,304 terms is summed in a
  different order; the global average pool and the final 256→128 product likewise;
* on CUDA, cuDNN picks its own algorithms (TF32 is switched off so float32 precision is kept).

Float32 addition is not associative, so each of the 29 convolutions adds a few units in the last
place; through the network that stays around 1e-6, three orders of magnitude below anything that
moves a verification decision.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.errors import MissingDependencyError
from lookalike.faces.embed import EmbedderCard, check_chips

DLIB_RESNET_NAME = "dlib-resnet-v1"
#: dlib's face ResNet: 150×150 chips with dlib's default padding 0.25, Euclidean distance, and the
#: same-person threshold dlib documents ("99.38% on LFW at 0.6", dlib's face_recognition example)
CARD = EmbedderCard(
    name=DLIB_RESNET_NAME, dim=128, chip_size=150, chip_padding=0.25, metric="euclidean", normalized=False,
    threshold=0.6, threshold_source="dlib's documented threshold (face_recognition example, 99.38% on LFW)",
)


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """``LOOKALIKE_THREADS`` when set to a positive number (ingest workers split the cores), else all cores."""
    try:
        env = int(os.environ.get("LOOKALIKE_THREADS", "0") or 0)
    except ValueError:
        env = 0
    return env if env > 0 else available_cores()


def cpu_session_options(ort: Any, threads: int, spin: bool) -> Any:
    """ONNX Runtime options for one sequential CPU session with ``threads`` intra-op threads; ``spin``
    lets idle threads busy-wait (faster on an idle machine, about twice as slow on a shared one)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    return opts


def _card(model_path: str | Path | None, sha256: str) -> EmbedderCard:
    """The default card, renamed for a network file other than dlib's (never mixed with it)."""
    return CARD if model_path is None else replace(CARD, name=f"{DLIB_RESNET_NAME}@{sha256[:12]}")


class DlibResNetEmbedder:
    """dlib's 128-d face ResNet (``dlib_face_recognition_resnet_model_v1.dat``), run by dlib itself.

    Reference implementation: about 80 ms per face on one CPU core here; batching does not help.
    """

    card = CARD
    runtime = "dlib"

    def __init__(self, num_jitters: int = 0) -> None:
        import dlib
        import face_recognition_models as frm

        self.num_jitters = int(num_jitters)
        if self.num_jitters:
            self.card = replace(CARD, name=f"{DLIB_RESNET_NAME}-jitter{self.num_jitters}")
        self._net = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
        self._lock = threading.Lock()  # dlib's net object is not thread-safe

    def embed(self, chips: np.ndarray) -> np.ndarray:
        arr = check_chips(chips, self.card.chip_size)
        if len(arr) == 0:
            return np.empty((0, self.card.dim), dtype=np.float32)
        with self._lock:
            out = [
                np.asarray(self._net.compute_face_descriptor(c, num_jitters=self.num_jitters), dtype=np.float32)
                for c in arr
            ]
        return np.stack(out)


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

    ``torch.set_num_threads`` is process-wide; ``threads=None`` means :func:`default_threads`.
    On CUDA, TF32 is switched off during :meth:`embed` so descriptors keep float32 precision.
    """

    runtime = "torch"

    def __init__(
        self,
        model_path: str | Path | None = None,
        device: str | None = None,
        threads: int | None = None,
        batch_size: int | None = None,
        channels_last: bool | None = None,
    ) -> None:
        try:
            import torch

            from lookalike.faces.models.dlib_resnet.torch_net import build_model
        except ImportError:
            raise MissingDependencyError("torch", "fast", "the PyTorch face embedder") from None
        from lookalike.faces.models.dlib_resnet.weights import load_network

        self._torch = torch
        loaded = load_network(model_path)
        self.card = _card(model_path, loaded.sha256)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if self.device.type == "cpu":
            torch.set_num_threads(threads or default_threads())
        # 32 on CPU: larger batches gain nothing there and make oneDNN's first calls slow
        self.batch_size = int(batch_size or (32 if self.device.type == "cpu" else 256))
        model = build_model(loaded.net)
        if channels_last if channels_last is not None else self.device.type == "cpu":
            model.use_channels_last(True)
        self._model = model.to(self.device)

    def embed(self, chips: np.ndarray) -> np.ndarray:
        arr = check_chips(chips, self.card.chip_size)
        out = np.empty((len(arr), self.card.dim), dtype=np.float32)
        torch = self._torch
        with torch.inference_mode(), _full_fp32(torch, self.device.type == "cuda"):
            for start in range(0, len(arr), self.batch_size):
                batch = torch.from_numpy(arr[start : start + self.batch_size]).to(self.device)
                out[start : start + len(batch)] = self._model(batch).float().cpu().numpy()
        return out


class OnnxEmbedder:
    """dlib's face ResNet as an ONNX graph (built once, cached) run by ONNX Runtime on the CPU.

    Needs only ``onnx`` (to build the graph the first time) and ``onnxruntime``, not PyTorch.
    ``threads=None`` means :func:`default_threads` intra-op threads. ``spin=True`` lets ONNX
    Runtime's worker threads busy-wait between operators: slightly faster on an idle machine, but
    about twice as slow when other processes compete for the cores, so it is off by default.
    """

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
        from lookalike.faces.models.dlib_resnet.onnx_graph import INPUT_NAME, onnx_path
        from lookalike.faces.models.dlib_resnet.weights import load_network

        loaded = load_network(model_path)
        self.card = _card(model_path, loaded.sha256)
        self.batch_size = int(batch_size)
        self.threads = threads or default_threads()
        self.model_file = onnx_path(loaded)
        opts = cpu_session_options(ort, self.threads, spin)
        try:
            self._session = ort.InferenceSession(str(self.model_file), opts, providers=["CPUExecutionProvider"])
        except Exception:  # noqa: BLE001 - a damaged cached graph: build it again, once
            from lookalike.faces.models.dlib_resnet.onnx_graph import export_onnx

            export_onnx(loaded, self.model_file)
            self._session = ort.InferenceSession(str(self.model_file), opts, providers=["CPUExecutionProvider"])
        self._input = INPUT_NAME

    def embed(self, chips: np.ndarray) -> np.ndarray:
        arr = check_chips(chips, self.card.chip_size)
        out = np.empty((len(arr), self.card.dim), dtype=np.float32)
        for start in range(0, len(arr), self.batch_size):
            batch = arr[start : start + self.batch_size]
            out[start : start + len(batch)] = self._session.run(None, {self._input: batch})[0]
        return out

