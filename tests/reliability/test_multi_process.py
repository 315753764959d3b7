"""Issue 15, defect 3: several processes on one gallery (CLI ingest, web service, index service).

Every writer holds the gallery's write lock while it writes and first catches up with what the
others committed; the index files record exactly which face ids they hold and the store generation
those match, so a restart replays what is missing. Processes are started as a user starts them
(``python -m lookalike ...``), on 127.0.0.1 only, and every run is bounded in time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest

from lookalike.errors import GalleryBusyError
from lookalike.gallery import Gallery, lfw
from lookalike.gallery.locking import GalleryLock
from tests._env import child_env
from tests._galleries import PEOPLE
from tests.service.live import free_port

pytestmark = pytest.mark.reliability

#: length of the mixed run (the issue asks for 60 s; shorten locally with the variable)
SECONDS = float(os.environ.get("LOOKALIKE_MULTIPROCESS_SECONDS", "60"))


def env() -> dict[str, str]:
    e = child_env()
    e.pop("LOOKALIKE_API_TOKEN", None)
    return e


@contextmanager
def service(kind: str, gallery: Path, log: Path) -> Iterator[str]:
    """``python -m lookalike.service [index]`` on a free loopback port until the block ends."""
    port = free_port()
    args = [sys.executable, "-m", "lookalike.service", *(["index"] if kind == "index" else []),
            "--gallery", str(gallery), "--port", str(port)]
    with log.open("a") as out:
        proc = subprocess.Popen(args, env=env(), stdout=out, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    health = url + ("/health" if kind == "index" else "/api/health")
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(health, timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{kind} service did not start"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def person_folders(lfw_root: Path, root: Path, batches: int, people: int, photos_each: int) -> list[Path]:
    """Folders of LFW people who are not in the test gallery (symlinks, nothing copied)."""
    by_person: dict[str, list[Path]] = {}
    for it in lfw(lfw_root):
        if it.person not in PEOPLE:
            by_person.setdefault(str(it.person), []).append(Path(it.path))
    names = [n for n, ps in sorted(by_person.items()) if len(ps) >= photos_each][: batches * people]
    out = []
    for b in range(batches):
        folder = root / f"batch{b}"
        for name in names[b * people : (b + 1) * people]:
            (folder / name).mkdir(parents=True)
            for p in by_person[name][:photos_each]:
                (folder / name / p.name).symlink_to(p)
        out.append(folder)
    return out


def cli_ingest(source: Path, gallery: Path) -> dict:
    p = subprocess.run(
        [sys.executable, "-m", "lookalike", "ingest", str(source), "--gallery", str(gallery),
         "--workers", "1", "--json"],
        env=env(), capture_output=True, text=True, timeout=300, check=False,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def enrol(url: str, person: str, photo: Path) -> httpx.Response:
    return httpx.post(url + "/api/gallery/faces", data={"person": person},
                      files=[("files", (photo.name, photo.read_bytes(), "image/jpeg"))], timeout=120)


def assert_agree(gallery: Path, web: str | None = None, index: str | None = None) -> set[int]:
    """Store, index file, and the services' answers agree face for face; returns the stored ids."""
    with Gallery.open(gallery, create=False) as g:
        ids, vecs = g.store.embeddings()
        assert len(g.index) == len(ids)
        dist, got = g.index.search(vecs, 1)
        assert (got[:, 0] == ids).all() and float(dist.max(initial=0)) < 1e-5
    for s in range(0, len(ids), 100):
        chunk_ids, chunk = ids[s : s + 100], vecs[s : s + 100].tolist()
        if index:
            r = httpx.post(index + "/search", json={"vectors": chunk, "k": 1}, timeout=30).json()
            assert [row[0] for row in r["ids"]] == chunk_ids.tolist() and r["count"] == len(ids)
        if web:
            r = httpx.post(web + "/api/search", json={"vectors": chunk, "k": 1}, timeout=30).json()
            assert [f["neighbours"][0]["face_id"] for f in r["faces"]] == chunk_ids.tolist()
    if web:
        h = httpx.get(web + "/api/health").json()
        assert h["faces"] == h["indexed"] == len(ids)
    return set(ids.tolist())


@pytest.mark.slow
def test_cli_ingest_while_serving_is_never_lost(
    gallery_copy: Path, lfw_root: Path, photos: dict[str, Path], tmp_path: Path
) -> None:
    """The issue's reproduction: ingest 3 photos with the CLI while the server runs, enrol one photo
    through the API, restart the server: all faces are indexed and found, before and after."""
    [batch] = person_folders(lfw_root, tmp_path / "src", 1, 3, 1)
    with service("web", gallery_copy, tmp_path / "web.log") as web:
        before = httpx.get(web + "/api/health").json()["faces"]
        assert cli_ingest(batch, gallery_copy)["added_faces"] == 3
        # the running server sees the CLI's commit at once (its next search catches up)
        assert_agree(gallery_copy, web=web)
        assert enrol(web, "Barack Obama", photos["obama_enrol"]).status_code == 201
    with service("web", gallery_copy, tmp_path / "web.log") as web:
        assert len(assert_agree(gallery_copy, web=web)) == before + 4


def test_a_writer_that_cannot_get_the_lock_names_the_holder(gallery_copy: Path) -> None:
    holder = GalleryLock(gallery_copy)
    with Gallery.open(gallery_copy, create=False) as g, holder.hold():
        g.write_lock.timeout = 0.3
        some = int(g.store.face_ids()[0])
        with pytest.raises(GalleryBusyError, match=f"pid {os.getpid()}"):
            g.remove_faces([some])
        assert some in g.store.face_ids()  # nothing was written
    with Gallery.open(gallery_copy, create=False) as g:  # released: writes go through again
        assert g.remove_faces([some]) == [some]


@pytest.mark.slow
def test_cli_web_and_index_service_together(
    gallery_copy: Path, lfw_root: Path, photos: dict[str, Path], tmp_path: Path
) -> None:
    """CLI ingests, web enrols and deletes, the index service searches, all at once for 60 s; then
    after a restart of both services, store, index and answers agree face for face."""
    batches = person_folders(lfw_root, tmp_path / "src", 6, 3, 2)
    pool = [photos[k] for k in ("obama_enrol", "obama_enrol2", "biden_small", "obama", "biden")]
    with Gallery.open(gallery_copy, create=False) as g:
        start_ids = set(g.store.face_ids().tolist())
        _, probe = g.store.embeddings()
    failures: list[str] = []
    cli_added = 0
    kept: set[int] = set()
    deleted: set[int] = set()
    counts = {"cli": 0, "enrol": 0, "delete": 0, "index_search": 0, "web_search": 0}
    with service("web", gallery_copy, tmp_path / "web.log") as web, \
            service("index", gallery_copy, tmp_path / "index.log") as index:
        stop_at = time.monotonic() + SECONDS

        def cli_loop() -> None:
            nonlocal cli_added
            for b in batches:
                if time.monotonic() > stop_at:
                    break
                cli_added += cli_ingest(b, gallery_copy)["added_faces"]
                counts["cli"] += 1

        def web_loop() -> None:
            i = 0
            held: dict[Path, int] = {}
            while time.monotonic() < stop_at:
                photo = pool[i % len(pool)]
                i += 1
                if photo in held:  # delete what this photo gave, so it can be enrolled again
                    fid = held.pop(photo)
                    r = httpx.delete(f"{web}/api/gallery/faces/{fid}", timeout=60)
                    if r.status_code != 200:
                        failures.append(f"delete {fid}: {r.status_code} {r.text}")
                    kept.discard(fid)
                    deleted.add(fid)
                    counts["delete"] += 1
                    continue
                r = enrol(web, f"Web {photo.stem}", photo)
                if r.status_code != 201:
                    failures.append(f"enrol {photo.name}: {r.status_code} {r.text}")
                    continue
                held[photo] = r.json()["added"][0]["face_id"]
                kept.add(held[photo])
                counts["enrol"] += 1
                r = httpx.post(web + "/api/search", json={"vectors": probe[:5].tolist(), "k": 3}, timeout=60)
                counts["web_search"] += 1
                if r.status_code != 200:
                    failures.append(f"web search: {r.status_code} {r.text}")

        def index_loop() -> None:
            rng = np.random.default_rng(0)
            while time.monotonic() < stop_at:
                q = probe[rng.integers(0, len(probe), 8)]
                r = httpx.post(index + "/search", json={"vectors": q.tolist(), "k": 5}, timeout=30)
                counts["index_search"] += 1
                if r.status_code != 200:
                    failures.append(f"index search: {r.status_code} {r.text}")
                time.sleep(0.05)

        threads = [threading.Thread(target=f) for f in (cli_loop, web_loop, index_loop)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=SECONDS + 600)
        assert failures == []
        # while still running, both services already answer for every stored face
        live = assert_agree(gallery_copy, web=web, index=index)
    assert counts["cli"] >= 1 and counts["enrol"] >= 2 and counts["delete"] >= 1 and counts["index_search"] >= 50, counts
    assert start_ids | kept <= live and not (deleted & live)  # (the CLI's new ids are the rest)
    assert len(live) == len(start_ids) + cli_added + len(kept)
    with service("web", gallery_copy, tmp_path / "web.log") as web, \
            service("index", gallery_copy, tmp_path / "index.log") as index:
        assert assert_agree(gallery_copy, web=web, index=index) == live
    print(f"multi-process run: {SECONDS:.0f} s, {counts}, {cli_added} faces by the CLI, {len(live)} at the end")
