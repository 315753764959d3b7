"""Galleries on real LFW photos with each kind of index: built, saved, reopened without a rebuild
where the library has a safe file format, rebuilt from the store where it has none."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lookalike.gallery import Gallery, lfw
from lookalike.gallery.index_state import IndexState
from lookalike.gallery.ingest import ingest
from lookalike.index import index_class
from tests.index.milvus_server import index_case

PEOPLE = ["Aaron_Peirsol", "Abdullah_Gul", "Adrien_Brody", "Alejandro_Toledo", "Ali_Naimi", "Amelie_Mauresmo"]


def test_a_new_gallery_uses_our_hnsw(tmp_path: Path) -> None:
    from lookalike.index.hnsw import HnswIndex

    with Gallery.open(tmp_path / "g") as g:
        assert isinstance(g.index, HnswIndex) and g.info()["index"] == "hnsw"
    with Gallery.open(tmp_path / "g") as g:  # and keeps it on reopening
        assert isinstance(g.index, HnswIndex)


@pytest.mark.parametrize("name", ["hnsw", "exact", "hnswlib", "faiss-flat", "faiss-hnsw", "faiss-ivfpq", "annoy",
                                  "ngt", "kdtree", "balltree", "milvus", "milvus@server"])
def test_gallery_with_index(name: str, lfw_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            request: pytest.FixtureRequest) -> None:
    if not index_class(name.split("@")[0]).available():
        pytest.skip(f"{name} is not installed")
    name, params = index_case(name, request)
    items = [it for it in lfw(lfw_root) if it.person in PEOPLE][:40]
    with Gallery.open(tmp_path / "g", index=name, **params) as g:
        ingest(g, items, workers=1, progress=False)
        ids, vecs = g.store.embeddings()
        before = g.index.search(vecs, 5)
        assert (before[1][:, 0] == ids).all()
        assert g.info()["index"] == name

    rebuilt: list[bool] = []
    real = IndexState.rebuild
    monkeypatch.setattr(IndexState, "rebuild", lambda self: rebuilt.append(True) or real(self))
    with Gallery.open(tmp_path / "g") as g:  # the saved choice of index is kept
        assert g.index_name == name and len(g.index) == len(ids)
        after = g.index.search(vecs, 5)
    assert rebuilt == ([] if index_class(name).persistent else [True])
    np.testing.assert_array_equal(before[1], after[1])
    np.testing.assert_allclose(before[0], after[0], rtol=1e-6)
