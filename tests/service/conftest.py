"""Fixtures of the service tests: a small real gallery (LFW photos), the models loaded once, apps."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lookalike.faces.pipeline import FacePipeline
from lookalike.gallery import Gallery, SourceItem, lfw

#: Joseph Biden is in the gallery with his LFW photos; queries are other photos of him
PEOPLE = [
    "Joseph_Biden",
    "Aaron_Peirsol",
    "Abdullah_Gul",
    "Adrien_Brody",
    "Alejandro_Toledo",
    "Ali_Naimi",
    "Amelie_Mauresmo",
    "Andre_Agassi",
    "Angelina_Jolie",
    "Ann_Veneman",
]
PER_PERSON = 5


def gallery_items(lfw_root: Path) -> list[SourceItem]:
    """A few dozen LFW photos: at most five of each of ten people."""
    seen: dict[str, int] = {}
    out = []
    for it in lfw(lfw_root):
        if it.person in PEOPLE and seen.get(it.person, 0) < PER_PERSON:
            seen[it.person] = seen.get(it.person, 0) + 1
            out.append(it)
    return out


@pytest.fixture(scope="session")
def pipeline() -> FacePipeline:
    """The face models, loaded once for every app of the session."""
    return FacePipeline()


@pytest.fixture(scope="session")
def base_gallery(lfw_root: Path, pipeline: FacePipeline, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small gallery, built once (embeddings come from the shared cache after the first run)."""
    root = tmp_path_factory.mktemp("service") / "gallery"
    with Gallery.open(root) as g:
        g.use_pipeline(pipeline)
        rep = g.ingest(gallery_items(lfw_root), workers=1, progress=False)
        assert rep.added_faces >= len(PEOPLE) * 4 and not rep.errors
    return root


@pytest.fixture
def gallery_copy(base_gallery: Path, tmp_path: Path) -> Path:
    """A private copy for tests that enrol or delete."""
    dst = tmp_path / "gallery"
    shutil.copytree(base_gallery, dst)
    return dst


@pytest.fixture(scope="session")
def photos(datasets: Path) -> dict[str, Path]:
    """Real query photos (none of them is in the gallery)."""
    fre = datasets / "face_recognition_examples"
    return {
        "biden": fre / "biden" / "train_biden2.jpg",
        "biden_small": fre / "biden" / "train_biden.jpg",
        "obama": fre / "obama" / "test_obama1.jpg",
        "obama_enrol": fre / "obama" / "train_obama.jpg",
        "obama_enrol2": fre / "obama" / "train_obama2.jpg",
        "obama_and_biden": datasets / "group_photos" / "face_recognition_obama_and_biden.jpg",
        "group": datasets / "group_photos" / "dlib_2008_002506.jpg",
        "dogs": datasets / "group_photos" / "dlib_dogs_NO_HUMAN_FACES.jpg",
        "stranger": datasets / "lfw" / "George_W_Bush" / "George_W_Bush_0001.jpg",
        "aaron_lfw": datasets / "lfw" / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg",
    }


@pytest.fixture
def no_env_token(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("LOOKALIKE_API_TOKEN", raising=False)
    yield
