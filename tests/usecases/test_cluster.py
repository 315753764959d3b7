"""Clustering a real gallery (ten LFW people, five photos each) and what users do with the clusters."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from lookalike.clustering import score
from lookalike.errors import LookalikeError
from lookalike.faces.pipeline import FacePipeline
from lookalike.gallery import Gallery, lfw
from lookalike.gallery.clusters import ClusterNotFoundError, ClusterStore
from lookalike.gallery.ingest import ingest
from lookalike.usecases import cluster as uc
from lookalike.usecases.search import search_photo
from tests._galleries import PEOPLE, PER_PERSON


def _open(path: Path, pipeline: FacePipeline) -> Gallery:
    g = Gallery.open(path, create=False)
    g.use_pipeline(pipeline)
    return g


def _truth(g: Gallery) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Face ids, their ingest-time person and their cluster."""
    ids, _ = g.store.embeddings()
    recs = g.store.faces(ids.tolist())
    where = ClusterStore(g.store).assignments()
    return ids, np.array([recs[int(i)].person for i in ids]), np.array([where[int(i)] for i in ids])


def _cluster_of(g: Gallery, person: str) -> int:
    _ids, who, cl = _truth(g)
    return Counter(cl[who == person].tolist()).most_common(1)[0][0]


def test_full_clustering_finds_the_people(gallery_copy: Path, pipeline: FacePipeline) -> None:
    with _open(gallery_copy, pipeline) as g:
        run = uc.cluster_faces(g)
        assert run.mode == "full" and run.faces == len(g.index)
        _ids, who, cl = _truth(g)
        s = score(cl, who)
        # strangers are not merged; most photos of a person are found together (measured: P 1.0, F 0.86)
        assert s.pairwise_precision >= 0.95 and s.pairwise_f >= 0.8 and s.bcubed_f >= 0.85, s
        assert 10 <= s.clusters <= 20
        # every cluster's representative is one of its faces
        for c in uc.list_clusters(g, limit=None):
            assert c.representative in uc.show_cluster(g, c.cluster_id).faces
        assert uc.cluster_faces(g).mode == "none"  # nothing new to cluster


def test_named_cluster_is_a_searchable_person_and_names_survive_reclustering(
    gallery_copy: Path, pipeline: FacePipeline, photos: dict[str, Path]
) -> None:
    with _open(gallery_copy, pipeline) as g:
        uc.cluster_faces(g)
        cid = _cluster_of(g, "Joseph_Biden")
        info = uc.name_cluster(g, cid, "Uncle Joe")
        assert info.name == "Uncle Joe"
        top = search_photo(g, photos["biden"], k=1).faces[0].neighbours[0]
        assert top.person == "Uncle Joe"
        assert "Uncle Joe" in [p[0] for p in g.store.people()]
        members = set(uc.show_cluster(g, cid).faces)
        uc.cluster_faces(g, full=True)
        named = [c for c in uc.list_clusters(g, limit=None) if c.name == "Uncle Joe"]
        assert len(named) == 1 and members <= set(uc.show_cluster(g, named[0].cluster_id).faces)


def test_merge_then_undo_restores_clusters_and_names(gallery_copy: Path, pipeline: FacePipeline) -> None:
    with _open(gallery_copy, pipeline) as g:
        uc.cluster_faces(g)
        a, b = _cluster_of(g, "Andre_Agassi"), _cluster_of(g, "Angelina_Jolie")
        uc.name_cluster(g, b, "Angelina")
        fa, fb = set(uc.show_cluster(g, a).faces), set(uc.show_cluster(g, b).faces)
        merged = uc.merge_clusters(g, [a, b])
        assert merged.cluster_id == a and merged.size == len(fa | fb) and merged.name == "Angelina"
        with pytest.raises(ClusterNotFoundError):
            uc.show_cluster(g, b)
        out = uc.undo_merge(g)
        assert out["restored"] == [b]
        assert set(uc.show_cluster(g, a).faces) == fa and uc.show_cluster(g, a).name is None
        assert set(uc.show_cluster(g, b).faces) == fb and uc.show_cluster(g, b).name == "Angelina"
        recs = g.store.faces(sorted(fa))
        assert all(r.person == "Andre_Agassi" for r in recs.values())  # ingest labels untouched
        with pytest.raises(LookalikeError, match="no merge to undo"):
            uc.undo_merge(g)


def test_split_moves_faces_to_a_new_cluster(gallery_copy: Path, pipeline: FacePipeline) -> None:
    with _open(gallery_copy, pipeline) as g:
        uc.cluster_faces(g)
        cid = _cluster_of(g, "Ann_Veneman")
        uc.name_cluster(g, cid, "Ann")
        faces = uc.show_cluster(g, cid).faces
        new = uc.split_faces(g, faces[:2])
        assert new.cluster_id != cid and set(new.faces) == set(faces[:2]) and new.name is None
        assert set(uc.show_cluster(g, cid).faces) == set(faces[2:])
        assert all(r.person is None for r in g.store.faces(faces[:2]).values())  # no longer "Ann"
        with pytest.raises(LookalikeError, match="one cluster"):
            uc.split_faces(g, [faces[2], new.faces[0]])


def test_new_photos_join_their_person_incrementally(
    gallery_copy: Path, pipeline: FacePipeline, lfw_root: Path
) -> None:
    with _open(gallery_copy, pipeline) as g:
        uc.cluster_faces(g)
        cid = _cluster_of(g, "Alejandro_Toledo")
        uc.name_cluster(g, cid, "Toledo")
        before = uc.cluster_summary(g)["clusters"]
        extra = [it for p in ("Alejandro_Toledo", "Andre_Agassi")
                 for it in [x for x in lfw(lfw_root) if x.person == p][PER_PERSON:PER_PERSON + 2]]
        rep = ingest(g, extra, workers=1, progress=False)
        assert rep.added_faces == 4
        run = uc.cluster_faces(g)
        assert run.mode == "incremental" and run.faces == 4 and run.joined >= 3
        assert uc.cluster_summary(g)["clusters"] <= before + 1 and uc.cluster_summary(g)["unclustered_faces"] == 0
        toledo = list(g.store.faces(uc.show_cluster(g, cid).faces).values())
        new_paths = {str(it.path) for it in extra[:2]}
        assert new_paths & {r.image for r in toledo}  # a new Toledo photo joined the named cluster
        assert all(r.person == "Toledo" for r in toledo)
        assert len(PEOPLE) == 10
