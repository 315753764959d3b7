"""Alignment: a square face chip from the detected landmarks, the input a face embedder was trained on.

Alignment is one stage of :class:`~lookalike.faces.pipeline.FacePipeline`; nothing else calls it.
"""

from __future__ import annotations

import numpy as np

from lookalike.faces.detect import DetectedFace


def align(image: np.ndarray, face: DetectedFace, size: int, padding: float) -> np.ndarray:
    """Rotate, scale and crop the face to a ``(size, size, 3)`` uint8 chip (dlib's ``get_face_chip``)."""
    import dlib

    chip = dlib.get_face_chip(image, face._shape, size=size, padding=padding)
    return np.ascontiguousarray(chip, dtype=np.uint8)


def align_all(image: np.ndarray, faces: list[DetectedFace], size: int, padding: float) -> np.ndarray:
    """Chips for several faces of one image, as one ``(n, size, size, 3)`` batch."""
    if not faces:
        return np.empty((0, size, size, 3), dtype=np.uint8)
    return np.stack([align(image, f, size, padding) for f in faces])
