"""Plain functions behind ``lookalike identify | verify | calibrate | eval`` (the CLI wires them).

Each returns a JSON-ready dict (the shape ``--json`` prints and the REST API returns) and raises
typed errors from :mod:`lookalike.errors` for the CLI to show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lookalike.errors import LookalikeError, NoFaceError
from lookalike.settings import DEFAULT_THRESHOLD, default_gallery


def _open(gallery: str | Path | None) -> Any:
    from lookalike.gallery.gallery import Gallery

    return Gallery.open(Path(gallery) if gallery else default_gallery(), create=False)


def identify_photo(photo: str | Path | bytes, gallery: str | Path | None = None, k: int = 5,
                   threshold: float | None = None) -> dict[str, Any]:
    """Who is each face in the photo, or "unknown"? k-NN vote within the gallery's threshold.

    Returns ``{"threshold", "faces": [{"box", "person", "known", "distance", "similarity", "votes",
    "neighbours"}]}``, faces largest first. Raises :class:`NoFaceError` when the photo has no face.
    """
    from lookalike.recognition import identify_vectors

    with _open(gallery) as g:
        pipe = g.pipeline()
        res = pipe.process_bytes(photo) if isinstance(photo, bytes) else pipe.process_path(photo)
        if not res.faces:
            raise NoFaceError("no face was found in the photo")
        thr = g.threshold if threshold is None else float(threshold)
        ids = identify_vectors(g, np.stack([f.embedding for f in res.faces]), k=k, threshold=thr)
        return {"threshold": thr,
                "faces": [{"box": f.box.as_dict(), **i.as_dict()} for f, i in zip(res.faces, ids)]}


def verify_photos(photo_a: str | Path | bytes, photo_b: str | Path | bytes, threshold: float | None = None,
                  gallery: str | Path | None = None, embedder: str | None = None) -> dict[str, Any]:
    """Are the largest faces of two photos the same person?

    The threshold is, in order: ``threshold``; the calibrated one of ``gallery`` (if given, with
    that gallery's embedder); dlib's documented 0.6. Returns ``{"same", "distance", "threshold",
    "similarity", "box_a", "box_b"}``.
    """
    from lookalike.faces.pipeline import FacePipeline
    from lookalike.recognition import verify_vectors

    thr = threshold
    if gallery is not None:
        with _open(gallery) as g:
            pipe = g.pipeline()
            thr = g.threshold if thr is None else thr
    else:
        pipe = FacePipeline(embedder)
    faces = []
    for p in (photo_a, photo_b):
        res = pipe.process_bytes(p) if isinstance(p, bytes) else pipe.process_path(p)
        if not res.faces:
            raise NoFaceError(f"no face was found in {'the photo' if isinstance(p, bytes) else p}")
        faces.append(res.faces[0])
    v = verify_vectors(faces[0].embedding, faces[1].embedding, DEFAULT_THRESHOLD if thr is None else thr)
    return {**v.as_dict(), "box_a": faces[0].box.as_dict(), "box_b": faces[1].box.as_dict()}


def calibrate_threshold(gallery: str | Path | None = None, target_far: float = 1e-3, lfw: str | Path | None = None,
                        save: bool = True, max_different: int = 200_000, seed: int = 0) -> dict[str, Any]:
    """Measure the same-person threshold for ``target_far`` and store it in the gallery, tied to its embedder.

    By default the gallery's own labelled faces give the pairs (every same-person pair, up to
    ``max_different`` random different-person pairs). With ``lfw`` (an LFW folder), the 6,000
    pairs of ``pairs.txt`` embedded like the gallery's photos are used instead (3,000 impostor
    pairs resolve a FAR down to about 1e-3). Returns the :class:`~lookalike.recognition.Calibration`
    as a dict plus ``"saved"``.
    """
    from lookalike.evaluation.recipe import Recipe, embed_paths
    from lookalike.evaluation.verification import lfw_pairs
    from lookalike.recognition import calibrate, calibrate_gallery, save_calibration

    with _open(gallery) as g:
        if lfw is None:
            cal = calibrate_gallery(g, target_far, max_different, seed, save=save)
        else:
            pairs = lfw_pairs(lfw)
            key = g.store.get_meta("embedder_key") or "onnx"
            vecs = embed_paths(pairs.paths, Recipe(embedder=key))  # the pipeline's own recipe
            d = pairs.distances(vecs)
            cal = calibrate(d[pairs.same], d[~pairs.same], target_far)
            from lookalike.faces.embed import load_embedder

            cal.embedder = load_embedder(key).name
            cal.source = f"LFW pairs.txt at {lfw}"
            if g.embedder_name and cal.embedder != g.embedder_name:
                raise LookalikeError(f"LFW was embedded with {cal.embedder!r}; the gallery holds {g.embedder_name!r}")
            if save:
                save_calibration(g, cal)
        return {**cal.as_dict(), "saved": save}


def evaluate(embedder: str = "onnx", index: str | list[str] = "exact", datasets: list[str] | None = None,
             out_dir: str | Path = "eval-report", recipe: str | None = None) -> dict[str, Any]:
    """Run :func:`lookalike.evaluation.report.run_eval`; returns the report dict (also written to ``out_dir``)."""
    from lookalike.evaluation.report import DATASETS, run_eval

    indexes = [s.strip() for s in index.split(",")] if isinstance(index, str) else index
    return run_eval(embedder, indexes, datasets or list(DATASETS), out_dir, recipe)
