"""The one place this package imports the project's dlib-format reader and model-cache helpers.

When those move (``faces/models/dlib/``), only these imports change.
"""

from __future__ import annotations

from lookalike.faces.dlib_arch import Token
from lookalike.faces.dlib_format import (
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
from lookalike.faces.fast_embed import default_threads
from lookalike.faces.model_cache import atomic_write, file_sha256, model_cache_folder

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
    "default_threads",
    "file_sha256",
    "fold_affine",
    "model_cache_folder",
    "parse_network",
]
