"""Damaged files: a corrupted store is reported and left untouched; a damaged index is rebuilt with a warning."""
from __future__ import annotations

import hashlib
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

import lookalike
from lookalike.errors import CorruptFileError
from lookalike.gallery import Gallery

pytestmark = pytest.mark.reliability


@pytest.fixture
def gallery(tmp_path: Path, lfw_root: Path) -> Path:
    src = tmp_path / "people"
    shutil.copytree(lfw_root / "Aaron_Peirsol", src / "Aaron_Peirsol")
    root = tmp_path / "gallery"
    lookalike.build_gallery(src, root, workers=1, progress=False)
    return root


@pytest.mark.parametrize("damage", ["garbage", "truncated", "zeroed-header"])
def test_corrupt_store_is_reported_never_overwritten(gallery: Path, damage: str) -> None:
    store = gallery / "store.sqlite"
    data = store.read_bytes()
    if damage == "garbage":
        data = b"this is not a database" * 100
    elif damage == "truncated":
        data = data[:1000]
    else:
        data = b"\0" * 100 + data[100:]
    store.write_bytes(data)
    for f in gallery.glob("store.sqlite-*"):
        f.unlink()
    before = hashlib.sha256(store.read_bytes()).hexdigest()
    with pytest.raises(CorruptFileError), Gallery.open(gallery) as g:
        g.store.embeddings()
    assert hashlib.sha256(store.read_bytes()).hexdigest() == before


@pytest.mark.parametrize("damage", ["truncated", "flipped-bytes", "empty"])
def test_damaged_index_is_rebuilt_from_store(gallery: Path, damage: str) -> None:
    with Gallery.open(gallery) as g:
        ids, vecs = g.store.embeddings()
    index = next(p for p in gallery.iterdir() if p.name.startswith("index.") and p.suffix not in (".json",))
    data = bytearray(index.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "flipped-bytes":
        for i in range(len(data) // 3, len(data) // 3 + 64):
            data[i] ^= 0xFF
    else:
        data = bytearray()
    index.write_bytes(bytes(data))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Gallery.open(gallery) as g:
            assert len(g.index) == len(ids)
            _, found = g.index.search(vecs, 1)
            assert np.array_equal(found[:, 0], ids)
    assert any("rebuilding" in str(w.message) for w in caught)
