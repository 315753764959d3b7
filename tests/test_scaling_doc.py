"""docs/scaling.md's figures are the committed measurements' arithmetic, not retyped numbers."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_scaling_doc_matches_the_results() -> None:
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "scaling_figures.py"), "--check"],
                         capture_output=True, text=True, cwd=ROOT, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
