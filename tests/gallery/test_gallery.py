"""Gallery on real photos: ingest (parallel, cached, resumable), search, remove; store and index stay in step."""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from lookalike.errors import LookalikeError, NoFaceError
from lookalike.gallery import Gallery, SourceItem, lfw, sample_people
from lookalike.gallery.gallery import DEFAULT_INDEX
from lookalike.gallery.ingest import ingest
from lookalike.usecases.search import search_photo

PEOPLE = ["Aaron_Peirsol", "Abdullah_Gul", "Adrien_Brody", "Alejandro_Toledo", "Ali_Naimi", "Amelie_Mauresmo"]


@pytest.fixture(scope="module")
def items(lfw_root: Path, group_photos: Path, tmp_path_factory: pytest.TempPathFactory) -> list[SourceItem]:
    bad = tmp_path_factory.mktemp("bad") / "not-a-photo.jpg"
    bad.write_text("this is text, not a JPEG")
    labelled = [it for it in lfw(lfw_root) if it.person in PEOPLE]
    per_person: dict[str, int] = {}
    keep = []
    for it in labelled:
        per_person[it.person] = per_person.get(it.person, 0) + 1
        if per_person[it.person] <= 4:
            keep.append(it)
    return keep + [
        SourceItem(group_photos / "dlib_2008_002506.jpg", None),  # unlabelled: every face kept
        SourceItem(group_photos / "dlib_dogs_NO_HUMAN_FACES.jpg", None),  # no face
        SourceItem(bad, None),  # unreadable
    ]


def assert_consistent(g: Gallery) -> None:
    """Every stored face is in the index under its id, and nothing else is."""
    ids, vecs = g.store.embeddings()
    assert len(g.index) == len(ids) == len(set(ids.tolist()))
    if len(ids):
        d, found = g.index.search(vecs, 1)
        assert np.array_equal(found[:, 0], ids) and np.allclose(d[:, 0], 0, atol=1e-3)


def test_ingest_search_remove(items: list[SourceItem], tmp_path: Path) -> None:
    with Gallery.open(tmp_path / "g") as g:
        rep = ingest(g, items, workers=2, progress=False)
        labelled = sum(it.person is not None for it in items)
        assert rep.added_images == len(items) - 1 and len(rep.errors) == 1
        assert "not-a-photo" in rep.errors[0][0]
        assert len(rep.no_face) == 1 and "dogs" in rep.no_face[0]
        assert rep.added_faces >= labelled + 3  # one per labelled photo, ≥ 3 in the group photo
        assert_consistent(g)
        info = g.info()
        assert info["people"] == len(PEOPLE) and info["faces"] == rep.added_faces

        query = next(it for it in items if it.person == "Aaron_Peirsol")
        [match] = search_photo(g, query.path, k=5, exclude_self=True).faces
        assert str(query.path) not in [n.image for n in match.neighbours]
        assert match.neighbours[0].person == "Aaron_Peirsol"
        assert [n.rank for n in match.neighbours] == [1, 2, 3, 4, 5]
        assert all(a.distance <= b.distance for a, b in zip(match.neighbours, match.neighbours[1:]))
        assert 0 <= match.neighbours[-1].similarity <= match.neighbours[0].similarity <= 100

        group = search_photo(g, items[-3].path, k=1).faces
        assert len(group) >= 3 and all(m.neighbours[0].distance < 1e-3 for m in group)  # finds its own faces
        with pytest.raises(NoFaceError):
            search_photo(g, items[-2].path)

        gone = g.remove_person("Aaron_Peirsol")
        assert len(gone) == 4
        [match] = search_photo(g, query.path, k=20).faces
        assert "Aaron_Peirsol" not in {n.person for n in match.neighbours}
        face = match.neighbours[0].face_id
        assert g.remove_faces([face, 10**9]) == [face]
        assert_consistent(g)

    with Gallery.open(tmp_path / "g") as g:  # reopened: index loaded, still in step
        assert_consistent(g)
        assert g.info()["people"] == len(PEOPLE) - 1
        # ingesting the source again skips stored photos and brings back the removed person's photos
        # and the photo of the removed face (deleting its only face deleted its record)
        rep = ingest(g, items, progress=False)
        assert rep.added_images == 5 and rep.skipped_existing == len(items) - 5  # bad files are remembered too
        assert g.info()["people"] == len(PEOPLE)
        assert_consistent(g)


def test_interrupted_ingest_resumes_without_duplicates(
    items: list[SourceItem], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    real = Gallery.add_photo

    def flaky(self: Gallery, *a: object, **kw: object) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 7:
            raise KeyboardInterrupt
        return real(self, *a, **kw)

    with Gallery.open(tmp_path / "g") as g:
        monkeypatch.setattr(Gallery, "add_photo", flaky)
        rep = ingest(g, items, workers=1, progress=False)
        assert rep.interrupted and rep.added_images == 6
        assert_consistent(g)
    monkeypatch.setattr(Gallery, "add_photo", real)
    with Gallery.open(tmp_path / "g") as g:
        assert_consistent(g)
        rep = ingest(g, items, workers=1, progress=False)
        assert not rep.interrupted and rep.skipped_existing == 6
        assert rep.added_images == len(items) - 6 - 1  # the unreadable file is reported, not stored as ok
        paths = [p for p in g.store.image_paths()]
        assert len(paths) == len(set(paths))
        assert_consistent(g)
        with Gallery.open(tmp_path / "fresh") as fresh:
            ingest(fresh, items, workers=1, progress=False)
            assert fresh.info()["faces"] == g.info()["faces"]


def test_stale_or_corrupt_index_is_replayed_or_rebuilt(items: list[SourceItem], tmp_path: Path) -> None:
    root = tmp_path / "g"
    with Gallery.open(root) as g:
        ingest(g, items[:12], workers=1, progress=False)
    saved = tmp_path / "saved"
    shutil.copytree(root, saved, ignore=shutil.ignore_patterns("gallery.sqlite*"))
    with Gallery.open(root) as g:
        g.remove_person("Abdullah_Gul")
        ingest(g, items[12:16], workers=1, progress=False)
        expected = len(g.index)
    for f in saved.iterdir():  # put back the index of an older generation
        shutil.copyfile(f, root / f.name)
    with Gallery.open(root) as g:
        assert len(g.index) == expected
        assert_consistent(g)
    index_file = next(root.glob(f"index.{DEFAULT_INDEX}"))
    index_file.write_bytes(index_file.read_bytes()[:100])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Gallery.open(root) as g:
            assert len(g.index) == expected
            assert_consistent(g)
    assert any("rebuilding" in str(w.message) for w in caught)


def test_missing_gallery_and_bad_index_name(tmp_path: Path) -> None:
    with pytest.raises(LookalikeError, match="no gallery"):
        Gallery.open(tmp_path / "nothing", create=False)
    with pytest.raises(LookalikeError):
        Gallery.open(tmp_path / "g", index="no-such-index")


def test_sample_people_feeds_ingest(lfw_root: Path) -> None:
    sample = sample_people(lfw(lfw_root), 3, min_images=5, seed=1)
    assert len({it.person for it in sample}) == 3 and len(sample) >= 15
