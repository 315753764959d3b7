"""Alignment: a 150×150 face chip from the five landmarks, the input dlib's ResNet was trained on."""

from __future__ import annotations

import numpy as np

from lookalike.faces.detect import DetectedFace
from lookalike.faces.embed import CHIP_SIZE

#: dlib's default padding around the landmark-defined face square (fraction of its side)
CHIP_PADDING = 0.25


def align(image: np.ndarray, face: DetectedFace, size: int = CHIP_SIZE, padding: float = CHIP_PADDING) -> np.ndarray:
    """Rotate, scale and crop the face to a ``(size, size, 3)`` uint8 chip."""
    import dlib

    chip = dlib.get_face_chip(image, face._shape, size=size, padding=padding)
    return np.ascontiguousarray(chip, dtype=np.uint8)


def align_all(image: np.ndarray, faces: list[DetectedFace]) -> np.ndarray:
    """Chips for several faces of one image, as one ``(n, 150, 150, 3)`` batch."""
    if not faces:
        return np.empty((0, CHIP_SIZE, CHIP_SIZE, 3), dtype=np.uint8)
    return np.stack([align(image, f) for f in faces])
