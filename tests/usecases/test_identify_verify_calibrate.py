"""Recognition on real LFW photos: identify (known / unknown), verify, calibration stored with the embedder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lookalike import api
from lookalike.errors import IndexMismatchError, NoFaceError
from lookalike.faces.pipeline import FacePipeline
from lookalike.gallery import Gallery, lfw
from lookalike.gallery.ingest import ingest
from lookalike.usecases.calibrate import Calibration, calibrate_gallery, load_calibration, save_calibration
from lookalike.usecases.identify import identify_photo
from lookalike.usecases.verify import verify_photos

DLIB_THRESHOLD = 0.6  # dlib's documented same-person distance, the model card's default

ENROLLED = ["Alejandro_Toledo", "Amelie_Mauresmo", "Abdullah_Gul", "Adrien_Brody"]
STRANGER = "Ali_Naimi"


@pytest.fixture(scope="module")
def gallery(lfw_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three photos of each enrolled person; their fourth photo is the query."""
    items = [it for it in lfw(lfw_root) if it.person in ENROLLED]
    keep, seen = [], {}
    for it in items:
        seen[it.person] = seen.get(it.person, 0) + 1
        if seen[it.person] <= 3:
            keep.append(it)
    root = tmp_path_factory.mktemp("recog") / "g"
    with Gallery.open(root) as g:
        ingest(g, keep, workers=1, progress=False)
    return root


def _photo(lfw_root: Path, person: str, n: int) -> Path:
    return lfw_root / person / f"{person}_{n:04d}.jpg"


def test_identify_known_and_unknown(gallery: Path, lfw_root: Path) -> None:
    with Gallery.open(gallery, create=False) as g:
        for person in ENROLLED:
            out = identify_photo(g, _photo(lfw_root, person, 4)).as_dict()
            assert out["faces"][0]["person"] == person and out["faces"][0]["known"]
        out = identify_photo(g, _photo(lfw_root, STRANGER, 1)).as_dict()
    assert out["faces"][0]["person"] is None and not out["faces"][0]["known"]
    assert out["faces"][0]["distance"] > out["threshold"]
    # the Python API answers the same through the same use case
    assert api.identify(_photo(lfw_root, STRANGER, 1), gallery=gallery) == out


def test_verify_same_and_different(lfw_root: Path) -> None:
    pipe = FacePipeline()
    same = verify_photos(pipe, _photo(lfw_root, "Amelie_Mauresmo", 1), _photo(lfw_root, "Amelie_Mauresmo", 2))
    diff = verify_photos(pipe, _photo(lfw_root, "Amelie_Mauresmo", 1), _photo(lfw_root, "Adrien_Brody", 1))
    assert same["same"] and not diff["same"]
    assert same["distance"] < diff["distance"] and same["threshold"] == DLIB_THRESHOLD
    assert same["similarity"] > 50 > diff["similarity"]


def test_verify_no_face(lfw_root: Path, group_photos: Path) -> None:
    with pytest.raises(NoFaceError, match="dlib_dogs_NO_HUMAN_FACES"):
        verify_photos(FacePipeline(), _photo(lfw_root, "Amelie_Mauresmo", 1),
                      group_photos / "dlib_dogs_NO_HUMAN_FACES.jpg")


def test_calibration_is_stored_and_tied_to_the_embedder(gallery: Path) -> None:
    with Gallery.open(gallery, create=False) as g:
        out = calibrate_gallery(g, target_far=0.05).as_dict()
    assert 0.0 < out["far"] <= 0.05 and out["embedder"] == "dlib-resnet-v1"
    with Gallery.open(gallery, create=False) as g:
        assert g.threshold == pytest.approx(out["threshold"])
        cal = load_calibration(g)
        assert cal is not None and cal.threshold == pytest.approx(out["threshold"])
        with pytest.raises(IndexMismatchError):
            save_calibration(g, Calibration(0.5, 0.01, 0.01, None, 0, 1000, embedder="another-model"))
        # a threshold stored for another embedder is ignored, never applied
        g.store.set_meta("threshold_embedder", "another-model")
        assert g.threshold == DLIB_THRESHOLD and load_calibration(g) is not None
        g.store.set_meta("threshold_embedder", "dlib-resnet-v1")
        assert np.isclose(g.threshold, out["threshold"])
