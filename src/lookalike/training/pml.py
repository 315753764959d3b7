"""pytorch-metric-learning, imported without faiss's process-wide torch patch.

pytorch-metric-learning's inference helpers run ``import faiss.contrib.torch_utils`` when faiss is
installed, and importing its samplers or utilities imports those helpers. That module replaces
``search`` on every faiss index class, for the whole process, by a version that refuses the
``params`` argument — after which our faiss IVF-PQ adapter and Milvus Lite (which runs on faiss) fail
in the same process ("torch_replacement_search() got an unexpected keyword argument 'params'").
lookalike uses the library's losses, miners, distances and sampler only, never the helpers that need
the patch, so :func:`load_pml` imports it with that one module stood in for; a later import of
``faiss.contrib.torch_utils`` by anyone else is untouched.
"""

from __future__ import annotations

import sys
import types

PATCH = "faiss.contrib.torch_utils"


def load_pml() -> types.ModuleType:
    """Import pytorch_metric_learning (losses, miners, distances, samplers, utils) once, faiss unpatched."""
    if "pytorch_metric_learning.samplers" in sys.modules:
        return sys.modules["pytorch_metric_learning"]
    stub = None
    if PATCH not in sys.modules:
        stub = types.ModuleType(PATCH, "stand-in while pytorch_metric_learning imports (lookalike.training.pml)")
        sys.modules[PATCH] = stub
    try:
        import pytorch_metric_learning
        from pytorch_metric_learning import distances, losses, miners, samplers  # noqa: F401
        from pytorch_metric_learning.utils import common_functions  # noqa: F401
    finally:
        if stub is not None and sys.modules.get(PATCH) is stub:
            del sys.modules[PATCH]
    return pytorch_metric_learning
