"""Every index behind the Index protocol (the optional ones that are installed) keeps the same contract."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from lookalike.errors import CorruptFileError, MissingDependencyError
from lookalike.evaluation.ann import ground_truth, recall_at, true_distances
from lookalike.evaluation.synthetic import face_like
from lookalike.index import available_indexes, create_index, index_class
from tests.index.milvus_server import index_case
from tests.index.milvus_server import installed as milvus_server_installed

AVAILABLE = [n for n in available_indexes() if index_class(n).available()]
# Milvus runs twice: embedded (Milvus Lite) and against a real server the tests start
CASES = AVAILABLE + (["milvus@server"] if "milvus" in AVAILABLE and milvus_server_installed() else [])
EXACT = {"exact", "faiss-flat", "kdtree", "balltree"}


def test_every_adapter_is_registered() -> None:
    expected = {"exact", "hnsw", "hnswlib", "faiss-flat", "faiss-hnsw", "faiss-ivfpq", "annoy", "ngt",
                "kdtree", "balltree", "milvus"}
    assert expected <= set(available_indexes())


@pytest.fixture(scope="module")
def faces() -> tuple[np.ndarray, np.ndarray]:
    vecs, _ = face_like(3_050, seed=11)
    return vecs[:3_000], vecs[3_000:]


@pytest.mark.parametrize("name", CASES)
def test_contract(name: str, faces: tuple[np.ndarray, np.ndarray], tmp_path, request) -> None:
    x, q = faces
    ids = np.arange(len(x), dtype=np.int64) * 3 + 5
    name, params = index_case(name, request)
    ix = create_index(name, 128, **params)
    assert len(ix) == 0
    d, i = ix.search(q[:2], 3)  # empty index: all padding
    assert (i == -1).all() and np.isinf(d).all()
    ix.add(x, ids)
    assert len(ix) == len(x)
    ix.build()
    d, i = ix.search(q, 10)
    assert d.shape == i.shape == (len(q), 10) and d.dtype == np.float32 and i.dtype == np.int64
    assert (np.diff(d, axis=1) >= -1e-5).all()  # nearest first
    pos = (i - 5) // 3
    gt = ground_truth(x, q, depth=10)
    recall = recall_at(true_distances(x, q, pos), gt, 10)
    assert recall == 1.0 if name in EXACT else recall >= 0.8, recall
    np.testing.assert_allclose(d, true_distances(x, q, pos), rtol=1e-3, atol=1e-3)  # Euclidean, not squared

    gone = ids[:1500]
    ix.remove(gone)
    ix.remove(np.array([10**12]))
    assert len(ix) == len(x) - 1500
    d, i = ix.search(q, 10)
    assert not np.isin(i, gone).any()
    _, big = ix.search(q[:1], 2000)  # more than there are: padded with -1
    assert (big[0, 1500:] == -1).all()
    if name in EXACT | {"hnsw"}:
        assert (big[0, :1500] >= 0).all()

    if ix.persistent:
        path = tmp_path / f"index.{name}"
        ix.save(path)
        back = type(ix).load(path)
        assert len(back) == len(ix)
        if name == "milvus":  # a live engine: segments are compacted and re-indexed in the background
            (da, ia), (db, ib) = ix.search(q, 10), back.search(q, 10)
            assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ia, ib)]) >= 0.95
            np.testing.assert_allclose(np.sort(da[:, 0]), np.sort(db[:, 0]), rtol=1e-5)
        else:
            for a, b in zip(ix.search(q, 10), back.search(q, 10)):
                np.testing.assert_array_equal(a, b)
        path.write_bytes(path.read_bytes()[:-20])
        with pytest.raises(CorruptFileError):
            type(ix).load(path)


@pytest.mark.parametrize("name", ["hnswlib", "faiss-flat", "faiss-hnsw", "faiss-ivfpq", "annoy", "ngt", "kdtree"])
def test_missing_package_gives_a_clear_error(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def fake(mod: str, *a, **k):  # type: ignore[no-untyped-def]
        if mod.split(".")[0] in {"hnswlib", "faiss", "annoy", "ngtpy", "sklearn"}:
            raise ImportError(mod)
        return real(mod, *a, **k)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(MissingDependencyError, match=r"pip install 'lookalike\[adapters\]'"):
        create_index(name, 8)
