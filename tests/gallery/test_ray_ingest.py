"""Ingest on Ray (a local Ray started by the ingest): the same gallery as the default ingest, and a
SIGKILLed Ray ingest resumes without duplicates."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lookalike.gallery import Gallery, lfw
from lookalike.gallery.ingest import ingest
from tests._env import child_env
from tests.reliability.test_crash import check, images_done

ray = pytest.importorskip("ray")
PEOPLE = ["Aaron_Peirsol", "Abdullah_Gul", "Adrien_Brody", "Alejandro_Toledo"]


def faces_by_path(root: Path) -> dict[str, list[tuple[tuple[int, int, int, int], np.ndarray]]]:
    with Gallery.open(root) as g:
        ids, vecs = g.store.embeddings()
        recs = g.store.faces(ids.tolist())
    out: dict[str, list] = {}
    for i, v in zip(ids.tolist(), vecs):
        out.setdefault(recs[i].image, []).append((tuple(recs[i].box), v))
    return {k: sorted(v, key=lambda f: f[0]) for k, v in out.items()}


def test_ray_ingest_builds_the_same_gallery(lfw_root: Path, tmp_path: Path) -> None:
    from lookalike.gallery.ray_ingest import ray_ingest

    items = [it for it in lfw(lfw_root) if it.person in PEOPLE][:12]
    with Gallery.open(tmp_path / "default") as g:
        want = ingest(g, items, workers=1, progress=False, cache=False)
    with Gallery.open(tmp_path / "ray") as g:
        got = ray_ingest(g, items, actors=2, progress=False, cache=False)
        assert len(g.index) == got.added_faces
    assert got.summary() == want.summary()
    a, b = faces_by_path(tmp_path / "default"), faces_by_path(tmp_path / "ray")
    assert a.keys() == b.keys()
    for path in a:  # same faces (boxes) and the same vectors
        assert [f[0] for f in a[path]] == [f[0] for f in b[path]]
        np.testing.assert_allclose(np.stack([f[1] for f in a[path]]), np.stack([f[1] for f in b[path]]),
                                   rtol=0, atol=1e-5)
    with Gallery.open(tmp_path / "ray") as g:  # resumable: everything stored is skipped
        again = ray_ingest(g, items, progress=False, cache=False)
    assert again.skipped_existing == len(items) and again.added_images == 0


@pytest.mark.slow
def test_killed_ray_ingest_resumes_without_duplicates(lfw_root: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    for it in [it for it in lfw(lfw_root) if it.person in PEOPLE][:40]:
        (src / it.person).mkdir(parents=True, exist_ok=True)
        os.symlink(it.path, src / it.person / it.path.name)
    gallery = tmp_path / "g"
    cmd = [sys.executable, "-m", "lookalike.cli", "ingest", str(src), "--gallery", str(gallery), "--ray",
           "--workers", "2", "--json"]
    env = child_env(LOOKALIKE_CACHE=str(tmp_path / "cache"))  # nothing cached: every photo goes through Ray
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 300
    while images_done(gallery) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the local Ray it started
    proc.wait()
    done = images_done(gallery)
    assert 0 < done < 40, done
    check(gallery)  # consistent after the kill
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    images, _ = check(gallery)
    assert images == 40
    assert f'"skipped_existing": {done}' in res.stdout
