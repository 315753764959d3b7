"""Shared fixtures: real photos from ``../shared/datasets`` and isolated data folders.

Embeddings of test photos are cached in the git-ignored ``.cache/`` folder of the checkout so a
second run of the suite skips the slow model; a clean clone computes them once.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.index.milvus_server import milvus_server  # noqa: F401  (a real Milvus server, started on demand)

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("LOOKALIKE_CACHE", str(REPO / ".cache"))

# imported after the cache folder is set
from lookalike.faces.pipeline import FacePipeline
from lookalike.gallery import Gallery
from lookalike.gallery.ingest import ingest
from tests._galleries import PEOPLE, gallery_items


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's real data folder from a test."""
    monkeypatch.setenv("LOOKALIKE_HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture(scope="session")
def datasets() -> Path:
    """The shared real-photo data sets; the suite needs them (CI has them beside the clone)."""
    from lookalike.settings import datasets_dir

    root = datasets_dir()
    if not (root / "lfw").is_dir():
        pytest.fail(f"real photo data sets not found at {root}; set LOOKALIKE_DATASETS")
    return root


@pytest.fixture(scope="session")
def lfw_root(datasets: Path) -> Path:
    return datasets / "lfw"


@pytest.fixture(scope="session")
def group_photos(datasets: Path) -> Path:
    return datasets / "group_photos"


# --- a small real gallery and query photos, shared by the service, browser and reliability tests ---
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
        rep = ingest(g, gallery_items(lfw_root), workers=1, progress=False)
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
