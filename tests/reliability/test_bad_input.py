"""Every kind of broken or odd input gets its documented answer from the CLI and the Python API."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lookalike
from lookalike.cli import app
from lookalike.errors import LookalikeError
from lookalike.faces.image import MAX_BYTES
from tests.reliability.corpus import Case, build_corpus

pytestmark = pytest.mark.reliability


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, lfw_root: Path, group_photos: Path) -> list[Case]:
    return build_corpus(tmp_path_factory.mktemp("corpus"), lfw_root, group_photos, MAX_BYTES)


@pytest.fixture(scope="module")
def gallery(tmp_path_factory: pytest.TempPathFactory, lfw_root: Path) -> Path:
    src = tmp_path_factory.mktemp("people")
    for person in ["Aaron_Peirsol", "Adrien_Brody"]:
        shutil.copytree(lfw_root / person, src / person)
    root = tmp_path_factory.mktemp("g") / "gallery"
    lookalike.build_gallery(src, root, workers=1, progress=False)
    return root


def check_answer(case: Case, faces: list[dict] | None, error: str | None) -> None:
    if case.expect_error:
        assert error == case.expect_error, f"{case.what}: got {error or len(faces or [])} faces"
    else:
        assert error is None, f"{case.what}: unexpected {error}"
        assert faces is not None and case.min_faces <= len(faces) <= case.max_faces, f"{case.what}: {len(faces or [])}"


def test_cli_answers(corpus: list[Case], gallery: Path) -> None:
    runner = CliRunner()
    for case in corpus:
        res = runner.invoke(app, ["search", str(case.path), "-k", "3", "--gallery", str(gallery), "--json"])
        answer = json.loads(res.output)
        error = answer.get("error", {}).get("type")
        assert res.exit_code == (1 if error else 0), case.what
        check_answer(case, answer.get("faces"), error)


def test_python_api_answers(corpus: list[Case], gallery: Path) -> None:
    for case in corpus:
        try:
            faces = [m.as_dict() for m in lookalike.search(case.path, k=3, gallery=gallery)]
            error = None
        except LookalikeError as e:
            faces, error = None, type(e).__name__
        check_answer(case, faces, error)
        if case.name == "exif-rotated.jpg":  # rotated back upright: the same person is found
            assert faces and faces[0]["neighbours"][0]["person"] == "Aaron_Peirsol"
