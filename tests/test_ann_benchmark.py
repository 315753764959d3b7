"""The ANN benchmark's quick mode (the CI check): every installed index reaches recall@10 >= 0.9
(exact ones 1.0) on 20k face-like vectors, within two minutes, writing only to results/quick/."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from lookalike.index import available_indexes, index_class

from ._env import child_env

REPO = Path(__file__).resolve().parents[1]


def test_quick_benchmark_passes() -> None:
    out = REPO / "benchmarks" / "results" / "quick" / "ann-face-like-20k.json"
    env = child_env()
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "ann.py"), "--quick"], env=env,
                          capture_output=True, text=True, timeout=180, check=False)
    took = time.perf_counter() - t
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert took < 120, took
    data = json.loads(out.read_text())
    ran = {r["index"] for r in data["results"]}
    assert ran == {n for n in available_indexes() if index_class(n).available()}
    for r in data["results"]:
        assert max(p["recall@10"] for p in r["points"]) >= 0.9, r["index"]
    ignored = subprocess.run(["git", "check-ignore", "-q", str(out)], cwd=REPO, check=False)
    assert ignored.returncode == 0, "quick results must be git-ignored"
