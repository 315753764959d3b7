"""Our port of dlib's CNN (MMOD) face detector gives dlib's detections, and the pipeline detector finds the faces.

Equality with ``dlib.cnn_face_detection_model_v1``: same number of detections, IoU ≥ 0.99 per box
(in practice identical integer boxes) and scores within 1e-3, on real photos. CI runs a subset;
``benchmarks/detect.py`` checks all group photos and 500 LFW photos.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from lookalike.evaluation.detection import annotated_boxes, match
from lookalike.faces.detect import Box
from lookalike.faces.image import load_image

dlib = pytest.importorskip("dlib")
frm = pytest.importorskip("face_recognition_models")
pytest.importorskip("onnxruntime")

SCORE_TOL = 1e-3
MIN_IOU = 0.99


def _box(rect: tuple[int, int, int, int]) -> Box:
    left, top, right, bottom = rect
    return Box(left, top, right + 1, bottom + 1)


def _dlib_rect(r) -> tuple[int, int, int, int]:
    return (r.left(), r.top(), r.right(), r.bottom())


def _rect_down_2(rect: tuple[int, int, int, int]) -> tuple[int, ...]:
    """dlib's ``pyramid_down<2>::rect_down`` then ``drectangle → rectangle`` (what upsample=1 reports)."""
    from lookalike.faces.models.dlib_mmod.postprocess import lround

    l, t, r, b = rect
    return (lround(l / 2 - 1.25), lround(t / 2 - 0.75), lround(r / 2 - 1.25), lround(b / 2 - 0.75))


def assert_same(ours: list, theirs: list, where: str) -> float:
    """Same count, IoU ≥ 0.99 box for box (both sorted by score), scores within 1e-3; returns max |Δscore|."""
    assert len(ours) == len(theirs), f"{where}: {len(ours)} detections, dlib {len(theirs)}"
    worst = 0.0
    for (o_rect, o_score), (t_rect, t_score) in zip(ours, theirs):
        iou = _box(o_rect).iou(_box(t_rect))
        assert iou >= MIN_IOU, f"{where}: box {o_rect} vs dlib {t_rect} (IoU {iou:.3f})"
        assert abs(o_score - t_score) <= SCORE_TOL, f"{where}: score {o_score} vs dlib {t_score}"
        worst = max(worst, abs(o_score - t_score))
    return worst


@pytest.fixture(scope="module")
def dlib_cnn():
    return dlib.cnn_face_detection_model_v1(frm.cnn_face_detector_model_location())


@pytest.fixture(scope="module")
def network():
    from lookalike.faces.models.dlib_mmod.network import MMODNetwork

    return MMODNetwork()


def _theirs(dlib_cnn, image: np.ndarray, upsample: int = 0) -> list:
    return [(_dlib_rect(d.rect), d.confidence) for d in dlib_cnn(image, upsample)]


def _ours(network, image: np.ndarray) -> list:
    return [(d.rect, d.score) for d in network.detect(image)]


def test_reads_dlibs_detector_file() -> None:
    from lookalike.faces.models.dlib_mmod.weights import read_mmod_file

    inp, convs, loss = read_mmod_file(frm.cnn_face_detector_model_location())
    assert [(c.weight.shape[0], c.kernel, c.stride, c.padding) for c in convs] == [
        (16, 5, 2, 0), (32, 5, 2, 0), (32, 5, 2, 0), (45, 5, 1, 2), (45, 5, 1, 2), (45, 5, 1, 2), (1, 9, 1, 4)
    ]  # fmt: skip
    assert [c.relu for c in convs] == [True] * 6 + [False]
    assert (loss.windows[0].width, loss.windows[0].height) == (80, 80) and not loss.use_bbr
    assert 0.3 < loss.nms_iou < 0.4 and loss.nms_covered == 1.0
    assert (inp.padding, inp.outer_padding, inp.pyramid_n) == (10, 11, 6)


def test_tiled_layout_holds_every_level_without_overlap() -> None:
    from lookalike.faces.models.dlib_mmod.pyramid import level_sizes, tiled_layout

    for rows, cols in [(480, 640), (250, 250), (1080, 1920), (375, 500), (7, 9)]:
        lay = tiled_layout(rows, cols)
        sizes = level_sizes(rows, cols)
        assert [(b - t + 1, r - l + 1) for l, t, r, b in lay.rects] == sizes[: len(lay.rects)]
        for i, (l, t, r, b) in enumerate(lay.rects):
            assert 0 <= l <= r < lay.cols and 0 <= t <= b < lay.rows
            for l2, t2, r2, b2 in lay.rects[i + 1 :]:
                assert min(r, r2) < max(l, l2) or min(b, b2) < max(t, t2)


#: a CI-sized subset (the benchmark checks every group photo): faces of 63-109 px, found at upsample 0
CI_GROUP_PHOTOS = (
    "dlib_2008_001322.jpg",
    "dlib_2008_002506.jpg",
    "dlib_2008_001009.jpg",
    "dlib_2009_004587.jpg",
)


def test_equals_dlib_on_annotated_group_photos(group_photos: Path, dlib_cnn, network) -> None:
    worst = 0.0
    for photo in (group_photos / name for name in CI_GROUP_PHOTOS):
        image = load_image(photo)
        worst = max(worst, assert_same(_ours(network, image), _theirs(dlib_cnn, image), photo.name))
    print(f"largest score difference {worst:.2e}")


def test_equals_dlib_upsampled_once(group_photos: Path, dlib_cnn, network) -> None:
    """At upsample=1 dlib enlarges the photo with ``pyramid_up``; on that image our network agrees."""
    for name in ("dlib_2008_002470.jpg", "dlib_2008_004176.jpg"):  # faces of 37-52 px
        image = load_image(group_photos / name)
        rows, cols = image.shape[:2]  # pyramid_up's size: rect_up of the image, rounded (lround)
        up = np.asarray(dlib.resize_image(image, 2 * rows + 1, 2 * cols + 2))
        ours = [(_rect_down_2(r), s) for r, s in _ours(network, up)]
        theirs = _theirs(dlib_cnn, image, 1)
        assert len(theirs) >= 5
        assert_same(ours, theirs, name)


def test_equals_dlib_on_lfw_subset(lfw_root: Path, dlib_cnn, network) -> None:
    photos = sorted(lfw_root.glob("*/*.jpg"))
    sample = random.Random(16).sample(photos, 16)
    for photo in sample:
        image = load_image(photo)
        assert_same(_ours(network, image), _theirs(dlib_cnn, image), photo.name)


def test_no_face_on_dogs(group_photos: Path, network) -> None:
    assert network.detect(load_image(group_photos / "dlib_dogs_NO_HUMAN_FACES.jpg")) == []


@pytest.fixture(scope="module")
def mmod_detector():
    from lookalike.faces.models.dlib_mmod.detector import MMODFaceDetector

    return MMODFaceDetector(min_face=36)


def test_pipeline_detector_finds_annotated_faces(group_photos: Path, mmod_detector) -> None:
    """min_face=36 (the photo enlarged 2.2×) finds every annotated face (37 px and up), no false positive."""
    total = found = false_pos = 0
    for photo, truth in annotated_boxes(group_photos).items():
        image = load_image(photo)
        faces = mmod_detector.detect(image)
        counts = match([f.box for f in faces], truth)
        total, found, false_pos = (
            total + counts.truth,
            found + counts.found,
            false_pos + counts.false_positives,
        )
        areas = [f.box.area for f in faces]
        assert areas == sorted(areas, reverse=True)
        assert all(f.landmarks.shape == (5, 2) for f in faces)
    assert total >= 40
    assert found == total, f"found {found} of {total}"
    assert false_pos == 0


def test_min_face_skipping_keeps_faces_at_least_that_large(group_photos: Path) -> None:
    """With the first pyramid levels skipped, every annotated face at least ``min_face`` wide is still found.

    The photos are enlarged 2× (faces 74-218 px) so that several faces clear each minimum.
    """
    from lookalike.faces.models.dlib_mmod.detector import MMODFaceDetector

    checked = 0
    for min_face, skipped in ((96, 1), (120, 2)):
        det = MMODFaceDetector(min_face=min_face)
        for photo, truth in annotated_boxes(group_photos).items():
            image = load_image(photo)
            big = [Box(2 * t.left, 2 * t.top, 2 * t.right, 2 * t.bottom) for t in truth]
            big = [t for t in big if t.right - t.left >= min_face]
            if not big:
                continue
            image = np.asarray(dlib.resize_image(image, 2 * image.shape[0], 2 * image.shape[1]))
            assert det.plan(*image.shape[:2]) == (1.0, skipped)
            counts = match([f.box for f in det.detect(image)], big)
            assert counts.found == len(big), f"{photo.name} min_face={min_face}: {counts}"
            checked += len(big)
    assert checked >= 10


def test_min_face_skipping_matches_dlib_for_large_faces(lfw_root: Path, dlib_cnn) -> None:
    """Skipping the first level keeps dlib's detections of faces too large for it (LFW faces ≈ 110 px).

    Not bit-equal: the pyramid now starts at dlib's level 1, so the tiling (and the padding each
    tile sees) differs, scores move by ~0.01 and neighbouring windows can swap places (IoU ≈ 0.8).
    """
    from lookalike.faces.models.dlib_mmod.detector import MMODFaceDetector

    det = MMODFaceDetector(min_face=96)
    photos = random.Random(7).sample(sorted(lfw_root.glob("*/*.jpg")), 10)
    agree = 0
    for photo in photos:
        image = load_image(photo)
        theirs = [(r, s) for r, s in _theirs(dlib_cnn, image) if r[2] - r[0] + 1 >= 96]
        ours = [(d.rect, d.score) for d in det.raw_detect(image)]
        if len(ours) == len(theirs) and all(_box(a[0]).iou(_box(b[0])) >= 0.6 for a, b in zip(ours, theirs)):
            agree += 1
    assert agree == len(photos)


def test_torch_runner_agrees_with_onnx(group_photos: Path, network) -> None:
    pytest.importorskip("torch")
    from lookalike.faces.models.dlib_mmod.network import MMODNetwork

    torch_net = MMODNetwork(runtime="torch", device="cpu")
    image = load_image(group_photos / "dlib_2008_001322.jpg")
    assert_same(_ours(torch_net, image), _ours(network, image), "torch vs onnx")


def test_selectable_by_name(group_photos: Path) -> None:
    from lookalike.errors import LookalikeError
    from lookalike.faces.detectors import create_detector

    det = create_detector("mmod", min_face=80)
    assert det.name == "mmod" and det.upsample == "min80"
    faces = det.detect(load_image(group_photos / "dlib_2008_002506.jpg"))
    assert len(faces) == 3 and faces[0].box.area >= faces[-1].box.area
    with pytest.raises(LookalikeError):
        create_detector("nope")


def test_plan_enlarges_skips_and_caps() -> None:
    from lookalike.faces.models.dlib_mmod.detector import MMODFaceDetector

    det = MMODFaceDetector(min_face=40)
    assert det.plan(375, 500) == (2.0, 0)  # faces from 40 px: enlarge 2x
    scale, skip = det.plan(3000, 4000)  # 12 MP: capped at 2 MP, i.e. skip levels instead
    assert scale == 1.0 and skip == 4  # 12e6 * (5/6)**8 = 2.8e6 pixels left
    assert MMODFaceDetector(min_face=40, max_pixels=None).plan(3000, 4000) == (2.0, 0)
    assert MMODFaceDetector(min_face=200).plan(480, 640) == (1.0, 5)


def test_pipeline_spec_selects_mmod(group_photos: Path) -> None:
    from lookalike.faces.pipeline import FacePipeline
    from lookalike.faces.spec import PipelineSpec, default_spec

    spec = PipelineSpec.parse("detector=mmod,min_face=80,fallback=mmod")
    assert spec.key != default_spec().key and "min_face=80" in spec.describe()
    photo = FacePipeline(spec).process_path(group_photos / "dlib_2008_002506.jpg")
    assert photo.face_count == 3 and photo.faces[0].embedding.shape == (128,)
