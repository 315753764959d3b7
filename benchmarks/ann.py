"""ANN benchmark: every index on the same data in the same run (ann-benchmarks style).

    python benchmarks/ann.py --quick            # CI: 20k face-like, < 2 min, results/quick/, fails on low recall
    python benchmarks/ann.py                    # by hand: 200k face-like + 200k Gaussian (+ --million)
    python benchmarks/ann.py --datasets lfw     # the real dlib embeddings of every LFW face
    python benchmarks/ann.py --report           # Markdown tables of the committed results

For each index and each value of its search parameter: recall@1/10/100, the source report's
metrics (chosen position, in 10 best, DCG) for k = 1, 5, 10, 100, single-thread QPS (one query
per call, best of the interleaved repetitions), batched QPS on 2 threads, build time, memory.
Ours and hnswlib are built with the same M / ef_construction on one thread, interleaved.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
import _checkout  # noqa: F401  (src/ on sys.path when it should be)
from _machine import cpu_model

from lookalike.evaluation.ann import answer_quality, ground_truth
from lookalike.evaluation.synthetic import face_like, gaussian
from lookalike.index import available_indexes, create_index, index_class

EXACT = {"exact", "faiss-flat", "kdtree", "balltree"}
EF_FULL = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]
EF_QUICK = [10, 16, 32, 64, 128, 256]
# held-out i.i.d. Gaussian queries need a far wider beam: recall@10 ≈ 0.80 at ef = 512, 0.977 at
# 4096 (200k, M = 16); the misses halve per doubling, so 0.99 needs ef ≈ 10,000
EF_HARD = EF_FULL + [768, 1024, 1536, 2048, 3072, 4096, 6144, 8192, 12288, 16384]
GRAPH = {"hnsw", "hnswlib", "faiss-hnsw"}


def sweep(name: str, quick: bool, hard: bool = False) -> tuple[dict[str, Any], str | None, list[Any]]:
    """Build parameters, the search parameter's name and its values for one index."""
    if name in GRAPH:
        return {"M": 16, "ef_construction": 200}, "ef", EF_QUICK if quick else EF_HARD if hard else EF_FULL
    if name == "annoy":
        return {"n_trees": 50}, "search_k", [500, 2000, 5000, 20000, 50000] if quick else \
            [500, 1000, 2000, 5000, 10000, 20000, 50000, 100000]
    if name == "ngt":
        return {"edge_size": 10}, "epsilon", [0.0, 0.05, 0.1, 0.2, 0.4]
    if name == "faiss-ivfpq":
        return {"k_factor": 10}, "nprobe", [1, 4, 16, 64] if quick else [1, 2, 4, 8, 16, 32, 64, 128]
    return {}, None, [None]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def single_thread_qps(ix: Any, q: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    ids = np.empty((len(q), k), dtype=np.int64)
    t = time.perf_counter()
    for i in range(len(q)):
        ids[i] = ix.search(q[i : i + 1], k)[1][0]
    return len(q) / (time.perf_counter() - t), ids


def build(name: str, x: np.ndarray, threads: int) -> tuple[Any, float, float]:
    params, _, _ = sweep(name, True)
    if "threads" in index_class(name).__init__.__code__.co_varnames:
        params["threads"] = threads
    gc.collect()
    before = rss_mb()
    ix = create_index(name, x.shape[1], **params)
    t = time.perf_counter()
    ix.add(x, np.arange(len(x)))
    ix.build()
    secs = time.perf_counter() - t
    mem = ix.core.memory_bytes / 2**20 if name == "hnsw" else max(rss_mb() - before, 0.0)
    return ix, secs, mem


def set_threads(ix: Any, n: int) -> None:
    if hasattr(ix, "threads"):
        ix.threads = n


def run_dataset(label: str, x: np.ndarray, q: np.ndarray, names: list[str], reps: int, quick: bool,
                paired: tuple[str, ...] = ("hnsw", "hnswlib")) -> dict[str, Any]:
    print(f"\n== {label}: {len(x)} vectors, {len(q)} queries, dim {x.shape[1]}", flush=True)
    gt = ground_truth(x, q, depth=100)
    built: dict[str, Any] = {}
    builds: dict[str, list[float]] = {n: [] for n in names}
    mem: dict[str, float] = {}
    # builds: the paired libraries interleaved `reps` times on one thread; the others once
    for r in range(reps):
        for n in names:
            if r > 0 and n not in paired:
                continue
            ix, secs, m = build(n, x, threads=1 if n in paired else 2)
            builds[n].append(secs)
            mem.setdefault(n, m)
            if n not in built:
                built[n] = ix
            else:
                del ix
            print(f"  build {n:12s} {secs:8.2f} s", flush=True)
    results: dict[str, Any] = {}
    for n in names:
        _, pname, values = sweep(n, quick, hard=label.startswith("gaussian"))
        results[n] = {"index": n, "params": built[n].params, "build_s": min(builds[n]), "build_all_s": builds[n],
                      "memory_mb": mem[n], "search_param": pname, "points": [
                          {"param": v, "qps": 0.0, "qps_all": []} for v in values]}
    for r in range(reps):  # timed single-thread runs, interleaved across indexes per parameter value
        for j in range(max(len(res["points"]) for res in results.values())):
            for n in names:
                pts = results[n]["points"]
                if j >= len(pts) or (r > 0 and n not in paired):
                    continue
                ix, p = built[n], pts[j]
                if results[n]["search_param"]:
                    ix.set_search_params(**{results[n]["search_param"]: p["param"]})
                set_threads(ix, 1)
                qps, ids10 = single_thread_qps(ix, q, 10)
                p["qps_all"].append(qps)
                p["qps"] = max(p["qps"], qps)
                if r == 0:
                    set_threads(ix, 2)
                    t = time.perf_counter()
                    ix.search(q, 10)
                    p["qps_batch_2threads"] = len(q) / (time.perf_counter() - t)
                    _, ids100 = ix.search(q, 100)
                    p.update(answer_quality(x, q, ids100, gt))
                    p["recall@10_timed"] = answer_quality(x, q, ids10, gt, ks=(10,))["recall@10"]
    for n in names:
        for p in results[n]["points"]:
            print(f"  {n:12s} {p['param']!s:>8s} recall@10 {p['recall@10_timed']:.4f} "
                  f"qps {p['qps']:9.0f}  batch {p['qps_batch_2threads']:9.0f}", flush=True)
    out = {"dataset": label, "n": len(x), "queries": len(q), "dim": int(x.shape[1]), "reps": reps,
           "results": list(results.values())}
    if all(p in results for p in paired):
        out["ours_vs_hnswlib"] = compare(results["hnsw"], results["hnswlib"])
        print("  ours / hnswlib:", json.dumps(out["ours_vs_hnswlib"]), flush=True)
    return out


def qps_at(res: dict[str, Any], target: float) -> float | None:
    """Single-thread QPS at recall@10 = target, interpolated (log QPS, linear recall); where the
    curve starts above the target, the smallest parameter that reaches it."""
    pts = [(p["recall@10_timed"], p["qps"]) for p in res["points"]]
    for i, (rc, qps) in enumerate(pts):
        if rc >= target:
            if i == 0:
                return qps
            r0, q0 = pts[i - 1]
            if rc == r0:
                return qps
            f = (target - r0) / (rc - r0)
            return float(np.exp(np.log(q0) + f * (np.log(qps) - np.log(q0))))
    return None


def compare(ours: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"build_time_ratio": ours["build_s"] / ref["build_s"]}
    for t in (0.95, 0.99):
        a, b = qps_at(ours, t), qps_at(ref, t)
        out[f"qps@{t}"] = {"ours": a, "hnswlib": b, "ratio": (a / b) if a and b else None}
    return out


def plot(data: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    for res in data["results"]:
        pts = sorted((p["recall@10_timed"], p["qps"]) for p in res["points"])
        ax.plot([a for a, _ in pts], [b for _, b in pts], "o-" if len(pts) > 1 else "s",
                label=res["index"], lw=2.5 if res["index"] == "hnsw" else 1.2, ms=4)
    ax.set_yscale("log")
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries per second, 1 thread (log)")
    ax.set_title(f"{data['dataset']}: {data['n']:,} × {data['dim']}-d, {data['queries']:,} queries")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def machine() -> dict[str, Any]:
    from lookalike import _hnsw

    return {"cpu": cpu_model() or "?", "cores": os.cpu_count(), "python": platform.python_version(), "simd": _hnsw.simd(),
            "load_avg": os.getloadavg(), "time": time.strftime("%Y-%m-%d %H:%M:%S")}


def holdout(vecs: np.ndarray, nq: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Queries not in the index: a random held-out subset."""
    perm = np.random.default_rng(seed).permutation(len(vecs))
    return np.ascontiguousarray(vecs[perm[nq:]]), np.ascontiguousarray(vecs[perm[:nq]])


def _fmt(v: float | None, spec: str = ",.0f") -> str:
    return "—" if v is None else format(v, spec)


def report(paths: list[Path]) -> str:
    """Markdown tables from result files: ours vs hnswlib, then every index at recall@10 ≥ 0.9/0.95/0.99."""
    head = [("| data set | QPS@0.95 ours | hnswlib | ratio | QPS@0.99 ours | hnswlib | ratio | build ours | "
             "hnswlib | ratio |"), "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    rows = ["| data set | index | build s | memory MB | QPS@0.90 | QPS@0.95 | QPS@0.99 | best recall@10 |",
            "|---|---|---:|---:|---:|---:|---:|---:|"]
    for path in paths:
        data = json.loads(path.read_text())
        res = {r["index"]: r for r in data["results"]}
        if "hnsw" in res and "hnswlib" in res:
            c = compare(res["hnsw"], res["hnswlib"])
            cells = [data["dataset"]]
            for t in ("0.95", "0.99"):
                cells += [_fmt(c[f"qps@{t}"]["ours"]), _fmt(c[f"qps@{t}"]["hnswlib"]),
                          _fmt(c[f"qps@{t}"]["ratio"], ".2f") + "×" if c[f"qps@{t}"]["ratio"] else "—"]
            cells += [f"{res['hnsw']['build_s']:.1f} s", f"{res['hnswlib']['build_s']:.1f} s",
                      f"{c['build_time_ratio']:.2f}×"]
            head.append("| " + " | ".join(cells) + " |")
        for name, r in sorted(res.items(), key=lambda kv: -(qps_at(kv[1], 0.95) or 0)):
            best = max(p["recall@10_timed"] for p in r["points"])
            rows.append(f"| {data['dataset']} | {name} | {r['build_s']:.1f} | {r['memory_mb']:.0f} | "
                        f"{_fmt(qps_at(r, 0.90))} | {_fmt(qps_at(r, 0.95))} | {_fmt(qps_at(r, 0.99))} | {best:.4f} |")
    return "\n".join(head) + "\n\n" + "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="20k face-like vectors, CI check")
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--indexes", default="", help="comma-separated names (default: every installed one)")
    ap.add_argument("--datasets", default="face-like,gaussian", help="face-like, gaussian and/or lfw")
    ap.add_argument("--million", action="store_true", help="also 1M face-like vectors (hnsw, hnswlib)")
    ap.add_argument("--report", action="store_true", help="print Markdown tables of the committed results")
    args = ap.parse_args(argv)
    if args.report:
        print(report(sorted((ROOT / "benchmarks" / "results").glob("ann-*.json"))))
        return 0
    names = [n for n in (args.indexes.split(",") if args.indexes else available_indexes())
             if index_class(n).available()]
    if args.quick:
        out_dir = ROOT / "benchmarks" / "results" / "quick"
        plot_dir = out_dir
        vecs, _ = face_like(20_200, seed=1)
        x, q = holdout(vecs, 200, seed=1)
        runs = [("face-like-20k", x, q, names, 1)]
    else:
        out_dir, plot_dir = ROOT / "benchmarks" / "results", ROOT / "benchmarks" / "plots"
        runs = []
        slow = {"kdtree", "balltree", "exact"}  # brute-force speed at this size: measured in --quick
        big = [n for n in names if n not in slow]
        for ds in [d for d in args.datasets.split(",") if d]:
            if ds == "lfw":  # the real thing: dlib embeddings of every LFW face, every index (it is small)
                from lookalike.evaluation.lfw_embeddings import lfw_embeddings

                x, q = holdout(lfw_embeddings()[0], args.queries, seed=2)
                runs.append((f"lfw-real-{len(x) // 1000}k", x, q, names, args.reps))
                continue
            if ds not in ("face-like", "gaussian"):
                ap.error(f"unknown data set {ds!r} (face-like, gaussian, lfw)")
            vecs = face_like(args.n + args.queries, seed=2)[0] if ds == "face-like" else \
                gaussian(args.n + args.queries, seed=2)
            x, q = holdout(vecs, args.queries, seed=2)
            runs.append((f"{ds}-{args.n // 1000}k", x, q, big if ds == "face-like" else
                         [n for n in big if n in ("hnsw", "hnswlib", "faiss-hnsw")], args.reps))
        if args.million:
            x, q = holdout(face_like(1_000_000 + args.queries, seed=3)[0], args.queries, seed=3)
            runs.append(("face-like-1M", x, q, ["hnsw", "hnswlib"], 1))
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_dir.mkdir(parents=True, exist_ok=True)
    failures = []
    for label, x, q, run_names, reps in runs:
        data = run_dataset(label, x, q, run_names, reps, args.quick)
        data["machine"] = machine()
        path = out_dir / f"ann-{label}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, path)
        plot(data, plot_dir / f"ann-{label}.png")
        print(f"  wrote {path.relative_to(ROOT)}", flush=True)
        for res in data["results"]:
            best = max(p["recall@10"] for p in res["points"])
            need = 1.0 - 1e-9 if res["index"] in EXACT else 0.9
            if best < need:
                failures.append(f"{res['index']} reached recall@10 = {best:.4f} < {need:.2f} on {label}")
    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    return 1 if (args.quick and failures) else 0


if __name__ == "__main__":
    sys.exit(main())
