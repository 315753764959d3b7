"""Checks of query vectors sent as JSON (web service ``/api/search`` and the index service)."""

from __future__ import annotations

import numpy as np

from lookalike.errors import LookalikeError

#: a JSON vector query of 100 × 128 floats is < 0.3 MB; nothing valid comes near 1 MiB
MAX_VECTOR_JSON = 1024 * 1024
#: embeddings are small numbers (dlib's have norm ≈ 1.4); beyond this, float32 distances overflow
MAX_ABS_VALUE = 1e6


def check_vector_range(vectors: np.ndarray) -> None:
    """Refuse vectors whose values are so large that their distances are not finite float32 numbers."""
    if vectors.size and float(np.abs(vectors).max()) > MAX_ABS_VALUE:
        raise LookalikeError(
            f"vector values must lie within ±{MAX_ABS_VALUE:g} (embeddings are small numbers); "
            "distances to larger ones are not finite"
        )
