"""Crash safety: SIGKILL the ingest at random moments; the gallery must reopen consistent and resume."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lookalike.gallery import Gallery, lfw, sample_people

pytestmark = pytest.mark.reliability

TRIALS = 20


def ingest_cmd(source: Path, gallery: Path) -> list[str]:
    return [sys.executable, "-m", "lookalike.cli", "ingest", str(source), "--gallery", str(gallery),
            "--workers", "1", "--json"]


@pytest.fixture(scope="module")
def source(lfw_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder-per-person tree of 60 LFW photos, linked (not copied) from the data set."""
    root = tmp_path_factory.mktemp("src")
    for it in sample_people(lfw(lfw_root), 12, min_images=5, seed=3)[:60]:
        (root / it.person).mkdir(exist_ok=True)
        os.symlink(it.path, root / it.person / it.path.name)
    return root


def check(gallery: Path) -> tuple[int, int]:
    """Open the gallery; store and index must agree face for face; returns (images, faces)."""
    with Gallery.open(gallery) as g:
        ids, vecs = g.store.embeddings()
        assert len(ids) == len(set(ids.tolist())) == len(g.index)
        if len(ids):
            _, found = g.index.search(vecs, 1)
            assert np.array_equal(found[:, 0], ids)
        paths = list(g.store.image_paths())
        assert len(paths) == len(set(paths))
        counts = g.store.counts()
        return counts["images"], counts["faces"]


def test_sigkill_during_ingest_loses_and_duplicates_nothing(source: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    reference = tmp_path / "reference"
    done = subprocess.run(ingest_cmd(source, reference), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    expected = check(reference)
    rng = random.Random(1234)
    gallery = tmp_path / "crashed"
    env = {**env, "LOOKALIKE_CACHE": str(tmp_path / "cold-cache")}  # real work to interrupt, not cache hits
    kills = []
    for trial in range(TRIALS):
        proc = subprocess.Popen(ingest_cmd(source, gallery), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 2.5))
        killed = proc.poll() is None
        if killed:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        kills.append(killed)
        check(gallery)
        if not killed:  # it finished: start the next trials from an empty gallery again
            for f in gallery.iterdir():
                f.unlink()
    done = subprocess.run(ingest_cmd(source, gallery), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found = check(gallery)
    report = {"trials": TRIALS, "killed_mid_ingest": sum(kills), "expected_images_faces": expected,
              "found_images_faces": found}
    print(json.dumps(report))
    assert sum(kills) >= TRIALS // 2
    assert found == expected
