"""Ingest speed per stage: decode, detect, align and embed, measured separately on real LFW photos.

    python benchmarks/ingest.py [--photos 200] [--embedder KEY] [--out benchmarks/results/ingest.json]

Stages run one after another in one process (one core), so each figure is that stage's own cost;
the end-to-end figure is a real ``Gallery.ingest`` with one worker per core and no embedding cache.
Writes a JSON file with machine information and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import _checkout  # noqa: F401  (src/ on sys.path when it should be)
import numpy as np

from lookalike.faces.align import align_all
from lookalike.faces.detect import FaceDetector, most_central
from lookalike.faces.embed import load_embedder
from lookalike.faces.image import decode_image, read_bytes
from lookalike.gallery import Gallery, lfw, sample_people
from lookalike.settings import datasets_dir


def machine() -> dict[str, object]:
    return {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(), "system": platform.platform()}


def per_item(times: list[float], n: int) -> dict[str, float]:
    total = sum(times)
    return {"items": n, "total_s": round(total, 3), "ms_per_item": round(1000 * total / max(n, 1), 2),
            "per_s": round(n / total, 1) if total else float("inf"),
            "median_ms": round(1000 * statistics.median(times), 2) if times else 0.0}


def stage_timings(paths: list[Path], embedder_key: str | None) -> dict[str, object]:
    """Time each stage on every photo, one core."""
    det_auto, det_plain = FaceDetector("hog", "auto"), FaceDetector("hog", 0)
    emb = load_embedder(embedder_key)
    emb.embed(np.zeros((1, 150, 150, 3), np.uint8))  # warm up
    t_dec, t_det, t_det0, t_det512, t_align, t_embed, chips = [], [], [], [], [], [], []
    for p in paths:
        data = read_bytes(p)
        t = time.perf_counter()
        img = decode_image(data)
        t_dec.append(time.perf_counter() - t)
        t = time.perf_counter()
        faces = det_auto.detect(img)
        t_det.append(time.perf_counter() - t)
        t = time.perf_counter()
        det_plain.detect(img)
        t_det0.append(time.perf_counter() - t)
        big = np.asarray(np.kron(img, np.ones((2, 2, 1), np.uint8))[:512, :512])  # ≈ the 512×512 photo
        t = time.perf_counter()
        det_plain.detect(big)
        t_det512.append(time.perf_counter() - t)
        face = most_central(faces, img.shape)
        if face is None:
            continue
        t = time.perf_counter()
        chips.append(align_all(img, [face])[0])
        t_align.append(time.perf_counter() - t)
    batch = np.stack(chips)
    for i in range(len(batch)):  # one face at a time, as ingest does per photo
        t = time.perf_counter()
        emb.embed(batch[i : i + 1])
        t_embed.append(time.perf_counter() - t)
    n, f = len(paths), len(chips)
    return {
        "embedder": emb.name,
        "runtime": getattr(emb, "runtime", "?"),
        "decode": per_item(t_dec, n),
        "detect_hog_auto": per_item(t_det, n),
        "detect_hog_no_upsample_250px": per_item(t_det0, n),
        "detect_hog_no_upsample_512px": per_item(t_det512, n),
        "align": per_item(t_align, f),
        "embed": per_item(t_embed, f),
    }


def end_to_end(items: list, embedder_key: str | None) -> dict[str, object]:
    """A real parallel ingest (one worker per core), no cache: photos per second."""
    with tempfile.TemporaryDirectory() as tmp, Gallery.open(Path(tmp) / "g") as g:
        t = time.perf_counter()
        rep = g.ingest(items, embedder=embedder_key, cache=False, progress=False)
        dt = time.perf_counter() - t
    return {"photos": len(items), "faces": rep.added_faces, "seconds": round(dt, 2),
            "photos_per_s": round(len(items) / dt, 2), "workers": os.cpu_count()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--embedder", default=None, help="embedder key (default: the preferred installed one)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "ingest.json")
    args = ap.parse_args()
    items = sample_people(lfw(datasets_dir() / "lfw"), None, min_images=2)[:: 9][: args.photos]
    stages = stage_timings([it.path for it in items], args.embedder)
    e2e = end_to_end(items, args.embedder)
    result = {"benchmark": "ingest", "machine": machine(), "data": f"{len(items)} LFW photos (250×250)",
              "stages": stages, "end_to_end": e2e}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"embedder: {stages['embedder']} ({stages['runtime']})")
    print(f"{'stage':34s} {'ms/item':>9s} {'items/s':>9s}")
    for k, v in stages.items():
        if isinstance(v, dict):
            print(f"{k:34s} {v['ms_per_item']:9.2f} {v['per_s']:9.1f}")
    print(f"end to end, {e2e['workers']} workers: {e2e['photos_per_s']} photos/s ({e2e['seconds']} s)")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
