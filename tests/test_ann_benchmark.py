"""The ANN benchmark's quick mode (the CI check): every installed index reaches recall@10 >= 0.9
(exact ones 1.0) on 20k face-like vectors, writing only to results/quick/.

No wall-clock assertion: the machine's load decides the time, not the code; the subprocess timeout
only stops a hang."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lookalike.index import available_indexes, index_class

from ._env import child_env

REPO = Path(__file__).resolve().parents[1]


def test_quick_benchmark_passes() -> None:
    out = REPO / "benchmarks" / "results" / "quick" / "ann-face-like-20k.json"
    env = child_env()
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "ann.py"), "--quick"], env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())
    ran = {r["index"] for r in data["results"]}
    assert ran == {n for n in available_indexes() if index_class(n).available()}
    for r in data["results"]:
        assert r["points"], r["index"]
        assert all(p["qps"] > 0 for p in r["points"]), r["index"]  # every point was searched and timed
        assert max(p["recall@10"] for p in r["points"]) >= 0.9, r["index"]
        if r["index"] == "exact":
            assert all(p["recall@10"] == 1.0 for p in r["points"])
    ignored = subprocess.run(["git", "check-ignore", "-q", str(out)], cwd=REPO, check=False)
    assert ignored.returncode == 0, "quick results must be git-ignored"
