"""Ray ingest vs the default multiprocessing ingest: the same photos, the same run, no embedding cache.

    nice -n 10 python benchmarks/ray_ingest.py --photos 100,300     # → results/ray_ingest.json

Both build a fresh gallery from the same LFW photos with one worker (actor) per core; the Ray time
includes starting and stopping the local Ray. Reports seconds, photos per second, the ratio, and
whether both galleries hold the same faces and vectors. Runs alternate (default, Ray, default, Ray…)
so a change in the machine's load hits both. Two sizes or more give a straight-line fit (fixed cost,
seconds per photo) of each, and the ratio it predicts at LFW's size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import _checkout  # noqa: F401  (src/ on sys.path when it should be)
import numpy as np
from _machine import cpu_model

from lookalike.gallery import Gallery, lfw, sample_people
from lookalike.gallery.ingest import ingest
from lookalike.gallery.ray_ingest import ray_ingest
from lookalike.settings import datasets_dir

ROOT = Path(__file__).resolve().parents[1]


def vectors(root: Path) -> dict[str, np.ndarray]:
    with Gallery.open(root) as g:
        ids, vecs = g.store.embeddings()
        recs = g.store.faces(ids.tolist())
    out: dict[str, list[np.ndarray]] = {}
    for i, v in zip(ids.tolist(), vecs):
        out.setdefault(f"{recs[i].image}|{recs[i].box}", []).append(v)
    return {k: np.stack(v) for k, v in out.items()}


def run(items: list, reps: int, cores: int) -> tuple[dict[str, list[float]], bool]:
    times: dict[str, list[float]] = {"default": [], "ray": []}
    same = True
    for _ in range(reps):
        work = Path(tempfile.mkdtemp(prefix="ray-ingest-"))
        try:
            for name in ("default", "ray"):
                t = time.perf_counter()
                with Gallery.open(work / name) as g:
                    if name == "ray":
                        ray_ingest(g, items, actors=cores, progress=False, cache=False)
                    else:
                        ingest(g, items, workers=cores, progress=False, cache=False)
                times[name].append(time.perf_counter() - t)
            a, b = vectors(work / "default"), vectors(work / "ray")
            same &= a.keys() == b.keys() and all(np.allclose(a[k], b[k], rtol=0, atol=1e-5) for k in a)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return times, same


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", default="100,300", help="sizes, comma-separated (two or more give the fit); 'all' is the whole of LFW")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ray_ingest.json")
    args = ap.parse_args()
    pool = sample_people(lfw(datasets_dir() / "lfw"), None, 1, 0)
    sizes = [len(pool) if x == "all" else int(x) for x in args.photos.split(",")]
    load_start = list(os.getloadavg())
    cores = os.cpu_count() or 1
    rows, same = [], True
    for n in sizes:
        times, ok = run(pool[:n], args.reps, cores)
        same &= ok
        best = {k: min(v) for k, v in times.items()}
        rows.append({"photos": n, "times_s": times, "best_s": best, "ray_over_default": best["ray"] / best["default"]})
        print(json.dumps(rows[-1]), flush=True)
    result: dict = {"benchmark": "ray_ingest", "cores": cores, "sizes": rows, "same_faces_and_vectors": bool(same),
                    "machine": {"cpu": cpu_model(), "cores": cores, "python": platform.python_version(),
                                "load_avg": load_start, "load_avg_end": list(os.getloadavg()), "time": time.strftime("%Y-%m-%d %H:%M:%S")}}
    if len(sizes) >= 2:  # time = fixed + per_photo × n, for each; then the ratio at LFW's size
        fit = {}
        for k in ("default", "ray"):
            slope, icpt = np.polyfit([r["photos"] for r in rows], [r["best_s"][k] for r in rows], 1)
            fit[k] = {"per_photo_s": float(slope), "fixed_s": float(icpt)}
        lfw_n = len(lfw(datasets_dir() / "lfw"))
        at = {k: fit[k]["fixed_s"] + fit[k]["per_photo_s"] * lfw_n for k in fit}
        result["fit"] = fit
        result["lfw_photos"] = lfw_n
        result["ray_over_default_at_lfw"] = at["ray"] / at["default"]
        result["per_photo_ratio"] = fit["ray"]["per_photo_s"] / fit["default"]["per_photo_s"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
