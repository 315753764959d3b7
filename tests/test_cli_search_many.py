"""`lookalike search` with several photos and folders (recursing into their images) and `--csv`, on
real photos; the single-photo table and JSON stay as they were (tests/test_cli.py)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lookalike.cli import app
from lookalike.usecases.search_many import CSV_FIELDS, expand_photos

runner = CliRunner()


@pytest.fixture(scope="module")
def gallery(lfw_root: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("people")
    for person in ["Aaron_Peirsol", "Adrien_Brody", "Amelie_Mauresmo"]:
        (root / person).mkdir()
        for f in sorted((lfw_root / person).iterdir())[:3]:
            shutil.copy(f, root / person / f.name)
    g = str(tmp_path_factory.mktemp("g") / "gallery")
    res = runner.invoke(app, ["ingest", str(root), "--gallery", g, "--workers", "1", "--json"])
    assert res.exit_code == 0, res.output
    return g


@pytest.fixture(scope="module")
def queries(lfw_root: Path, group_photos: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A folder with a nested folder of photos, a non-photo and a hidden file; a loose photo; a photo
    without a face."""
    d = tmp_path_factory.mktemp("queries")
    (d / "nested" / "deeper").mkdir(parents=True)
    shutil.copy(lfw_root / "Adrien_Brody" / "Adrien_Brody_0010.jpg", d / "nested" / "brody.jpg")
    shutil.copy(lfw_root / "Amelie_Mauresmo" / "Amelie_Mauresmo_0010.jpg", d / "nested" / "deeper" / "amelie.JPG")
    (d / "nested" / "notes.txt").write_text("not a photo")
    shutil.copy(lfw_root / "Aaron_Peirsol" / "Aaron_Peirsol_0004.jpg", d / "nested" / ".hidden.jpg")
    return {"folder": d / "nested", "aaron": lfw_root / "Aaron_Peirsol" / "Aaron_Peirsol_0004.jpg",
            "dogs": group_photos / "dlib_dogs_NO_HUMAN_FACES.jpg"}


def test_folders_expand_to_their_photos(queries: dict[str, Path], tmp_path: Path) -> None:
    got = expand_photos([queries["aaron"], queries["folder"]])
    assert [p.name for p in got] == ["Aaron_Peirsol_0004.jpg", "brody.jpg", "amelie.JPG"]
    with pytest.raises(Exception, match="no such file"):
        expand_photos([tmp_path / "missing.jpg"])
    with pytest.raises(Exception, match="holds no photos"):
        expand_photos([tmp_path])


def test_several_photos_and_folders_as_json(gallery: str, queries: dict[str, Path]) -> None:
    res = runner.invoke(app, ["search", str(queries["aaron"]), str(queries["folder"]), str(queries["dogs"]),
                              "-k", "3", "--gallery", gallery, "--json"])
    assert res.exit_code == 0, res.output
    answers = json.loads(res.output)["photos"]
    assert [Path(a["photo"]).name for a in answers] == [
        "Aaron_Peirsol_0004.jpg", "brody.jpg", "amelie.JPG", "dlib_dogs_NO_HUMAN_FACES.jpg"]
    tops = [a["faces"][0]["neighbours"][0]["person"] for a in answers[:3]]
    assert tops == ["Aaron_Peirsol", "Adrien_Brody", "Amelie_Mauresmo"]
    assert all(len(a["faces"][0]["neighbours"]) == 3 for a in answers[:3])
    assert answers[3]["error"]["type"] == "NoFaceError"


def test_csv_has_a_row_per_photo_face_and_match(gallery: str, queries: dict[str, Path]) -> None:
    res = runner.invoke(app, ["search", str(queries["folder"]), str(queries["dogs"]), "-k", "2",
                              "--gallery", gallery, "--csv"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.output)))
    assert list(rows[0]) == CSV_FIELDS
    ok = [r for r in rows if not r["error"]]
    assert len(ok) == 2 * 2  # two photos × one face × two matches
    assert [(Path(r["photo"]).name, r["face"], r["rank"]) for r in ok] == [
        ("brody.jpg", "1", "1"), ("brody.jpg", "1", "2"), ("amelie.JPG", "1", "1"), ("amelie.JPG", "1", "2")]
    assert ok[0]["person"] == "Adrien_Brody" and 0 < float(ok[0]["distance"]) < float(ok[1]["distance"])
    assert int(ok[0]["right"]) > int(ok[0]["left"]) and ok[0]["image"].endswith(".jpg")
    [bad] = [r for r in rows if r["error"]]
    assert Path(bad["photo"]).name == "dlib_dogs_NO_HUMAN_FACES.jpg" and "no face" in bad["error"]


def test_single_photo_output_is_unchanged_and_all_failing_exits_1(gallery: str, queries: dict[str, Path]) -> None:
    res = runner.invoke(app, ["search", str(queries["aaron"]), "-k", "2", "--gallery", gallery, "--json"])
    assert res.exit_code == 0 and list(json.loads(res.output)) == ["faces"]
    res = runner.invoke(app, ["search", str(queries["aaron"]), "-k", "2", "--gallery", gallery])
    assert res.exit_code == 0 and "Aaron_Peirsol" in res.output and "face 1 of 1" in res.output
    res = runner.invoke(app, ["search", str(queries["dogs"]), str(queries["dogs"]), "--gallery", gallery])
    assert res.exit_code == 1 and "no face" in res.output
    res = runner.invoke(app, ["search", str(queries["aaron"]), "--json", "--csv", "--gallery", gallery])
    assert res.exit_code == 1 and "one of --json and --csv" in res.output
