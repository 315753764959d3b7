"""Ingest speed per stage: decode, detect, align and embed, measured separately on real LFW photos.

    python benchmarks/ingest.py [--photos 200] [--pipeline SPEC] [--embedder KEY] [--out benchmarks/results/ingest.json]

Stages run one after another in one process (one core) through the one pipeline
(:class:`~lookalike.faces.pipeline.FacePipeline` of the spec: the default, or ``--pipeline`` like
``"padding=0.25,mirror=0"`` on top of it), each photo's labelled face as ingest takes it, the
stage times read from the pipeline's own :class:`~lookalike.faces.pipeline.Timings`; so each
figure is that stage's own cost. ``detect_hog_auto`` is the spec's detector alone,
``detect_labelled`` adds the fallback detector where it finds no face; ``embed`` is one face per
call (with the spec's test-time augmentation), ``embed_batched`` the batches ingest embeds in. The
end-to-end figure is a real ingest (:func:`lookalike.gallery.ingest.ingest`) with one worker per core
and no embedding cache. Writes a JSON file with machine information and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import _checkout  # noqa: F401  (src/ on sys.path when it should be)
import numpy as np
from _machine import cpu_model

from lookalike.faces.batch import EMBED_BATCH
from lookalike.faces.image import decode_image, read_bytes
from lookalike.faces.pipeline import FacePipeline, Timings
from lookalike.faces.spec import PipelineSpec, default_spec
from lookalike.gallery import Gallery, lfw, sample_people
from lookalike.gallery.ingest import ingest
from lookalike.io import atomic_write_text
from lookalike.settings import datasets_dir


def machine() -> dict[str, object]:
    return {"python": platform.python_version(), "cpu": cpu_model(),
            "cores": os.cpu_count(), "system": platform.platform()}


def per_item(times: list[float], n: int) -> dict[str, float]:
    total = sum(times)
    return {"items": n, "total_s": round(total, 3), "ms_per_item": round(1000 * total / max(n, 1), 2),
            "per_s": round(n / total, 1) if total else float("inf"),
            "median_ms": round(1000 * statistics.median(times), 2) if times else 0.0}


def stage_timings(paths: list[Path], spec: PipelineSpec) -> dict[str, object]:
    """Time each stage on every photo, one core, through the spec's pipeline."""
    pipe = FacePipeline(spec)
    plain = FacePipeline(replace(spec, upsample=0))  # the same detector without upsampling
    pipe.embed_chips(np.zeros((1, pipe.card.chip_size, pipe.card.chip_size, 3), np.uint8))  # load, warm up
    t: dict[str, list[float]] = {k: [] for k in ("decode", "detect_labelled", "detect_hog_auto", "detect_hog_no_upsample_250px",
                                                 "detect_hog_no_upsample_512px", "align", "embed")}
    chips, how = [], []
    for p in paths:
        data = read_bytes(p)
        timings = Timings()
        photo = pipe.process_bytes(data, "labelled", timings=timings)
        t["decode"].append(timings.ms["decode"] / 1000)
        t["detect_labelled"].append(timings.ms["detect"] / 1000)
        if photo.faces:
            t["align"].append(timings.ms["align"] / 1000)
            t["embed"].append(timings.ms["embed"] / 1000)
            chips.append(photo.faces[0].chip)
            how.append(photo.faces[0].how)
        img = decode_image(data)
        for key, det, image in (("detect_hog_auto", pipe, img), ("detect_hog_no_upsample_250px", plain, img),
                                ("detect_hog_no_upsample_512px", plain,  # ≈ the 512×512 photo
                                 np.ascontiguousarray(np.kron(img, np.ones((2, 2, 1), np.uint8))[:512, :512]))):
            t0 = time.perf_counter()
            det.detect(image)
            t[key].append(time.perf_counter() - t0)
    batch = np.stack(chips)
    t_batched = []
    for i in range(0, len(batch), EMBED_BATCH):  # the batches ingest embeds in
        t0 = time.perf_counter()
        pipe.embed_chips(batch[i : i + EMBED_BATCH])
        t_batched.append(time.perf_counter() - t0)
    n, f = len(paths), len(chips)
    out: dict[str, object] = {
        "embedder": pipe.card.name,
        "runtime": getattr(pipe.embedder, "runtime", "?"),
        "pipeline": spec.describe(),
        "faces_found_by": {h: how.count(h) for h in sorted(set(how))},
    }
    for key in ("decode", "detect_hog_auto", "detect_labelled", "detect_hog_no_upsample_250px",
                "detect_hog_no_upsample_512px"):
        out[key] = per_item(t[key], n)
    out["align"] = per_item(t["align"], f)
    out["embed"] = per_item(t["embed"], f)
    out["embed_batched"] = {**per_item(t_batched, f), "batch": EMBED_BATCH}
    return out


def end_to_end(items: list, spec: PipelineSpec) -> dict[str, object]:
    """A real parallel ingest (one worker per core), no cache: photos per second."""
    with tempfile.TemporaryDirectory() as tmp, Gallery.open(Path(tmp) / "g", spec=spec) as g:
        t = time.perf_counter()
        rep = ingest(g, items, cache=False, progress=False)
        dt = time.perf_counter() - t
    return {"photos": len(items), "faces": rep.added_faces, "seconds": round(dt, 2),
            "photos_per_s": round(len(items) / dt, 2), "workers": os.cpu_count()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--embedder", default=None, help="embedder key (default: the preferred installed one)")
    ap.add_argument("--pipeline", default="", help="spec fields changed from the default, e.g. 'padding=0.25,mirror=0'")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "ingest.json")
    args = ap.parse_args()
    items = sample_people(lfw(datasets_dir() / "lfw"), None, min_images=2)[:: 9][: args.photos]
    spec = PipelineSpec.parse(args.pipeline, default_spec(args.embedder))
    load_before = list(os.getloadavg())
    stages = stage_timings([it.path for it in items], spec)
    e2e = end_to_end(items, spec)
    result = {"benchmark": "ingest", "machine": {**machine(), "load_avg_before": load_before,
                                                 "load_avg_after": list(os.getloadavg())},
              "data": f"{len(items)} LFW photos (250×250)", "pipeline": spec.as_dict(),
              "stages": stages, "end_to_end": e2e}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=1))
    print(f"embedder: {stages['embedder']} ({stages['runtime']}), pipeline: {stages['pipeline']}")
    print(f"{'stage':34s} {'ms/item':>9s} {'items/s':>9s}")
    for k, v in stages.items():
        if isinstance(v, dict) and "ms_per_item" in v:
            print(f"{k:34s} {v['ms_per_item']:9.2f} {v['per_s']:9.1f}")
    print(f"end to end, {e2e['workers']} workers: {e2e['photos_per_s']} photos/s ({e2e['seconds']} s)")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
