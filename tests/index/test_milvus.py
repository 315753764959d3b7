"""Milvus-specific guarantees, on Milvus Lite and on a real Milvus server the tests start:
filtered search, deletes invisible to every client once acknowledged (under concurrent searches),
rebuild from the store, a server killed mid-ingest, and an address where nothing listens."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lookalike.cli import app
from lookalike.errors import IndexUnavailableError
from lookalike.evaluation.synthetic import face_like
from lookalike.gallery import Gallery, lfw
from lookalike.gallery.gallery import STORE_FILE
from lookalike.gallery.ingest import ingest
from lookalike.index import create_index, index_class
from tests.index.milvus_server import MilvusServerProcess, free_port, index_case

pytestmark = pytest.mark.skipif(not index_class("milvus").available(), reason="pymilvus is not installed")
WHERE = ["milvus", "milvus@server"]
PEOPLE = ["Aaron_Peirsol", "Abdullah_Gul", "Adrien_Brody", "Alejandro_Toledo", "Ali_Naimi", "Amelie_Mauresmo"]


@pytest.fixture(scope="module")
def vectors() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, labels = face_like(1_220, n_identities=60, seed=3)
    return x[:1_200], labels[:1_200], x[1_200:]


@pytest.mark.parametrize("where", WHERE)
def test_search_limited_to_chosen_people_and_model(where: str, vectors, request) -> None:
    x, labels, q = vectors
    name, params = index_case(where, request)
    ix = create_index(name, 128, **params)
    people = [f"person_{int(p)}" for p in labels]
    ix.add(x, np.arange(len(x)), people=people, model="dlib-resnet-v1")
    chosen = {"person_1", "person_2", "person_3"}
    d, i = ix.search(q, 10, people=chosen)
    assert (i >= 0).all() and all(people[j] in chosen for j in i.ravel())
    mask = np.isin(people, sorted(chosen))
    exact = np.sort(np.linalg.norm(x[mask][None] - q[:, None], axis=2), axis=1)[:, :10]
    np.testing.assert_allclose(d, exact, rtol=1e-4, atol=1e-4)  # the k nearest of those people
    _, none = ix.search(q, 5, model="another-model")
    assert (none == -1).all()
    _, mixed = ix.search(q, 5, people={"nobody"})
    assert (mixed == -1).all()


@pytest.mark.parametrize("where", WHERE)
def test_acknowledged_deletes_are_invisible_to_every_client(where: str, vectors, tmp_path, request) -> None:
    """Deletes made by one client, searched at once by another client while others keep searching."""
    x, _, q = vectors
    name, params = index_case(where, request)
    writer = create_index(name, 128, **params)
    writer.add(x, np.arange(len(x)))
    writer.save(tmp_path / "index.milvus")
    reader = index_class(name).load(tmp_path / "index.milvus")  # its own connection
    assert reader._client is not writer._client
    stop, errors = threading.Event(), []

    def hammer() -> None:
        other = index_class(name).load(tmp_path / "index.milvus")
        while not stop.is_set():
            try:
                other.search(q[:8], 10)
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for round_ in range(4):
            nearest = writer.search(q[round_ * 4:(round_ + 1) * 4], 3)[1]
            victims = np.unique(nearest[nearest >= 0])
            writer.remove(victims)  # acknowledged here
            for ix in (reader, writer):
                _, seen = ix.search(q[round_ * 4:(round_ + 1) * 4], 10)
                assert not np.isin(seen, victims).any(), f"deleted {victims} still found"
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors


def _snapshot(root: Path) -> dict[str, object]:
    """What a gallery holds: its settings, faces and index files (SQLite's -wal/-shm aside)."""
    with Gallery.open(root, create=False) as g:
        meta = {k: g.store.get_meta(k) for k in ("index", "index_params", "generation")}
        faces = g.store.face_ids().tolist()
    files = {p.name: p.read_bytes() for p in sorted(root.iterdir())
             if p.is_file() and p.name != STORE_FILE and not p.name.startswith(STORE_FILE)}
    return {"meta": meta, "faces": faces, "files": files}


def test_an_address_where_nothing_listens_is_a_clear_error_within_seconds(lfw_root: Path, tmp_path: Path) -> None:
    items = [it for it in lfw(lfw_root) if it.person in PEOPLE][:6]
    root = tmp_path / "g"
    with Gallery.open(root) as g:
        ingest(g, items, workers=1, progress=False)
    before = _snapshot(root)
    uri = f"http://127.0.0.1:{free_port()}"
    t = time.monotonic()
    with pytest.raises(IndexUnavailableError, match=r"did not answer.*store is unchanged"):
        Gallery.open(root, index="milvus", uri=uri)
    assert time.monotonic() - t < 10
    src = tmp_path / "src"
    src.mkdir()
    (src / "Aaron_Peirsol").symlink_to(lfw_root / "Aaron_Peirsol")
    t = time.monotonic()
    res = CliRunner().invoke(app, ["ingest", str(src), "--gallery", str(root), "--index-uri", uri])
    assert time.monotonic() - t < 15
    assert res.exit_code == 1 and "did not answer" in res.output, res.output
    assert _snapshot(root) == before


def test_lost_collection_is_rebuilt_from_the_store(lfw_root: Path, tmp_path: Path) -> None:
    items = [it for it in lfw(lfw_root) if it.person in PEOPLE][:12]
    with Gallery.open(tmp_path / "g", index="milvus") as g:
        ingest(g, items, workers=1, progress=False)
        ids, vecs = g.store.embeddings()
        g.index._client.drop_collection(g.index.collection)  # the vectors are gone, the store is not
    with pytest.warns(UserWarning, match="rebuilding"):
        g = Gallery.open(tmp_path / "g")
    with g:
        assert np.array_equal(g.index.live_ids(), ids)
        assert (g.index.search(vecs, 1)[1][:, 0] == ids).all()


def test_server_killed_mid_ingest_resumes_with_nothing_lost_or_duplicated(
        milvus_server: MilvusServerProcess, lfw_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lookalike.index.adapters.milvus_adapter import MilvusIndex

    items = [it for it in lfw(lfw_root) if it.person in PEOPLE][:24]
    root = tmp_path / "g"
    with Gallery.open(root, index="milvus", uri=milvus_server.uri) as g:
        ingest(g, items[:8], workers=1, progress=False)  # a saved, consistent start
    real_add, calls = MilvusIndex.add, [0]

    def add_then_kill(self, *a, **k):  # type: ignore[no-untyped-def]
        calls[0] += 1
        if calls[0] == 6:
            milvus_server.kill()  # SIGKILL by pid, mid-ingest
        return real_add(self, *a, **k)

    monkeypatch.setattr(MilvusIndex, "add", add_then_kill)
    t = time.monotonic()
    with pytest.raises(IndexUnavailableError, match="did not answer"), Gallery.open(root) as g:
        ingest(g, items, workers=1, progress=False)
    assert time.monotonic() - t < 60
    monkeypatch.setattr(MilvusIndex, "add", real_add)
    milvus_server.start()  # same folder and port
    with Gallery.open(root) as g:
        rep = ingest(g, items, workers=1, progress=False)
        assert rep.skipped_existing >= 8 + 5 and not rep.errors
        stored = g.store.face_ids()
        assert np.array_equal(g.index.live_ids(), stored) and len(g.index) == len(stored)  # no loss, no dupes
        assert g.store.image_paths() == {str(it.path) for it in items}
        ids, vecs = g.store.embeddings()
        assert (g.index.search(vecs, 1)[1][:, 0] == ids).all()
    with Gallery.open(tmp_path / "ref", index="exact") as ref:  # the same faces as an uninterrupted ingest
        ingest(ref, items, workers=1, progress=False)
        ref_ids, ref_vecs = ref.store.embeddings()
    assert len(ref_ids) == len(ids)
    np.testing.assert_array_equal(np.sort(ref_vecs, axis=0), np.sort(vecs, axis=0))
