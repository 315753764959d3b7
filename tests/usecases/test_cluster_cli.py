"""`lookalike cluster …` on a real gallery: run, list, name, merge, undo, split (JSON answers)."""

from __future__ import annotations

import json
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
