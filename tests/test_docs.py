"""The README's figures come from committed result files: its headline table is regenerated and compared."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_readme_headline_matches_the_committed_report() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "headline.py"), "--check"], cwd=REPO, check=False)
    assert proc.returncode == 0, "README headline differs from benchmarks/results/eval/report.json: " \
                                 "run `python benchmarks/headline.py`"


def test_readme_is_a_guide() -> None:
    text = (REPO / "README.md").read_text()
    assert len(text.encode()) < 12 * 1024
    first_block = text.split("```bash", 1)[1].split("```", 1)[0].strip().splitlines()
    assert [line.split()[:2] for line in first_block] == [["make", "run"], ["make", "test"]]
    for link in ("docs/evaluation.md", "docs/vector-search.md", "docs/rest.md", "docs/architecture.md"):
        assert link in text and (REPO / link).is_file()


def test_composed_doc_matches_the_committed_result() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "compose.py"), "--check"], cwd=REPO, check=False)
    assert proc.returncode == 0, "docs/composed.md's table differs from benchmarks/results/compose-yale.json: " \
                                 "run `python benchmarks/compose.py --docs`"
