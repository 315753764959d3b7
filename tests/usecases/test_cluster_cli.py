"""`lookalike cluster …` on a real gallery: run, list, name, merge, undo, split (JSON answers)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from lookalike.cli import app

runner = CliRunner()


def cli(*args: str) -> dict:
    res = runner.invoke(app, ["cluster", *args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_cluster_commands(gallery_copy: Path) -> None:
    g = ["--gallery", str(gallery_copy)]
    run = cli("run", *g)
    assert run["mode"] == "full" and run["faces"] > 40
    listed = cli("list", *g, "--min-size", "2")["clusters"]
    assert len(listed) >= 5
    a, b = listed[0], listed[1]
    named = cli("name", str(a["id"]), "Someone", *g)["clusters"][0]
    assert named["name"] == "Someone"
    merged = cli("merge", str(a["id"]), str(b["id"]), *g)["clusters"][0]
    assert merged["size"] == a["size"] + b["size"] and merged["name"] == "Someone"
    assert cli("undo", *g)["restored"] == [b["id"]]
    shown = cli("show", str(a["id"]), *g)["clusters"][0]
    assert shown["size"] == a["size"]
    split = cli("split", str(shown["faces"][0]), *g)["clusters"][0]
    assert split["size"] == 1 and split["name"] is None
    again = cli("run", *g)
    assert again["mode"] == "none"
    bad = runner.invoke(app, ["cluster", "show", "999999", *g])
    assert bad.exit_code == 1 and "no cluster 999999" in bad.output
    assert runner.invoke(app, ["cluster", "undo", *g]).exit_code == 1  # nothing to undo


def test_cluster_an_unlabelled_folder_of_group_photos(group_photos: Path, tmp_path: Path) -> None:
    """Five photos of the same TV cast: every face of every photo is kept and grouped; one person appears
    once per photo, so a group never holds two faces of one photo, and some groups span photos."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for n in range(1, 6):
        shutil.copy(group_photos / f"faceapi_bbt{n}.jpg", folder)
    g = ["--gallery", str(tmp_path / "gallery")]
    run = cli("run", str(folder), *g)
    assert run["mode"] == "full" and run["faces"] >= 10
    groups = cli("list", *g, "--limit", "1000")["clusters"]
    assert sum(c["size"] for c in groups) == run["faces"]
    from lookalike.api import open_gallery

    with open_gallery(tmp_path / "gallery", create=False) as gal:
        recs = gal.store.faces([f for c in groups for f in c["faces"]])
    spans = []
    for c in groups:
        images = [recs[f].image for f in c["faces"]]
        assert len(images) == len(set(images)), c  # never two faces of one photo
        spans.append(len(set(images)))
    assert max(spans) >= 3  # someone was recognised across at least three photos
