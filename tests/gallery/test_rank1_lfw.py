"""Identity retrieval on real LFW photos: leave-one-out rank-1 over a seeded sample of people."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lookalike.gallery import Gallery, lfw, sample_people
from lookalike.gallery.ingest import ingest

#: seeded sample of 200 LFW people with ≥ 2 photos (seed 2: 938 photos; see the README's figure)
PEOPLE, SEED = 200, 2
#: measured on this sample with the pipeline of the time (HOG, centre face, 150×150 chips, dlib ResNet);
#: the test asserts it minus 2 points, as the README states
MEASURED_RANK1 = 0.9872


def leave_one_out_rank1(ids: np.ndarray, vectors: np.ndarray, labels: list[str]) -> float:
    """Each face queries all the others; a hit when its nearest other face has the same person."""
    sq = (vectors.astype(np.float64) ** 2).sum(1)
    d = sq[:, None] + sq[None, :] - 2 * vectors.astype(np.float64) @ vectors.T.astype(np.float64)
    np.fill_diagonal(d, np.inf)
    nearest = d.argmin(1)
    lab = np.array(labels)
    return float((lab[nearest] == lab).mean())


def test_lfw_rank1_leave_one_out(lfw_root: Path, tmp_path: Path, record_property) -> None:
    items = sample_people(lfw(lfw_root), PEOPLE, min_images=2, seed=SEED)
    assert len({it.person for it in items}) == PEOPLE
    with Gallery.open(tmp_path / "g") as g:
        rep = ingest(g, items, progress=False)
        ids, vecs = g.store.embeddings()
        recs = g.store.faces(ids.tolist())
    labels = [recs[int(i)].person for i in ids]
    # a person whose other photos all lack a detected face cannot be found: count them as queries anyway
    rank1 = leave_one_out_rank1(ids, vecs, labels)
    result = {"people": PEOPLE, "seed": SEED, "photos": len(items), "faces": len(ids),
              "no_face": len(rep.no_face), "rank1": round(rank1, 4)}
    record_property("rank1_lfw", json.dumps(result))  # in the JUnit report, nothing written into the checkout
    print(result)
    assert rank1 >= MEASURED_RANK1 - 0.02
