"""Detection on real group photos against the face boxes annotated in dlib's XML files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lookalike.evaluation.detection import annotated_boxes  # the same reader the detection benchmark uses
from lookalike.faces.align import align_all
from lookalike.faces.detect import FaceDetector, most_central
from lookalike.faces.image import load_image


@pytest.fixture(scope="module")
def hog() -> FaceDetector:
    return FaceDetector("hog")


def test_finds_at_least_90_percent_of_annotated_faces(group_photos: Path, hog: FaceDetector) -> None:
    truth = annotated_boxes(group_photos)
    assert len(truth) >= 9 and sum(map(len, truth.values())) >= 40
    found = total = 0
    for photo, boxes in truth.items():
        detected = [f.box for f in hog.detect(load_image(photo))]
        total += len(boxes)
        found += sum(any(t.iou(d) >= 0.5 for d in detected) for t in boxes)
    assert found / total >= 0.90, f"found {found} of {total} annotated faces"


def test_no_face_on_dogs(group_photos: Path, hog: FaceDetector) -> None:
    assert hog.detect(load_image(group_photos / "dlib_dogs_NO_HUMAN_FACES.jpg")) == []


def test_faces_largest_first_with_landmarks_inside(group_photos: Path, hog: FaceDetector) -> None:
    image = load_image(group_photos / "dlib_2008_002506.jpg")
    faces = hog.detect(image)
    assert len(faces) >= 3
    areas = [f.box.area for f in faces]
    assert areas == sorted(areas, reverse=True)
    for f in faces:
        assert f.landmarks.shape == (5, 2)
        b = f.box
        pad = 0.3 * (b.right - b.left)
        assert np.all(f.landmarks[:, 0] > b.left - pad) and np.all(f.landmarks[:, 0] < b.right + pad)


def test_chips_and_centre_face(lfw_root: Path, hog: FaceDetector) -> None:
    image = load_image(lfw_root / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg")
    faces = hog.detect(image)
    centre = most_central(faces, image.shape)
    assert centre is not None
    cx, cy = centre.box.center
    assert abs(cx - 125) < 30 and abs(cy - 125) < 30  # LFW photos are centred on the labelled person
    chips = align_all(image, [centre], 150, 0.25)
    assert chips.shape == (1, 150, 150, 3) and chips.dtype == np.uint8


def test_bad_detector_settings_are_refused() -> None:
    from lookalike.errors import LookalikeError

    with pytest.raises(LookalikeError):
        FaceDetector("yolo")  # type: ignore[arg-type]
    with pytest.raises(LookalikeError):
        FaceDetector("hog", upsample=9)
