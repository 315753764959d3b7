"""The Python API (lookalike.api, re-exported as lookalike.*): every call on a small real gallery."""

from __future__ import annotations

from pathlib import Path

import pytest

import lookalike
from lookalike.errors import GalleryNotFoundError, LookalikeError, NoFaceError
from lookalike.gallery import lfw

PEOPLE = ["Aaron_Peirsol", "Abdullah_Gul", "Adrien_Brody"]


@pytest.fixture(scope="module")
def gallery(lfw_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("api") / "g"
    items = [it for person in PEOPLE for it in [i for i in lfw(lfw_root) if i.person == person][:5]]
    report = lookalike.build_gallery(items, root, workers=1, progress=False)
    assert report.added_faces == report.added_images == len(items) and not report.errors
    again = lookalike.build_gallery(items, root, workers=1, progress=False)  # resumes: nothing new
    assert again.skipped_existing == len(items) and again.added_images == 0
    return root


def test_search_identify_verify(gallery: Path, lfw_root: Path) -> None:
    photo = lfw_root / "Abdullah_Gul" / "Abdullah_Gul_0001.jpg"
    [face] = lookalike.search(photo, k=3, gallery=gallery)
    assert face.neighbours[0].person == "Abdullah_Gul" and face.neighbours[0].distance == 0.0
    [other] = lookalike.search(photo, k=3, gallery=gallery, exclude_self=True)
    assert other.neighbours[0].distance > 0.0 and len(other.neighbours) == 3
    who = lookalike.identify(photo, gallery=gallery)
    assert who["faces"][0]["person"] == "Abdullah_Gul" and who["faces"][0]["known"]
    same = lookalike.verify(photo, lfw_root / "Abdullah_Gul" / "Abdullah_Gul_0002.jpg", gallery=gallery)
    assert same["same"] and same["threshold"] == lookalike.info(gallery)["threshold"]
    assert not lookalike.verify(photo, lfw_root / "Adrien_Brody" / "Adrien_Brody_0001.jpg")["same"]


def test_info_and_remove(gallery: Path, tmp_path: Path) -> None:
    info = lookalike.info(gallery)
    assert info["people"] == len(PEOPLE) and info["indexed"] == info["faces"] and info["pipeline"] == "default"
    with lookalike.open_gallery(gallery, create=False) as g:
        n = len(g.store.face_ids())
    gone = lookalike.remove(person="Aaron_Peirsol", gallery=gallery)
    assert gone and lookalike.info(gallery)["faces"] == n - len(gone)
    with pytest.raises(LookalikeError, match="say what to remove"):
        lookalike.remove(gallery=gallery)
    with pytest.raises(GalleryNotFoundError):
        lookalike.info(tmp_path / "nowhere")


def test_errors_are_typed(gallery: Path, group_photos: Path) -> None:
    with pytest.raises(NoFaceError):
        lookalike.search(group_photos / "dlib_dogs_NO_HUMAN_FACES.jpg", gallery=gallery)
