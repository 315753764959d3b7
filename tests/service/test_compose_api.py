"""REST composed queries over a labelled folder under the compose root, the /compose page, and the
errors: unknown person or value (listing what exists), a folder outside the root."""

from __future__ import annotations

from pathlib import Path

import pytest

from lookalike.faces.pipeline import FacePipeline
from lookalike.gallery import Gallery
from lookalike.service.app import create_app

from .live import TestClient

YALE6 = r"(?P<person>subject0[1-6])\.(?P<expression>happy|normal|sad|sleepy|surprised|wink)\.gif$"


def test_compose_endpoint(datasets: Path, pipeline: FacePipeline, tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOKALIKE_COMPOSE_ROOT", str(datasets))
    Gallery.open(tmp_path / "g", create=True).close()
    body = {"folder": "yale_faces", "labels_regex": YALE6}
    with TestClient(create_app(tmp_path / "g", pipeline=pipeline)) as c:
        page = c.get("/compose")
        assert page.status_code == 200 and "compose.js" in page.text
        found = c.post("/api/compose/labels", json=body).json()
        assert found["photos"] == 36 and found["people"] == 6 and found["unmatched"] == 128
        assert found["attributes"] == {"expression": ["happy", "normal", "sad", "sleepy", "surprised", "wink"]}

        out = c.post("/api/compose", json={**body, "person": "subject02", "attributes": {"expression": "surprised"},
                                           "k": 6, "index": "ngt"}).json()
        n = out["neighbours"]
        assert out["query"]["index"] == "ngt" and len(n) == 6 and all(x["person"] == "subject02" for x in n)
        assert {x["attributes"]["expression"] for x in n} == set(found["attributes"]["expression"])
        hits = [c.post("/api/compose", json={**body, "person": "subject02", "attributes": {"expression": v},
                                              "k": 1}).json()["neighbours"][0]["attributes"]["expression"] == v
                for v in found["attributes"]["expression"]]
        assert sum(hits) >= 4, hits  # the asked expression first for most of them (in-sample: the folder's model)
        assert n[0]["image"].startswith("yale_faces/subject02/")
        img = c.get("/api/compose/photo", params={"path": n[0]["image"]})
        assert img.status_code == 200 and img.content[:3] == b"GIF"

        bad = c.post("/api/compose", json={**body, "person": "subject42", "attributes": {"expression": "happy"}})
        assert bad.status_code == 400 and "people: subject01, subject02" in bad.json()["error"]["message"]
        bad = c.post("/api/compose", json={**body, "person": "subject01", "attributes": {"expression": "angry"}})
        assert bad.status_code == 400 and "expression values: happy, normal" in bad.json()["error"]["message"]
        bad = c.post("/api/compose/labels", json={**body, "labels_regex": "(?P<who>.)"})
        assert bad.status_code == 400 and bad.json()["error"]["type"] == "LabelPatternError"
        assert c.post("/api/compose/labels", json={**body, "folder": "../.."}).status_code == 400
        assert c.get("/api/compose/photo", params={"path": "../../etc/passwd"}).status_code == 400
        assert c.get("/api/compose/photo", params={"path": "yale_faces/nothing.gif"}).status_code == 404
        monkeypatch.delenv("LOOKALIKE_COMPOSE_ROOT")  # unset: the data-set folder
        assert c.post("/api/compose/labels", json=body).status_code == 200
        monkeypatch.setenv("LOOKALIKE_COMPOSE_ROOT", "")  # empty: off
        off = c.post("/api/compose/labels", json=body)
        assert off.status_code == 404 and "composed queries are off" in off.json()["error"]["message"]
