"""Hypothesis: on small random sets, HNSW at full effort behaves exactly like brute force through
adds, removes, re-adds (slots reused) and save/load, in both spaces.

The neighbour heuristic of every HNSW can leave a node with no way in (tiny M, many exact
duplicates such as 1-d unit vectors, slots of deleted nodes rewired); hnswlib then cannot find it
at any ef. Ours repairs level-0 reachability after each add, so no M or dim is excluded here."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lookalike.index import create_index
from lookalike.index.hnsw import HnswIndex


@st.composite
def scenarios(draw: st.DrawFn) -> dict:
    n = draw(st.integers(1, 80))
    dim = draw(st.integers(1, 20))  # 1-d unit vectors are all ±1: many exact duplicates
    return {
        "space": draw(st.sampled_from(["l2", "ip"])),
        "M": draw(st.sampled_from([2, 3, 4, 8, 16, 32])),
        "seed": draw(st.integers(0, 2**31)),
        "n": n,
        "dim": dim,
        "remove_frac": draw(st.floats(0, 1)),
        "readd": draw(st.integers(0, n)),
        "k": draw(st.integers(1, 100)),
    }


def _same(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], live: dict[int, np.ndarray],
          q: np.ndarray, space: str, tol: float = 1e-4) -> None:
    """Same distances as brute force; every returned id is live, unique and really at that distance
    (so ids differ only among ties)."""
    np.testing.assert_allclose(a[0], b[0], rtol=tol, atol=tol)
    for qq, drow, irow in zip(q, *a):
        got = irow[irow >= 0]
        assert len(set(got.tolist())) == len(got)
        for d, i in zip(drow, got):
            v = live[int(i)]
            true = np.linalg.norm(qq - v) if space == "l2" else 1.0 - float(qq @ v)
            assert abs(true - d) <= tol * (1 + abs(d))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_behaves_like_brute_force(s: dict) -> None:
    rng = np.random.default_rng(s["seed"])
    x = rng.standard_normal((s["n"], s["dim"]), dtype=np.float32)
    if s["space"] == "ip":
        x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-12
    ids = rng.permutation(10 * s["n"])[: s["n"]].astype(np.int64)
    h = create_index("hnsw", s["dim"], space=s["space"], M=s["M"], ef_construction=16, ef=4 * s["n"] + 8,
                     threads=1)
    e = create_index("exact", s["dim"], space=s["space"])
    for ix in (h, e):
        ix.add(x, ids)
    q = rng.standard_normal((7, s["dim"]), dtype=np.float32)
    live = dict(zip(ids.tolist(), x))
    sp = s["space"]
    _same(h.search(q, s["k"]), e.search(q, s["k"]), live, q, sp)

    gone = ids[rng.random(s["n"]) < s["remove_frac"]]
    for ix in (h, e):
        ix.remove(gone)
        ix.remove(np.array([10**9]))  # unknown ids are ignored
    assert len(h) == len(e) == s["n"] - len(gone)
    dh = h.search(q, s["k"])
    assert not set(dh[1].ravel().tolist()) & set(gone.tolist())
    for i in gone.tolist():
        del live[i]
    _same(dh, e.search(q, s["k"]), live, q, sp)

    new = rng.standard_normal((s["readd"], s["dim"]), dtype=np.float32)
    if s["space"] == "ip":  # like the first vectors: 1 - dot is no distance off the unit sphere
        new /= np.linalg.norm(new, axis=1, keepdims=True) + 1e-12
    new_ids = np.concatenate([gone, np.arange(10**6, 10**6 + s["n"])])[: s["readd"]]
    for ix in (h, e):
        ix.add(new, new_ids)
    assert h.core.slots <= s["n"] + max(0, s["readd"] - len(gone)) + 1  # deleted slots were reused
    live.update(zip(new_ids.tolist(), new))
    _same(h.search(q, s["k"]), e.search(q, s["k"]), live, q, sp)

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "i.hnsw"
        h.save(p)
        back = HnswIndex.load(p)
    a, b = h.search(q, s["k"]), back.search(q, s["k"])
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert back.params == h.params and len(back) == len(h)
