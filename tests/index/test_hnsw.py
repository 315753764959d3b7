"""Our HNSW core: exact at full effort, efficient on face-like data, safe files, checked input."""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np
import pytest

from lookalike.errors import CorruptFileError
from lookalike.evaluation.ann import ground_truth, recall_at, true_distances
from lookalike.evaluation.synthetic import face_like
from lookalike.index import create_index
from lookalike.index.hnsw import HnswIndex


def test_exact_at_full_effort_on_10k_300d() -> None:
    """The seed report's test: with ef >= n the answers equal brute force on 10,000 × 300-d."""
    rng = np.random.default_rng(7)
    x = rng.random((10_000, 300), dtype=np.float32)
    q = rng.random((100, 300), dtype=np.float32)
    ix = create_index("hnsw", 300, M=16, ef_construction=100)
    ix.add(x, np.arange(len(x)))
    ix.set_search_params(ef=len(x))
    dist, ids = ix.search(q, 10)
    gt = ground_truth(x, q, depth=10)
    np.testing.assert_array_equal(ids, gt.ids)
    np.testing.assert_allclose(dist, gt.distances, rtol=1e-4)


def test_face_like_recall_with_few_distance_computations() -> None:
    """ef = 64 on 20,000 face-like vectors: recall@10 >= 0.95 with < n/10 distances per query
    (counted by the core), so no brute-force fallback could pass."""
    vecs, _ = face_like(20_200, seed=3)
    x, q = vecs[:20_000], vecs[20_000:]
    ix = create_index("hnsw", 128, M=16, ef_construction=200, ef=64)
    assert isinstance(ix, HnswIndex)
    ix.add(x, np.arange(len(x)))
    ix.core.reset_stats()
    _, ids = ix.search(q, 10)
    per_query = ix.core.distance_computations / len(q)
    gt = ground_truth(x, q, depth=10)
    recall = recall_at(true_distances(x, q, ids), gt, 10)
    assert recall >= 0.95, recall
    assert per_query < len(x) / 10, per_query


#: the core's kernels, weakest first, and the /proc/cpuinfo flags each one needs
ISAS = ("scalar", "sse", "avx2", "avx512")
_FLAGS = {"scalar": (), "sse": ("sse2",), "avx2": ("avx2", "fma"), "avx512": ("avx512f",)}


def _cpu_flags() -> set[str] | None:
    """The processor's flags as the kernel reports them (x86 Linux), or None where unknown."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return None


def _runnable(isa: str) -> bool:
    if isa == "scalar":
        return True
    flags = _cpu_flags()
    if flags is None or platform.machine().lower() not in ("x86_64", "amd64", "i686", "i386"):
        return False
    return all(f in flags for f in _FLAGS[isa])


def test_the_core_picks_the_best_kernel_the_processor_has(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checked against /proc/cpuinfo, not against the core's own detection."""
    from lookalike import _hnsw

    if _cpu_flags() is None:
        pytest.skip("no /proc/cpuinfo to check the choice against")
    monkeypatch.delenv("LOOKALIKE_HNSW_ISA", raising=False)
    best = [isa for isa in ISAS if _runnable(isa)][-1]
    assert _hnsw.simd() == best
    assert create_index("hnsw", 8).core.simd == best


@pytest.mark.parametrize("isa", ISAS)
def test_every_simd_kernel_agrees_with_numpy(isa: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each pass runs the kernel it names (the core reports the one it selected): a processor
    without that instruction set skips the pass instead of silently running a weaker kernel."""
    if not _runnable(isa):
        pytest.skip(f"this processor cannot run the {isa} kernels")
    monkeypatch.setenv("LOOKALIKE_HNSW_ISA", isa)
    rng = np.random.default_rng(0)
    for dim in (1, 3, 8, 15, 16, 17, 31, 33, 128, 300):
        x = rng.standard_normal((50, dim), dtype=np.float32)
        for space in ("l2", "ip"):
            ix = create_index("hnsw", dim, space=space, ef=100)
            assert isinstance(ix, HnswIndex)
            assert ix.core.simd == isa, f"asked for {isa}, the core ran {ix.core.simd}"
            ix.add(x, np.arange(50))
            dist, ids = ix.search(x[:5], 10)
            ref = (np.linalg.norm(x[ids] - x[:5, None], axis=2) if space == "l2"
                   else 1.0 - np.einsum("ijk,ik->ij", x[ids], x[:5]))
            np.testing.assert_allclose(dist, ref, rtol=1e-4, atol=1e-4, err_msg=f"{isa} {dim} {space}")


def test_parallel_and_serial_builds_are_equally_good() -> None:
    vecs, _ = face_like(5_100, seed=5)
    x, q = vecs[:5_000], vecs[5_000:]
    gt = ground_truth(x, q, depth=10)
    recalls = []
    for threads in (1, 2):
        ix = create_index("hnsw", 128, ef=32, threads=threads)
        ix.add(x, np.arange(len(x)))
        recalls.append(recall_at(true_distances(x, q, ix.search(q, 10)[1]), gt, 10))
    assert min(recalls) >= 0.95, recalls


def test_bad_input_is_rejected_clearly() -> None:
    ix = create_index("hnsw", 4)
    with pytest.raises(ValueError, match="shape"):
        ix.add(np.zeros((2, 5), np.float32), np.arange(2))
    with pytest.raises(ValueError, match="unique"):
        ix.add(np.zeros((2, 4), np.float32), np.array([1, 1]))
    with pytest.raises(ValueError, match="NaN"):
        ix.add(np.full((1, 4), np.nan, np.float32), np.arange(1))
    ix.add(np.eye(4, dtype=np.float32), np.arange(4))
    with pytest.raises(ValueError, match="already"):
        ix.add(np.eye(4, dtype=np.float32)[:1], np.arange(1))
    with pytest.raises(ValueError):
        ix.search(np.zeros((1, 3), np.float32), 1)
    with pytest.raises(ValueError):
        ix.search(np.zeros((1, 4), np.float32), 0)
    with pytest.raises(ValueError, match="ef"):
        create_index("hnsw", 4, ef=0)
    # the raw core checks too (the binding is the boundary)
    with pytest.raises(ValueError, match="dimension"):
        ix.core.add(np.zeros((1, 3), np.float32), np.array([9]))
    with pytest.raises(ValueError, match="labels"):
        ix.core.add(np.zeros((2, 4), np.float32), np.array([9]))


def _saved(tmp_path, n: int = 300) -> tuple[HnswIndex, bytes]:
    rng = np.random.default_rng(1)
    ix = create_index("hnsw", 16)
    ix.add(rng.standard_normal((n, 16), dtype=np.float32), np.arange(n))
    ix.remove(np.arange(0, n, 7))
    path = tmp_path / "a.hnsw"
    ix.save(path)
    return ix, path.read_bytes()


def test_truncated_files_raise_clear_errors(tmp_path) -> None:
    _, raw = _saved(tmp_path)
    bad = tmp_path / "bad.hnsw"
    for cut in (0, 1, 7, 8, 50, 87, 88, 1000, len(raw) // 2, len(raw) - 9, len(raw) - 1):
        bad.write_bytes(raw[:cut])
        with pytest.raises(CorruptFileError, match="truncated|too short"):
            HnswIndex.load(bad)
    bad.write_bytes(raw + b"\0")
    with pytest.raises(CorruptFileError, match="trailing"):
        HnswIndex.load(bad)
    with pytest.raises(FileNotFoundError):
        HnswIndex.load(tmp_path / "missing.hnsw")


def test_corrupted_files_raise_clear_errors(tmp_path) -> None:
    ix, raw = _saved(tmp_path)
    bad = tmp_path / "bad.hnsw"
    rng = np.random.default_rng(2)
    positions = [0, 5, 8, 12, 20, 40, 60, 80, *rng.integers(88, len(raw), 40).tolist(), len(raw) - 3]
    for pos in positions:
        for flip in (0x01, 0x80, 0xFF):
            data = bytearray(raw)
            data[pos] ^= flip
            bad.write_bytes(bytes(data))
            with pytest.raises(CorruptFileError):
                HnswIndex.load(bad)
    bad.write_bytes(bytes(rng.integers(0, 256, len(raw), dtype=np.uint8)))
    with pytest.raises(CorruptFileError, match="magic"):
        HnswIndex.load(bad)
    good = tmp_path / "good.hnsw"
    good.write_bytes(raw)
    again = HnswIndex.load(good)
    q = np.random.default_rng(3).standard_normal((20, 16), dtype=np.float32)
    for a, b in zip(ix.search(q, 5), again.search(q, 5)):
        np.testing.assert_array_equal(a, b)


def test_nodes_added_by_parallel_threads_are_all_reachable() -> None:
    """Regression: a node linked to a neighbour that another thread was still inserting lost its
    only way in when that neighbour wrote its own links (about half of these small builds stranded
    a node). Every vector must find itself at full effort, and without the reachability sweep's help
    (it would hide the race)."""
    rng = np.random.default_rng(0)
    for _ in range(100):
        n = int(rng.integers(5, 200))
        x = rng.normal(size=(n, 16)).astype(np.float32)
        ix = create_index("hnsw", 16, threads=2)
        ix.add(x, np.arange(n))
        assert ix.core.repaired == 0
        ix.set_search_params(ef=n)
        _, ids = ix.search(x, 1)
        np.testing.assert_array_equal(ids[:, 0], np.arange(n))


def test_wide_beams_use_heaps_and_stay_exact() -> None:
    """ef above the sorted pool's limit (2,048) takes the two-heap path: still exact at ef >= n, with
    deleted nodes traversed but never returned, and the same answers as the sorted pool."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3_000, 12)).astype(np.float32)
    q = rng.normal(size=(50, 12)).astype(np.float32)
    ix = create_index("hnsw", 12, M=8, ef_construction=64)
    ix.add(x, np.arange(len(x)))
    gone = rng.choice(len(x), 400, replace=False)
    ix.remove(gone)
    live = np.setdiff1d(np.arange(len(x)), gone)
    ix.set_search_params(ef=4_000)
    dist, ids = ix.search(q, 10)
    gt = ground_truth(x[live], q, depth=10)
    np.testing.assert_array_equal(ids, live[gt.ids])
    np.testing.assert_allclose(dist, gt.distances, rtol=1e-4)
    assert not np.isin(ids, gone).any()


@pytest.mark.parametrize("threads", [1, 2])
def test_churn_never_strands_a_node(threads: int) -> None:
    """Removes and re-adds (deleted slots rewired) on tiny sets with small M: before the reachability
    sweep about 7% of these trials left a live vector unreachable at any ef (hnswlib strands a node in
    as many plain builds). Every live vector must find itself at full effort."""
    rng = np.random.default_rng(threads)
    for _ in range(150):
        n = int(rng.integers(5, 120))
        pool = rng.normal(size=(400, 16)).astype(np.float32)
        ix = HnswIndex(16, M=8, ef_construction=16, threads=threads)
        ix.add(pool[1 : n + 1], np.arange(1, n + 1))
        live, nxt = set(range(1, n + 1)), n + 1
        for _ in range(6):
            gone = rng.choice(sorted(live), size=int(rng.integers(0, max(2, len(live) // 2))), replace=False)
            gone = gone[: len(live) - 1]
            ix.remove(gone)
            live -= set(gone.tolist())
            new = np.arange(nxt, nxt + int(rng.integers(1, 20)))
            nxt += len(new)
            ix.add(pool[new], new)
            live |= set(new.tolist())
        ids = np.array(sorted(live))
        ix.set_search_params(ef=ix.core.slots)
        _, found = ix.search(pool[ids], 1)
        np.testing.assert_array_equal(found[:, 0], ids)


def test_sweep_links_back_nodes_the_heuristic_cut_off() -> None:
    """On random 128-d vectors with M=4 the neighbour heuristic leaves many nodes with no way in
    (hubness: "anti-hubs" are nobody's kept neighbour). The sweep after the build links them back,
    so every vector finds itself at full effort."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1_500, 128)).astype(np.float32)
    ix = HnswIndex(128, M=4, ef_construction=64)
    ix.add(x, np.arange(len(x)))
    assert ix.core.repaired > 0 and ix.core.unswept == 0
    ix.set_search_params(ef=len(x))
    _, found = ix.search(x, 1)
    np.testing.assert_array_equal(found[:, 0], np.arange(len(x)))


def test_small_batches_are_swept_before_full_effort_searches_and_saves(tmp_path) -> None:
    """The sweep is amortised (after batches adding 1/16 of the index), but a search at full effort
    and a save always see a swept graph."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(1_000, 8)).astype(np.float32)
    ix = HnswIndex(8, M=4, ef_construction=16)
    ix.add(x[:900], np.arange(900))
    assert ix.core.unswept == 0
    ix.add(x[900:910], np.arange(900, 910))
    assert ix.core.unswept == 10
    ix.search(x[:3], 5)  # ordinary ef: no sweep
    assert ix.core.unswept == 10
    ix.set_search_params(ef=ix.core.slots)
    ix.search(x[:3], 5)
    assert ix.core.unswept == 0
    ix.add(x[910:920], np.arange(910, 920))
    ix.save(tmp_path / "i.hnsw")
    assert ix.core.unswept == 0
