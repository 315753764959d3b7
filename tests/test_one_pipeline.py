"""What we measure is what we serve: one photo gives the same vector through ingest, the evaluation
harness, the CLI and the web service — all four go through the one FacePipeline of the default spec."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from lookalike.cli import app
from lookalike.evaluation.protocols.base import EvalContext
from lookalike.faces.pipeline import FacePipeline
from lookalike.faces.spec import default_spec
from lookalike.gallery import Gallery, lfw
from lookalike.gallery.ingest import ingest
from lookalike.service.app import create_app
from tests.service.live import TestClient  # addresses the app as 127.0.0.1 (Host allow-list)

PEOPLE = ["Abdullah_Gul", "Amelie_Mauresmo", "Aaron_Peirsol"]


def test_service_cli_and_evaluation_see_the_same_vectors(lfw_root: Path, tmp_path: Path) -> None:
    items = [it for person in PEOPLE for it in [i for i in lfw(lfw_root) if i.person == person][:3]]
    root = tmp_path / "g"
    with Gallery.open(root) as g:
        assert g.spec == default_spec()
        ingest(g, items, workers=2, progress=False)
        ids, stored = g.store.embeddings()
        path_of = {fid: rec.image for fid, rec in g.store.faces(ids.tolist()).items()}
    stored_by_path = {path_of[int(i)]: v for i, v in zip(ids, stored)}
    face_of = {path_of[int(i)]: int(i) for i in ids}

    # the evaluation harness: the protocols' vectors of the same photos are the stored ones, bit for bit
    ctx = EvalContext(FacePipeline(default_spec()), lfw_root.parent, tmp_path, [])
    paths = [str(it.path) for it in items]
    np.testing.assert_array_equal(ctx.vectors(paths), np.stack([stored_by_path[p] for p in paths]))

    # the web service and the CLI: each query photo finds its own stored face at distance exactly 0
    with TestClient(create_app(root, token="")) as client:
        for p in paths[::3]:
            with open(p, "rb") as fh:
                answer = client.post("/api/search", files={"file": ("q.jpg", fh, "image/jpeg")}, data={"k": "1"})
            top = answer.json()["faces"][0]["neighbours"][0]
            assert (top["face_id"], top["distance"]) == (face_of[p], 0.0)
            res = CliRunner().invoke(app, ["search", p, "--gallery", str(root), "-k", "1", "--json"])
            top = json.loads(res.output)["faces"][0]["neighbours"][0]
            assert (top["face_id"], top["distance"]) == (face_of[p], 0.0)
