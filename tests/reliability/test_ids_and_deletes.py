"""Issue 15, defects 1, 4 and 5: ids are never reused, deleting deletes, duplicates are found by content."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from lookalike.api import remove as api_remove
from lookalike.faces.pipeline import FacePipeline
from lookalike.gallery import Gallery
from lookalike.gallery.gallery import STORE_FILE
from lookalike.gallery.index_state import INDEX_IDS
from lookalike.gallery.store import SCHEMA_VERSION, NewFace, Store
from lookalike.service.app import create_app
from tests.service.live import TestClient

pytestmark = pytest.mark.reliability


def face(seed: int) -> NewFace:
    return NewFace((0, 0, 10, 10), 1.0, np.random.default_rng(seed).normal(size=128).astype(np.float32))


def test_store_never_reuses_ids(tmp_path: Path) -> None:
    """Defect 1: delete the face with the highest id, add another: it gets a new id (also people, images)."""
    s = Store(tmp_path / "s.sqlite")
    a = s.add_image("a.jpg", "A", [face(1)], "m", "sha-a")
    b = s.add_image("b.jpg", "B", [face(2)], "m", "sha-b")
    ids = {t: s._db.execute(f"SELECT MAX(id) FROM {t}").fetchone()[0] for t in ("people", "images")}
    s.remove_faces(b)  # the highest face id, its image and its person go
    c = s.add_image("c.jpg", "C", [face(3)], "m", "sha-c")
    assert c[0] > b[0] > a[0]
    for t, old in ids.items():
        assert s._db.execute(f"SELECT MAX(id) FROM {t}").fetchone()[0] > old, t
    s.close()


V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE images (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, person_id INTEGER REFERENCES people(id),
    sha256 TEXT, width INTEGER, height INTEGER, status TEXT NOT NULL, message TEXT);
CREATE TABLE faces (id INTEGER PRIMARY KEY, image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    person_id INTEGER REFERENCES people(id), left INTEGER NOT NULL, top INTEGER NOT NULL, right INTEGER NOT NULL,
    bottom INTEGER NOT NULL, score REAL, embedder TEXT NOT NULL, embedding BLOB NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1'), ('generation', '3'), ('embedder', 'm'), ('dim', '128');
INSERT INTO people VALUES (1, 'A'), (2, 'B');
INSERT INTO images VALUES (1, 'a.jpg', 1, 'sha-a', 10, 10, 'ok', NULL), (2, 'b.jpg', 2, 'sha-b', 10, 10, 'ok', NULL);
"""


def test_schema_1_gallery_is_upgraded_and_never_reuses_ids(tmp_path: Path) -> None:
    """Defect 1 for existing galleries: a schema-1 store is upgraded on open, rows and ids kept; ids the
    saved index still lists (faces deleted before the upgrade) are not handed out again."""
    root = tmp_path / "g"
    root.mkdir()
    db = sqlite3.connect(root / STORE_FILE)
    db.executescript(V1_SCHEMA)
    emb = [face(i).embedding.tobytes() for i in range(2)]
    db.executemany("INSERT INTO faces VALUES (?, ?, ?, 0, 0, 10, 10, 1.0, 'm', ?)",
                   [(5, 1, 1, emb[0]), (6, 2, 2, emb[1])])
    db.commit()
    db.close()
    np.save(root / INDEX_IDS, np.array([5, 6, 9], dtype=np.int64))  # face 9 was deleted under schema 1
    with Gallery.open(root, index="exact") as g:
        assert g.store.get_meta("schema_version") == str(SCHEMA_VERSION) == "2"
        assert g.store.face_ids().tolist() == [5, 6] and len(g.index) == 2
        assert g.store.people() == [("A", 1, 1), ("B", 1, 1)]
        ids = g.store.add_image("c.jpg", "C", [face(3)], "m", "sha-c")
        assert ids == [10]
        sql = g.store._db.execute("SELECT sql FROM sqlite_master WHERE name = 'faces'").fetchone()[0]
        assert "AUTOINCREMENT" in sql


def enrol(c: TestClient, person: str, *paths: Path):
    return c.post(
        "/api/gallery/faces",
        data={"person": person},
        files=[("files", (p.name, p.read_bytes(), "image/jpeg")) for p in paths],
    )


@pytest.fixture
def client(gallery_copy: Path, pipeline: FacePipeline):
    with TestClient(create_app(gallery_copy, token="", pipeline=pipeline)) as c:
        yield c


def test_web_ids_are_never_reused(client: TestClient, photos: dict[str, Path]) -> None:
    """Defect 1 over HTTP: enrol A (highest id), delete it, enrol B: B gets a new id; A's id stays gone."""
    a = enrol(client, "Person A", photos["obama_enrol"]).json()["added"][0]["face_id"]
    assert client.delete(f"/api/gallery/faces/{a}").status_code == 200
    b = enrol(client, "Person B", photos["biden_small"]).json()["added"][0]["face_id"]
    assert b > a
    assert client.get(f"/api/gallery/faces/{a}/thumbnail").status_code == 404
    assert client.delete(f"/api/gallery/faces/{a}").status_code == 404  # an old id deletes nobody else


def people(c: TestClient) -> dict[str, int]:
    return {p["name"]: p["faces"] for p in c.get("/api/gallery/people", params={"limit": 1000}).json()["people"]}


def test_delete_removes_the_photo_and_the_empty_person(
    client: TestClient, gallery_copy: Path, photos: dict[str, Path]
) -> None:
    """Defect 4: the uploaded photo leaves uploads/, the person leaves the list, re-enrolling works."""
    r = enrol(client, "Barack Obama", photos["obama_enrol"])
    assert r.status_code == 201, r.text
    fid = r.json()["added"][0]["face_id"]
    assert len(list((gallery_copy / "uploads").iterdir())) == 1
    d = client.delete(f"/api/gallery/faces/{fid}")
    assert d.json() == {"removed": [fid], "people_removed": ["Barack Obama"]}
    assert list((gallery_copy / "uploads").iterdir()) == []
    assert "Barack Obama" not in people(client)
    again = enrol(client, "Barack Obama", photos["obama_enrol"])
    assert again.status_code == 201 and len(again.json()["added"]) == 1, again.text
    assert people(client)["Barack Obama"] == 1


def test_remove_person_deletes_the_uploaded_photos(
    gallery_copy: Path, pipeline: FacePipeline, photos: dict[str, Path]
) -> None:
    """Defect 4, `lookalike remove --person`: the person's uploaded photos are deleted; ingested photos
    (the user's own files) are never deleted."""
    with TestClient(create_app(gallery_copy, token="", pipeline=pipeline)) as c:
        assert enrol(c, "Barack Obama", photos["obama_enrol"], photos["obama_enrol2"]).status_code == 201
    assert len(list((gallery_copy / "uploads").iterdir())) == 2
    with Gallery.open(gallery_copy, create=False) as g:
        biden = [r for r in g.store._db.execute(
            "SELECT i.path FROM images i JOIN people p ON p.id = i.person_id WHERE p.name = 'Joseph_Biden'")]
    assert len(api_remove(None, "Barack Obama", gallery_copy)) == 2
    assert list((gallery_copy / "uploads").iterdir()) == []
    assert len(api_remove(None, "Joseph_Biden", gallery_copy)) >= 1
    assert biden and all(Path(p).exists() for (p,) in biden)  # the data set's files are untouched


def test_duplicates_are_found_by_content(
    client: TestClient, photos: dict[str, Path], lfw_root: Path
) -> None:
    """Defect 5: the same photo cannot be enrolled for a second person, under any file name; the answer
    says who has it."""
    first = enrol(client, "Person A", photos["obama_enrol"])
    assert first.status_code == 201
    data = photos["obama_enrol"].read_bytes()
    dup = client.post("/api/gallery/faces", data={"person": "Person B"},
                      files=[("files", ("renamed.jpg", data, "image/jpeg"))])
    assert dup.status_code == 200 and dup.json()["added"] == [], dup.text
    assert "Person A" in dup.json()["skipped"][0]["reason"] and "same content" in dup.json()["skipped"][0]["reason"]
    # a photo ingested from the data set by the CLI, enrolled under another name
    lfw_photo = lfw_root / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg"
    dup2 = enrol(client, "Somebody Else", lfw_photo)
    assert dup2.status_code == 200 and dup2.json()["added"] == [], dup2.text
    assert "Aaron_Peirsol" in dup2.json()["skipped"][0]["reason"]
    assert "Person B" not in people(client) and "Somebody Else" not in people(client)
