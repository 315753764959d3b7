"""The one place this package imports the project's dlib-format reader and model-cache helpers.

They live with the face ResNet (:mod:`lookalike.faces.models.dlib_resnet`); if they move to a
shared ``faces/models/dlib/``, only these imports change.
"""

from __future__ import annotations

from lookalike.faces.models.dlib_resnet.arch import Token
from lookalike.faces.models.dlib_resnet.embedders import cpu_session_options, default_threads
from lookalike.faces.models.dlib_resnet.format import (
    Affine,
    Conv,
    DetectorWindow,
    DlibNetwork,
    InputRGBPyramid,
    LossMMOD,
    Relu,
    fold_affine,
    parse_network,
)
from lookalike.faces.models.dlib_resnet.weights import file_sha256, model_cache_folder
from lookalike.io import atomic_write

__all__ = [
    "Affine",
    "Conv",
    "DetectorWindow",
    "DlibNetwork",
    "InputRGBPyramid",
    "LossMMOD",
    "Relu",
    "Token",
    "atomic_write",
    "cpu_session_options",
    "default_threads",
    "file_sha256",
    "fold_affine",
    "model_cache_folder",
    "parse_network",
]
