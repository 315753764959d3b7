"""The pipeline spec and the one pipeline: hashing, parsing, selections, and a second embedder
(different chip size, cosine metric) registered with one line and run through ingest → search → identify."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lookalike.errors import IndexMismatchError, LookalikeError, NoFaceError
from lookalike.faces.embed import EmbedderCard, check_chips, register_embedder
from lookalike.faces.pipeline import FacePipeline, parse_selection
from lookalike.faces.spec import LEGACY_SPEC_TEXT, PipelineSpec, default_spec
from lookalike.gallery import Gallery, lfw
from lookalike.gallery.ingest import ingest
from lookalike.usecases.identify import identify_photo
from lookalike.usecases.search import search_photo

PEOPLE = ["Aaron_Peirsol", "Abdullah_Gul", "Adrien_Brody", "Amelie_Mauresmo"]


# ------------------------------------------------------------------------------------------ the spec
def test_spec_key_is_stable_and_names_what_changes_vectors() -> None:
    spec = default_spec("onnx")
    assert spec.key == default_spec("onnx").key and hash(spec) == hash(default_spec("onnx"))
    # the three runtimes of dlib's ResNet give the same vectors, so they share a key
    assert spec.key == replace(spec, embedder="dlib").key == replace(spec, embedder="torch").key
    for changed in (replace(spec, padding=0.25), replace(spec, mirror=False), replace(spec, upsample=0),
                    replace(spec, pick="central"), replace(spec, fallback="none"), replace(spec, landmarks="68")):
        assert changed.key != spec.key
    # padding None means the model's own (0.25 for dlib's ResNet)
    assert replace(spec, padding=None).key == replace(spec, padding=0.25).key


def test_spec_parse_and_describe() -> None:
    legacy = PipelineSpec.parse(LEGACY_SPEC_TEXT)
    assert (legacy.padding, legacy.mirror, legacy.fallback, legacy.pick) == (0.25, False, "none", "central")
    assert PipelineSpec.parse(legacy.describe()) == legacy
    assert default_spec().describe() == "default"
    assert PipelineSpec.parse("upsample=auto,padding=model").padding is None
    with pytest.raises(LookalikeError, match="unknown pipeline field"):
        PipelineSpec.parse("colour=blue")
    with pytest.raises(LookalikeError, match="detector must be one of"):
        PipelineSpec(detector="haar")
    with pytest.raises(LookalikeError, match="padding"):
        PipelineSpec(padding=2.0)


def test_parse_selection() -> None:
    assert parse_selection(None) == "all" and parse_selection("largest") == 1 and parse_selection("3") == 3
    assert parse_selection("center") == "center" and parse_selection("labelled") == "labelled"
    for bad in ("0", "-1", "biggest"):
        with pytest.raises(LookalikeError):
            parse_selection(bad)


# ------------------------------------------------------------------------------------------ the pipeline
@pytest.fixture(scope="module")
def pipe() -> FacePipeline:
    return FacePipeline(default_spec("onnx"))


def test_mirror_averages_the_mirrored_chip(pipe: FacePipeline, lfw_root: Path) -> None:
    res = pipe.process_path(lfw_root / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg")
    [face] = res.faces
    plain = pipe.embedder.embed(face.chip[None])[0]
    mirrored = pipe.embedder.embed(face.chip[None, :, ::-1])[0]
    np.testing.assert_allclose(face.embedding, (plain + mirrored) / 2, atol=1e-6)
    assert face.chip.shape == (150, 150, 3) and res.face_count == 1 and face.number == 1


def test_selections_and_no_face(pipe: FacePipeline, group_photos: Path) -> None:
    group = group_photos / "dlib_2008_002506.jpg"
    everyone = pipe.process_path(group)
    assert len(everyone.faces) == everyone.face_count >= 3
    assert [f.number for f in everyone.faces] == list(range(1, everyone.face_count + 1))
    areas = [f.box.area for f in everyone.faces]
    assert areas == sorted(areas, reverse=True)
    second = pipe.process_path(group, 2)
    assert second.faces[0].number == 2 and np.array_equal(second.faces[0].embedding, everyone.faces[1].embedding)
    with pytest.raises(LookalikeError, match="no face number"):
        pipe.process_path(group, 99)
    dogs = group_photos / "dlib_dogs_NO_HUMAN_FACES.jpg"
    assert pipe.process_path(dogs).faces == []
    with pytest.raises(NoFaceError):
        pipe.process_path(dogs, require_face=True)


def test_labelled_vectors_equal_the_single_photo_path(pipe: FacePipeline, lfw_root: Path) -> None:
    """The batch path (workers, cache, embedding in batches) gives the same vectors as one photo at a time."""
    paths = sorted(str(p) for p in (lfw_root / "Abdullah_Gul").glob("*.jpg"))[:6]
    batch = pipe.labelled_vectors(paths, workers=2, progress=False)
    again = pipe.labelled_vectors(paths, workers=1, progress=False)  # from the cache now
    single = np.stack([pipe.process_path(p, "labelled").faces[0].embedding for p in paths])
    assert np.array_equal(batch, single) and np.array_equal(again, single)


def test_a_pipeline_refuses_an_embedder_of_another_model(pipe: FacePipeline) -> None:
    toy_spec = replace(default_spec(), embedder=_register_toy())
    with pytest.raises(IndexMismatchError):
        FacePipeline(toy_spec, embedder=pipe.embedder)


# ------------------------------------------------------------------------------------------ a second model
TOY_CARD = EmbedderCard(name="toy-grey-8x8", dim=64, chip_size=112, chip_padding=0.3, metric="cosine",
                        normalized=True, threshold=0.5, threshold_source="a test model")


class ToyEmbedder:
    """A 'model' that is an 8×8 grey thumbnail of the chip: another chip size, another metric."""

    card = TOY_CARD

    def embed(self, chips: np.ndarray) -> np.ndarray:
        arr = check_chips(chips, self.card.chip_size).astype(np.float32).mean(axis=3)
        return arr.reshape(len(arr), 8, 14, 8, 14).mean(axis=(2, 4)).reshape(len(arr), 64) - 128.0


def _register_toy() -> str:
    register_embedder("toy", TOY_CARD, ToyEmbedder)  # the one line a new model needs
    return "toy"


def test_a_second_embedder_runs_ingest_search_identify(lfw_root: Path, tmp_path: Path) -> None:
    spec = replace(default_spec(), embedder=_register_toy(), padding=None)
    items = [it for it in lfw(lfw_root) if it.person in PEOPLE][:16]
    with Gallery.open(tmp_path / "toy", spec=spec) as g:
        rep = ingest(g, items, workers=1, progress=False)
        assert rep.added_faces >= 14
        _, vecs = g.store.embeddings()
        assert vecs.shape[1] == 64 and np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)  # cosine → unit
        query = items[0].path
        [face] = search_photo(g, query, k=3).faces
        assert face.neighbours[0].distance == pytest.approx(0.0, abs=1e-6)
        assert face.neighbours[0].person == items[0].person
        [who] = identify_photo(g, query).faces
        assert who.identity.person == items[0].person and g.threshold == TOY_CARD.threshold
        chip = g.pipeline().process_path(query).faces[0].chip
        assert chip.shape == (112, 112, 3)
    with pytest.raises(IndexMismatchError, match="migrate"):  # the gallery keeps its own pipeline
        Gallery.open(tmp_path / "toy", spec=default_spec())
