"""The command line on real photos: ingest, search (table and JSON), info, remove, clear errors."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lookalike.cli import app

from ._env import child_env

runner = CliRunner()


@pytest.fixture(scope="module")
def people_tree(lfw_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("people")
    for person in ["Aaron_Peirsol", "Adrien_Brody", "Amelie_Mauresmo"]:
        shutil.copytree(lfw_root / person, root / person)
    return root


def invoke(*args: str) -> tuple[int, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.output


def test_ingest_search_info_remove(people_tree: Path, tmp_path: Path) -> None:
    g = str(tmp_path / "gallery")
    code, out = invoke("ingest", str(people_tree), "--gallery", g, "--workers", "1", "--json")
    assert code == 0, out
    summary = json.loads(out)
    assert summary["added_images"] == summary["photos"] > 10 and summary["errors"] == 0

    query = min((people_tree / "Adrien_Brody").iterdir())
    code, out = invoke("search", str(query), "-k", "5", "--gallery", g, "--json", "--exclude-self")
    assert code == 0, out
    answer = json.loads(out)
    [face] = answer["faces"]
    assert set(face["box"]) == {"left", "top", "right", "bottom"}
    assert len(face["neighbours"]) == 5
    first = face["neighbours"][0]
    assert set(first) == {"rank", "face_id", "person", "distance", "similarity", "image"}
    assert first["person"] == "Adrien_Brody" and first["image"] != str(query)

    code, out = invoke("search", str(query), "-k", "3", "--gallery", g)
    assert code == 0 and "Adrien_Brody" in out and "similarity" in out

    code, out = invoke("info", "--gallery", g, "--json")
    info = json.loads(out)
    assert info["people"] == 3 and info["faces"] == info["indexed"] == summary["added_faces"]

    code, out = invoke("remove", str(first["face_id"]), "--gallery", g, "--json")
    assert json.loads(out) == {"removed": [first["face_id"]], "not_found": []}
    code, out = invoke("remove", "--person", "Amelie_Mauresmo", "--gallery", g)
    assert code == 0 and "removed" in out
    code, out = invoke("info", "--gallery", g, "--json")
    assert json.loads(out)["people"] == 2


def test_clear_errors(tmp_path: Path, group_photos: Path) -> None:
    g = str(tmp_path / "gallery")
    code, out = invoke("search", str(group_photos / "faces.csv"), "--gallery", g)
    assert code == 1 and "no gallery" in out
    code, out = invoke("ingest", str(tmp_path / "missing"), "--gallery", g)
    assert code == 1 and "does not exist" in out
    code, out = invoke("remove", "--gallery", g)
    assert code == 1 and "say what to remove" in out
    code, out = invoke("info", "--indexes", "--json")
    assert "exact" in json.loads(out)["indexes"]


def test_search_bad_photo_json_error(people_tree: Path, tmp_path: Path, group_photos: Path) -> None:
    g = str(tmp_path / "gallery")
    invoke("ingest", str(people_tree / "Aaron_Peirsol"), "--gallery", g, "--workers", "1", "--json")
    code, out = invoke("search", str(group_photos / "faces.csv"), "--gallery", g, "--json")
    assert code == 1 and json.loads(out)["error"]["type"] == "UnreadableImageError"
    code, out = invoke("search", str(group_photos / "dlib_dogs_NO_HUMAN_FACES.jpg"), "--gallery", g, "--json")
    assert code == 1 and json.loads(out)["error"]["type"] == "NoFaceError"


def test_identify_and_verify(people_tree: Path, tmp_path: Path, datasets: Path) -> None:
    g = str(tmp_path / "gallery")
    invoke("ingest", str(people_tree), "--gallery", g, "--workers", "1", "--json")
    photos = sorted((people_tree / "Adrien_Brody").iterdir())
    code, out = invoke("identify", str(photos[0]), "--gallery", g, "--json")
    assert code == 0, out
    [face] = json.loads(out)["faces"]
    assert face["person"] == "Adrien_Brody" and face["known"]
    stranger = datasets / "face_recognition_examples" / "biden" / "train_biden.jpg"
    code, out = invoke("identify", str(stranger), "--gallery", g, "--json")
    assert json.loads(out)["faces"][0]["person"] is None  # nobody in this gallery: "unknown"
    code, out = invoke("verify", str(photos[0]), str(photos[1]), "--json")
    assert code == 0 and json.loads(out)["same"] is True
    code, out = invoke("verify", str(photos[0]), str(stranger), "--json")
    assert code == 0 and json.loads(out)["same"] is False


def test_python_dash_m_runs_the_same_command_line(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "lookalike", "info", "--gallery", str(tmp_path / "none"), "--json"],
                          env=child_env(), capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["error"]["type"] == "GalleryNotFoundError"
