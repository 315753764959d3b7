"""Galleries built with an older pipeline: opened with their own spec, refused another, migrated in place."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lookalike.errors import IndexMismatchError
from lookalike.faces.spec import LEGACY_SPEC_TEXT, PipelineSpec, default_spec
from lookalike.gallery import Gallery, lfw, meta
from lookalike.gallery.ingest import ingest
from lookalike.usecases.migrate import migrate
from lookalike.usecases.search import search_photo


def test_a_gallery_from_before_specs_is_migrated(lfw_root: Path, tmp_path: Path) -> None:
    items = [it for it in lfw(lfw_root) if it.person in ("Abdullah_Gul", "Adrien_Brody")][:8]
    root = tmp_path / "g"
    legacy = PipelineSpec.parse(LEGACY_SPEC_TEXT)
    with Gallery.open(root, spec=legacy) as g:
        ingest(g, items, workers=1, progress=False)
        with g.store.transaction() as db:  # as a gallery written before specs were recorded
            db.execute("DELETE FROM meta WHERE key IN (?, ?)", (meta.SPEC, meta.SPEC_KEY))
        old_vectors = g.store.embeddings()[1]
    with Gallery.open(root) as g:  # recognised as the legacy pipeline and served with it
        assert g.spec.key == legacy.key
        assert search_photo(g, items[0].path, k=1).faces[0].neighbours[0].distance == 0.0
    with pytest.raises(IndexMismatchError, match="lookalike migrate"):
        Gallery.open(root, spec=default_spec())
    result = migrate(root, workers=1, progress=False)
    assert result.kept_at is not None and result.kept_at.is_dir() and result.report.added_faces == len(items)
    with Gallery.open(root, create=False) as g:
        assert g.spec.key == default_spec().key and g.info()["faces"] == len(items)
        new_vectors = g.store.embeddings()[1]
        assert not np.allclose(new_vectors, old_vectors)  # re-embedded, not copied
        assert search_photo(g, items[0].path, k=1).faces[0].neighbours[0].distance == 0.0
    assert migrate(root, progress=False).report is None  # nothing left to do
