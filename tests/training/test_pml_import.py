"""Training must not break faiss (and Milvus Lite, which runs on it) for the rest of the process.

pytorch-metric-learning imports ``faiss.contrib.torch_utils``, which replaces ``search`` on every faiss
index class by a version refusing ``params``; the whole test run once failed that way (the IVF-PQ
adapter and Milvus Lite after the compose tests had trained an attribute model). Checked in a fresh
interpreter, where nothing else has imported either library yet.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import numpy as np
import faiss
from lookalike.training.data import pk_batches
from lookalike.training.losses import make_loss
pk_batches(np.repeat(np.arange(6), 3), 3, 2, 2, 0, 0)  # imports the library's sampler, and with it
import pytorch_metric_learning.utils.inference      # the module that would have patched faiss
ix = faiss.IndexFlatL2(4)
ix.add(np.eye(4, dtype="float32"))
_, ids = ix.search(np.eye(4, dtype="float32"), 1, params=faiss.SearchParameters())
assert ids.ravel().tolist() == [0, 1, 2, 3], ids
print("ok")
"""


def test_training_imports_leave_faiss_search_unpatched() -> None:
    pytest.importorskip("faiss")
    pytest.importorskip("pytorch_metric_learning")
    out = subprocess.run([sys.executable, "-c", SCRIPT], check=False, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
