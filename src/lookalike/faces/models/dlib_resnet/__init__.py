"""dlib's face ResNet (``dlib_face_recognition_resnet_model_v1``): its file format, architecture, and three
runtimes — dlib itself, ONNX Runtime and PyTorch — that give the same descriptors."""

from __future__ import annotations

from lookalike.faces.embed import Embedder, register_embedder
from lookalike.faces.models.dlib_resnet.embedders import CARD


def _dlib() -> Embedder:
    from lookalike.faces.models.dlib_resnet.embedders import DlibResNetEmbedder

    return DlibResNetEmbedder()


def _onnx() -> Embedder:
    from lookalike.faces.models.dlib_resnet.embedders import OnnxEmbedder

    return OnnxEmbedder()


def _torch() -> Embedder:
    from lookalike.faces.models.dlib_resnet.embedders import TorchResNetEmbedder

    return TorchResNetEmbedder()


def register() -> None:
    """Register the three runtimes; default order: onnx, torch, dlib."""
    register_embedder("dlib", CARD, _dlib)
    register_embedder("torch", CARD, _torch, preferred=True, requires="torch")
    register_embedder("onnx", CARD, _onnx, preferred=True, requires="onnxruntime")
