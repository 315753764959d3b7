"""Graph clusterings over weighted undirected edges, behind one signature.

Each takes ``n`` (vertices 0..n-1) and edge arrays ``i, j, w`` (w > 0: the strength of the link)
and returns ``(n,)`` int64 labels, 0..c-1, numbered by first appearance. Vertices without an edge
are clusters of one. The heavy lifting is done by the libraries: dlib (Chinese Whispers), the
``infomap`` package, igraph's label propagation and Leiden, scipy (connected components).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lookalike.errors import LookalikeError

Algorithm = Callable[[int, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def relabel(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0..c-1 in order of first appearance."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        return labels.astype(np.int64)
    _, first, inv = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inv.reshape(-1)]


def components(n: int, i: np.ndarray, j: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Connected components (every edge joins)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    g = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    return relabel(connected_components(g, directed=False)[1])


def chinese_whispers(n: int, i: np.ndarray, j: np.ndarray, w: np.ndarray, iterations: int = 100) -> np.ndarray:
    """dlib's Chinese Whispers (Biemann 2006): each vertex takes the label of greatest edge weight
    among its neighbours, in random order, for ``iterations`` passes (dlib seeds its own RNG)."""
    import dlib

    if len(i) == 0:
        return np.arange(n, dtype=np.int64)
    # dlib needs every vertex to appear; a self-loop per vertex also keeps a vertex's own label in the vote
    ii = np.concatenate([i, np.arange(n)]).tolist()
    jj = np.concatenate([j, np.arange(n)]).tolist()
    ww = np.concatenate([w, np.zeros(n)]).tolist()
    labels = dlib.chinese_whispers(list(zip(ii, jj, ww)))
    return relabel(np.asarray(labels, dtype=np.int64))


def label_propagation(n: int, i: np.ndarray, j: np.ndarray, w: np.ndarray, seed: int = 0) -> np.ndarray:
    """igraph's weighted label propagation (Raghavan, Albert & Kumara 2007) — Chinese Whispers' update
    rule (each vertex takes the label of greatest summed edge weight among its neighbours) in C, fed
    from numpy arrays, so it also runs on millions of faces. Seeded through Python's ``random``."""
    import random

    import igraph

    if len(i) == 0:
        return np.arange(n, dtype=np.int64)
    state = random.getstate()
    try:
        random.seed(seed)
        igraph.set_random_number_generator(random)
        g = igraph.Graph(n=n, edges=np.column_stack([i, j]), directed=False)
        part = g.community_label_propagation(weights=np.asarray(w, dtype=np.float64))
    finally:
        random.setstate(state)
    return relabel(np.asarray(part.membership, dtype=np.int64))


def infomap(n: int, i: np.ndarray, j: np.ndarray, w: np.ndarray, trials: int = 1) -> np.ndarray:
    """Two-level Infomap (Rosvall & Bergstrom 2008) on the undirected weighted graph."""
    import infomap as im

    if len(i) == 0:
        return np.arange(n, dtype=np.int64)
    net = im.Network.from_edge_index(np.vstack([i, j]), edge_weight=np.asarray(w, dtype=np.float64),
                                     num_nodes=n, directed=False)
    res = im.run(net, seed=1, num_trials=trials, two_level=True, options={"silent": True})
    out = np.arange(n, dtype=np.int64) + n  # a vertex Infomap does not report stays alone
    for node, module in res.modules().items():
        out[node] = module
    return relabel(out)


def leiden(n: int, i: np.ndarray, j: np.ndarray, w: np.ndarray, objective: str = "modularity",
           resolution: float = 1.0) -> np.ndarray:
    """igraph's Leiden (Traag, Waltman & van Eck 2019): ``"modularity"`` or ``"CPM"`` at ``resolution``."""
    import igraph

    g = igraph.Graph(n=n, edges=np.column_stack([i, j]), directed=False)
    part = g.community_leiden(objective_function=objective, weights=np.asarray(w, dtype=np.float64),
                              resolution=resolution, n_iterations=-1)
    return relabel(np.asarray(part.membership, dtype=np.int64))


ALGORITHMS: dict[str, Algorithm] = {
    "components": components,
    "chinese-whispers": chinese_whispers,
    "label-propagation": label_propagation,
    "infomap": infomap,
    "leiden": leiden,
}


def get(name: str) -> Algorithm:
    """The clustering algorithm registered under ``name``."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise LookalikeError(f"unknown clustering algorithm {name!r}; choose one of {sorted(ALGORITHMS)}") from None
