"""Scale benchmark: the same face-like vectors into Milvus Lite and into our HNSW, in the same run.

    nice -n 10 python benchmarks/scale.py                 # 1 M vectors → results/scale.json, plots/scale.png
    python benchmarks/scale.py --n 20000 --queries 50     # quick look → results/quick/scale.json
    python benchmarks/scale.py --n 100000 --combine A.json B.json --out benchmarks/results/scale.json
                                                          # one result from parts run one backend each

For each backend, in a fresh process each step (so memory and reopening are measured honestly):
``build``: insert rate (vectors per second until every vector is searchable and persisted: add +
flush/save), resident memory added by the index; ``serve``: time to reopen the saved index and
answer a first query, single-query latency p50 / p99 and QPS (one query per call, one client),
recall@10 against exact ground truth, resident memory of the reopened index. Both backends use
HNSW with M = 16, ef_construction = 200, ef = 64 on the project's face model
(:func:`lookalike.evaluation.synthetic.face_like`). Milvus Lite is measured at its default
``Strong`` consistency and at ``Bounded``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
import _checkout  # noqa: F401  (src/ on sys.path when it should be)
from _machine import cpu_model

from lookalike.evaluation.ann import ground_truth, recall_at, true_distances
from lookalike.evaluation.synthetic import face_like
from lookalike.index import create_index, index_class

BACKENDS = ("hnsw", "milvus")
PARAMS = {"M": 16, "ef_construction": 200, "ef": 64}
SEED = 7


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def dir_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def data(n: int, nq: int) -> tuple[np.ndarray, np.ndarray]:
    x, _ = face_like(n + nq, seed=SEED)
    return np.ascontiguousarray(x[:n]), np.ascontiguousarray(x[n:])


# ---- the two child steps --------------------------------------------------------------------
def child_build(backend: str, n: int, nq: int, work: Path) -> dict[str, Any]:
    x, _ = data(n, nq)
    ids = np.arange(n, dtype=np.int64)
    before = rss_mb()
    path = work / f"index.{backend}"
    if backend == "milvus":
        ix = create_index("milvus", x.shape[1], uri=str(work / "milvus.db"), **PARAMS)
    else:
        ix = create_index("hnsw", x.shape[1], **PARAMS)
    t = time.perf_counter()
    for lo in range(0, n, 50_000):  # the way an ingest feeds it: batch after batch
        ix.add(x[lo:lo + 50_000], ids[lo:lo + 50_000])
    add_s = time.perf_counter() - t
    ix.save(path)  # Milvus: flush (sealed, indexed segments) + manifest; ours: the file, fsynced
    total_s = time.perf_counter() - t
    files = work / "milvus.db" if backend == "milvus" else path
    return {"add_s": add_s, "persist_s": total_s - add_s, "insert_s": total_s, "insert_per_s": n / total_s,
            "build_rss_mb": rss_mb() - before, "disk_mb": dir_mb(files), "count": len(ix)}


def child_serve(backend: str, n: int, nq: int, work: Path, k: int) -> dict[str, Any]:
    x, q = data(n, nq)
    gt = ground_truth(x, q, depth=k)
    del x
    before = rss_mb()
    t = time.perf_counter()
    ix = index_class(backend).load(work / f"index.{backend}")
    ix.search(q[:1], k)
    reopen_s = time.perf_counter() - t
    out: dict[str, Any] = {"reopen_s": reopen_s}
    levels = ["Strong", "Bounded"] if backend == "milvus" else [None]
    for level in levels:
        if level:
            ix.set_search_params(consistency=level)
        ix.search(q[:5], k)  # warm
        lat = np.empty(len(q))
        ids = np.empty((len(q), k), dtype=np.int64)
        t0 = time.perf_counter()
        for i in range(len(q)):
            t = time.perf_counter()
            ids[i] = ix.search(q[i:i + 1], k)[1][0]
            lat[i] = time.perf_counter() - t
        wall = time.perf_counter() - t0
        xx, _ = data(n, nq)
        rec = recall_at(true_distances(xx, q, np.where(ids >= 0, ids, 0)), gt, k)
        del xx
        key = f"_{level.lower()}" if level and level != "Strong" else ""
        out.update({f"p50_ms{key}": float(np.percentile(lat, 50) * 1e3),
                    f"p99_ms{key}": float(np.percentile(lat, 99) * 1e3),
                    f"qps{key}": len(q) / wall, f"recall_at_{k}{key}": rec})
    out["serve_rss_mb"] = rss_mb() - before
    return out


# ---- the parent -----------------------------------------------------------------------------
def run_child(step: str, backend: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", step, "--backend", backend, "--n", str(args.n),
           "--queries", str(args.queries), "--k", str(args.k), "--work", str(work)]
    env = {**os.environ, "LOOKALIKE_THREADS": str(args.threads)}
    res = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(res.stdout.strip().splitlines()[-1])


def machine() -> dict[str, Any]:
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
            "load_avg": list(os.getloadavg()), "time": time.strftime("%Y-%m-%d %H:%M:%S"),
            "nice": os.nice(0)}


def plot(result: dict[str, Any], path: Path) -> None:
    os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp())
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["results"]
    names = [r["backend"] for r in rows]
    panels = [("insert_per_s", "inserts / s"), ("p50_ms", "single query p50 (ms)"),
              ("p99_ms", "single query p99 (ms)"), ("qps", "QPS (1 client)"),
              ("recall_at_10", "recall@10"), ("build_rss_mb", "memory after build (MB)"),
              ("reopen_s", "reopen + first query (s)")]
    fig, axes = plt.subplots(1, len(panels), figsize=(3 * len(panels), 3.2))
    for ax, (key, label) in zip(axes, panels):
        ax.bar(names, [r.get(key, 0) for r in rows], color=["#4c72b0", "#dd8452"][: len(rows)])
        ax.set_title(label, fontsize=9)
        if key in ("insert_per_s", "p50_ms", "p99_ms", "qps", "reopen_s"):
            ax.set_yscale("log")
    fig.suptitle(f"{result['n']:,} face-like vectors × {result['dim']}-d, same run "
                 f"({result['machine']['cores']} cores, load {result['machine']['load_avg'][0]:.1f})", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def combine(args: argparse.Namespace, out: Path) -> None:
    """One result from parts run concurrently (same machine, same time window, one backend each)."""
    rows: list[dict[str, Any]] = []
    machines = []
    for part in args.combine:
        text = part.read_text()
        try:
            doc = json.loads(text)
            rows += doc["results"]
            machines.append(doc["machine"])
        except json.JSONDecodeError:
            rows += [json.loads(line) for line in text.splitlines() if line.startswith('{"backend"')]
    result: dict[str, Any] = {"benchmark": "scale", "n": args.n, "dim": 128, "queries": args.queries,
                              "k": args.k, "params": PARAMS, "data": "face_like (LFW-fitted face model)",
                              "machine": machines[0] if machines else machine(), "part_machines": machines,
                              "note": args.note or f"combined from {len(args.combine)} runs, one backend each, on "
                                                   "the same machine", "results": rows}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    plot(result, plot_path(out))
    print(f"wrote {out}")


def plot_path(out: Path) -> Path:
    """benchmarks/plots/scale.png beside a committed result; a PNG next to any other JSON."""
    return ROOT / "benchmarks" / "plots" / "scale.png" if out.resolve().parent == ROOT / "benchmarks" / "results" \
        else out.with_suffix(".png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="threads of our HNSW build (0 = every core)")
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--combine", type=Path, nargs="+", metavar="PART",
                    help="merge the rows of runs started at the same time (result JSON files, or logs with "
                         "one JSON row per line) into --out, e.g. one run per backend side by side")
    ap.add_argument("--note", default="", help="how the combined parts were run (kept in the result)")
    ap.add_argument("--child", choices=["build", "serve"], help=argparse.SUPPRESS)
    ap.add_argument("--backend", help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child == "build":
        print(json.dumps(child_build(args.backend, args.n, args.queries, args.work)))
        return
    if args.child == "serve":
        print(json.dumps(child_serve(args.backend, args.n, args.queries, args.work, args.k)))
        return

    full = args.n >= 1_000_000
    out = args.out or ROOT / "benchmarks" / "results" / ("scale.json" if full else "quick/scale.json")
    if args.combine:
        combine(args, out)
        return
    result: dict[str, Any] = {"benchmark": "scale", "n": args.n, "dim": 128, "queries": args.queries,
                              "k": args.k, "params": PARAMS, "data": "face_like (LFW-fitted face model)",
                              "machine": machine(), "results": []}
    for backend in args.backends.split(","):
        work = Path(tempfile.mkdtemp(prefix=f"scale-{backend}-"))
        try:
            t = time.perf_counter()
            row = {"backend": "milvus-lite" if backend == "milvus" else backend}
            row.update(run_child("build", backend, args, work))
            row.update(run_child("serve", backend, args, work))
            row["wall_s"] = time.perf_counter() - t
            result["results"].append(row)
            print(json.dumps(row), flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    result["machine"]["load_avg_end"] = list(os.getloadavg())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    plot(result, plot_path(out))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
