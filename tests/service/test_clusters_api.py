"""REST endpoints of clusters on a real gallery: list, run, name (searchable), merge, undo, split; the
write token guards every change; unknown clusters are 404."""

from __future__ import annotations

from pathlib import Path

from lookalike.faces.pipeline import FacePipeline
from lookalike.service.app import create_app

from .live import TestClient

TOKEN = "s3cret-token-for-the-cluster-tests-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_cluster_endpoints(gallery_copy: Path, pipeline: FacePipeline, photos: dict[str, Path]) -> None:
    with TestClient(create_app(gallery_copy, token=TOKEN, pipeline=pipeline)) as c:
        empty = c.get("/api/clusters").json()
        assert empty["clusters"] == [] and empty["summary"]["unclustered_faces"] > 40
        assert c.post("/api/clusters/run", json={}).status_code == 401  # writes need the token
        run = c.post("/api/clusters/run", json={}, headers=AUTH).json()
        assert run["mode"] == "full" and run["faces"] == empty["summary"]["unclustered_faces"]
        listed = c.get("/api/clusters", params={"min_size": 2}).json()["clusters"]
        assert len(listed) >= 5 and all(x["size"] >= 2 and x["faces"][0] == x["representative"] for x in listed)
        assert c.get("/api/clusters/999999").status_code == 404
        assert c.put("/api/clusters/999999/name", json={"name": "X"}, headers=AUTH).status_code == 404

        # name the cluster that holds the Biden photos; a search then answers with the new name
        top = c.post("/api/search", files={"file": ("b.jpg", photos["biden"].read_bytes())}, data={"k": "1"}).json()
        face = top["faces"][0]["neighbours"][0]["face_id"]
        owner = next(x for x in c.get("/api/clusters", params={"limit": 500, "faces": 100}).json()["clusters"]
                     if face in x["faces"])
        assert c.put(f"/api/clusters/{owner['id']}/name", json={"name": "Uncle Joe"}).status_code == 401
        named = c.put(f"/api/clusters/{owner['id']}/name", json={"name": "Uncle Joe"}, headers=AUTH).json()
        assert named["name"] == "Uncle Joe"
        again = c.post("/api/search", files={"file": ("b.jpg", photos["biden"].read_bytes())}, data={"k": "1"}).json()
        assert again["faces"][0]["neighbours"][0]["person"] == "Uncle Joe"

        # merge two clusters, undo, split
        a, b = [x for x in listed if x["id"] != owner["id"]][:2]
        merged = c.post("/api/clusters/merge", json={"ids": [a["id"], b["id"]]}, headers=AUTH).json()
        assert merged["id"] == a["id"] and merged["size"] == a["size"] + b["size"]
        assert c.get(f"/api/clusters/{b['id']}").status_code == 404
        undone = c.post("/api/clusters/undo", headers=AUTH).json()
        assert undone["restored"] == [b["id"]] and c.get(f"/api/clusters/{b['id']}").json()["size"] == b["size"]
        assert c.post("/api/clusters/undo", headers=AUTH).status_code == 400  # nothing left to undo
        faces = c.get(f"/api/clusters/{a['id']}").json()["faces"]
        split = c.post("/api/clusters/split", json={"faces": faces[:1]}, headers=AUTH).json()
        assert split["size"] == 1 and split["faces"] == faces[:1]
        assert c.get(f"/api/clusters/{a['id']}").json()["size"] == a["size"] - 1
