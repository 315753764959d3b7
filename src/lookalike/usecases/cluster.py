"""Group a gallery's faces by person, and what users do with the groups.

* :func:`cluster_faces` — cluster the faces not yet in a cluster (incremental: existing clusters
  keep their faces and names); the first call, or ``full=True``, clusters everything again, and the
  names given before survive (faces a user named stay together under that name);
* :func:`name_cluster` — a named cluster becomes a person of the gallery (searchable as that person);
* :func:`merge_clusters`, :func:`split_faces`, :func:`undo_merge`;
* :func:`list_clusters`, :func:`show_cluster`.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from lookalike.clustering import ClusterParams, cluster
from lookalike.clustering.incremental import assign
from lookalike.clustering.refine import prototypes
from lookalike.gallery.clusters import ClusterInfo, ClusterStore
from lookalike.gallery.gallery import Gallery


@dataclass(frozen=True)
class ClusterRun:
    """What one clustering call did."""

    mode: str  # "full" | "incremental" | "none"
    faces: int  # faces clustered by this call
    clusters: int  # clusters in the gallery afterwards
    joined: int  # faces that joined existing clusters (incremental)
    new_clusters: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "faces": self.faces, "clusters": self.clusters, "joined": self.joined,
                "new_clusters": self.new_clusters, "seconds": round(self.seconds, 3)}


def _representatives(vectors: np.ndarray, labels: np.ndarray, face_ids: np.ndarray) -> np.ndarray:
    """Per cluster label, the face nearest the cluster's mean vector."""
    protos, _ = prototypes(vectors, labels)
    d = np.linalg.norm(vectors - protos[labels], axis=1)
    order = np.lexsort((d, labels))
    first = order[np.r_[True, labels[order][1:] != labels[order][:-1]]]
    return face_ids[first]  # indexed by label 0..c-1


def cluster_faces(gallery: Gallery, params: ClusterParams | None = None, full: bool = False) -> ClusterRun:
    """Cluster the gallery's faces: incrementally when clusters exist, else (or with ``full``) all of them."""
    t0 = time.perf_counter()
    cs = ClusterStore(gallery.store)
    ids, vecs = gallery.store.embeddings()
    if len(ids) == 0:
        return ClusterRun("none", 0, 0, 0, 0, time.perf_counter() - t0)
    before = cs.assignments()
    if full or not before:
        return _full(gallery, cs, ids, vecs, before, params, t0)
    new = np.isin(ids, cs.unclustered())
    if not new.any():
        return ClusterRun("none", 0, cs.counts()["clusters"], 0, 0, time.perf_counter() - t0)
    median = cs.median_scale()
    if median is None:  # clustered by an older version: start over
        return _full(gallery, cs, ids, vecs, before, params, t0)
    # dense maps by gallery face id: its cluster (−1 = none yet) and local scale; the gallery's own
    # index holds every face, new ones included
    top = int(max(ids.max(), max(before))) + 1
    cluster_of = np.full(top, -1, dtype=np.int64)
    scale_of = np.full(top, median)
    for f, c in before.items():
        cluster_of[f] = c
    for f, s in cs.scales().items():
        scale_of[f] = s
    labels, scales, _ = assign(vecs[new], gallery.index, cluster_of, scale_of, median, params, ids[new])
    new_ids = ids[new]
    scale_by_face = dict(zip(new_ids.tolist(), scales.tolist()))
    joined = labels >= 0
    cs.assign(new_ids[joined], labels[joined], {f: scale_by_face[f] for f in new_ids[joined].tolist()})
    fresh = np.unique(labels[~joined])
    groups = [new_ids[labels == g] for g in fresh]
    reps = []
    for g in fresh:
        sel = labels == g
        reps.append(int(_representatives(vecs[new][sel], np.zeros(int(sel.sum()), np.int64), new_ids[sel])[0]))
    cs.add_groups([g.tolist() for g in groups], reps, {f: scale_by_face[f] for g in groups for f in g.tolist()})
    return ClusterRun("incremental", int(new.sum()), cs.counts()["clusters"], int(joined.sum()), len(groups),
                      time.perf_counter() - t0)


def _full(gallery: Gallery, cs: ClusterStore, ids: np.ndarray, vecs: np.ndarray, before: dict[int, int],
          params: ClusterParams | None, t0: float) -> ClusterRun:
    result = cluster(vecs, params)
    labels = result.labels
    # names survive: every face a user named stays with that name; a cluster takes its majority name
    old_names = cs.names()
    named = {f: old_names[c] for f, c in before.items() if c in old_names}
    groups: dict[tuple[int, str | None], list[int]] = {}
    for lab in range(int(labels.max()) + 1):
        members = ids[labels == lab].tolist()
        votes = Counter(named[f] for f in members if f in named)
        major = votes.most_common(1)[0][0] if votes else None
        for f in members:
            name = named.get(f, major)
            key = (-1, name) if name is not None else (lab, None)  # one group per name
            groups.setdefault(key, []).append(f)
    keys = list(groups)
    pos = {int(f): i for i, f in enumerate(ids)}
    reps = []
    for k in keys:
        rows = np.array([pos[f] for f in groups[k]])
        reps.append(int(_representatives(vecs[rows], np.zeros(len(rows), np.int64), ids[rows])[0]))
    cs.replace_all([groups[k] for k in keys], reps, [k[1] for k in keys],
                   dict(zip(ids.tolist(), result.scale.tolist())), result.median_scale)
    return ClusterRun("full", len(ids), len(keys), 0, len(keys), time.perf_counter() - t0)


def list_clusters(gallery: Gallery, min_size: int = 1, limit: int | None = 50, offset: int = 0,
                  faces: int = 12) -> list[ClusterInfo]:
    """Clusters, named first, then largest first, each with up to ``faces`` face ids (representative first)."""
    return ClusterStore(gallery.store).list(min_size, limit, offset, faces)


def show_cluster(gallery: Gallery, cluster_id: int) -> ClusterInfo:
    """One cluster with all its face ids."""
    return ClusterStore(gallery.store).get(cluster_id)


def name_cluster(gallery: Gallery, cluster_id: int, name: str | None) -> ClusterInfo:
    """Name a cluster: its faces become that person of the gallery (``None`` forgets the name)."""
    cs = ClusterStore(gallery.store)
    cs.name(cluster_id, name)
    return cs.get(cluster_id, faces=12)


def merge_clusters(gallery: Gallery, cluster_ids: list[int]) -> ClusterInfo:
    """Merge clusters into the first one (undo with :func:`undo_merge`)."""
    cs = ClusterStore(gallery.store)
    return cs.get(cs.merge(cluster_ids), faces=12)


def split_faces(gallery: Gallery, face_ids: list[int]) -> ClusterInfo:
    """Move faces of one cluster into a new cluster of their own."""
    cs = ClusterStore(gallery.store)
    return cs.get(cs.split(face_ids), faces=12)


def undo_merge(gallery: Gallery) -> dict[str, Any]:
    """Undo the last merge: the merged clusters come back with their faces and names."""
    return ClusterStore(gallery.store).undo_merge()


def cluster_summary(gallery: Gallery) -> dict[str, int]:
    """Numbers of clusters, named clusters, clustered and unclustered faces."""
    cs = ClusterStore(gallery.store)
    return {**cs.counts(), "unclustered_faces": len(cs.unclustered())}
