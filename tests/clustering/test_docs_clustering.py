"""docs/clustering.md is generated from the committed benchmarks/results/cluster.json."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_clustering_doc_matches_the_committed_results() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "cluster.py"), "--check"], cwd=REPO,
                          check=False)
    assert proc.returncode == 0, "docs/clustering.md differs from benchmarks/results/cluster.json"
