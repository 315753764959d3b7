"""The arithmetic of docs/scaling.md, from the committed measurements (nothing retyped).

    python benchmarks/scaling_figures.py            # rewrite the figures block of docs/scaling.md
    python benchmarks/scaling_figures.py --check    # fail if the doc's figures differ from the JSON

Inputs: ``benchmarks/results/scale.json`` (1 M face-like vectors in our HNSW and in Milvus Lite:
memory, single-query rate on one core, insert rate) and ``benchmarks/results/ingest.json`` (real LFW
photos through the one pipeline: end-to-end photos per second on the measured cores). Output: the
block between the ``figures`` markers of ``docs/scaling.md``, and ``benchmarks/results/scaling.json``.

Model (stated in the doc too): memory per vector = the measured bytes per vector at 128-d with
the raw vector part rescaled for 512-d (the graph's links do not depend on the dimension); query
cost grows with the dimension (distance computations dominate: ×dim/128) and with log(n) of the
graph (×ln(4.7 M)/ln(1 M)); cores are planned at 70 % utilisation; a query node has 8 cores.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "scaling.md"
BEGIN, END = "<!-- figures:begin (benchmarks/scaling_figures.py) -->", "<!-- figures:end -->"

N_TARGET = 4_700_000  # MegaFace: 4.7 M photos of 672,057 people
DIMS = (128, 512)
TARGET_QPS = (100, 1_000, 10_000)
WORKERS = (1, 8, 32, 128)  # ingest workers of one core each (one pipeline actor per core)
UTILISATION = 0.7
NODE_CORES = 8


def load(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "benchmarks" / "results" / name).read_text())


def figures() -> dict[str, Any]:
    scale, ingest = load("scale.json"), load("ingest.json")
    rows = {r["backend"]: r for r in scale["results"]}
    n, dim = scale["n"], scale["dim"]
    out: dict[str, Any] = {"source": {"scale": "benchmarks/results/scale.json",
                                      "ingest": "benchmarks/results/ingest.json"},
                           "measured_n": n, "measured_dim": dim, "target_n": N_TARGET, "backends": {}}
    growth = math.log(N_TARGET) / math.log(n)
    for name, r in rows.items():
        per_vec = r["build_rss_mb"] * 2**20 / n  # bytes per vector, measured
        overhead = per_vec - 4 * dim  # links, ids, bookkeeping
        b: dict[str, Any] = {"bytes_per_vector_measured": per_vec, "per_core_qps_measured": r["qps"],
                             "recall_at_10": r["recall_at_10"], "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"],
                             "insert_per_s": r["insert_per_s"], "reopen_s": r["reopen_s"],
                             "load_hours_target": N_TARGET / r["insert_per_s"] / 3600, "dims": {}}
        for d in DIMS:
            mem_gb = N_TARGET * (overhead + 4 * d) / 2**30
            qps_core = r["qps"] / growth / (d / dim)
            b["dims"][str(d)] = {
                "memory_gb_per_replica": mem_gb,
                "raw_vectors_gb": N_TARGET * 4 * d / 2**30,
                "per_core_qps": qps_core,
                "query_nodes": {str(t): math.ceil(t / (qps_core * UTILISATION) / NODE_CORES) for t in TARGET_QPS},
            }
        out["backends"][name] = b
    e2e = ingest["end_to_end"]
    per_core = e2e["photos_per_s"] / e2e["workers"]
    out["ingest"] = {"photos_per_s_measured": e2e["photos_per_s"], "workers_measured": e2e["workers"],
                     "per_core_photos_per_s": per_core,
                     "hours": {str(w): N_TARGET / (per_core * w) / 3600 for w in WORKERS}}
    ray_file = ROOT / "benchmarks" / "results" / "ray_ingest.json"
    if ray_file.exists():
        r = json.loads(ray_file.read_text())
        out["ray_ingest"] = {"sizes": r["sizes"], "cores": r["cores"], "same": r["same_faces_and_vectors"],
                             "machine": r["machine"], "fit": r.get("fit"),
                             "lfw_photos": r.get("lfw_photos"), "at_lfw": r.get("ray_over_default_at_lfw"),
                             "per_photo_ratio": r.get("per_photo_ratio")}
    out["machine"] = scale["machine"]
    out["part_machines"] = scale.get("part_machines") or [scale["machine"]]
    return out


def load_range(machines: list[dict[str, Any]]) -> str:
    """The 1-minute load averages seen at the start and end of the runs: "3.2" or "0.2–6.7"."""
    seen = [m[k][0] for m in machines for k in ("load_avg", "load_avg_end") if m.get(k)]
    lo, hi = min(seen), max(seen)
    return f"{lo:.1f}" if f"{lo:.1f}" == f"{hi:.1f}" else f"{lo:.1f}–{hi:.1f}"


def rate(x: float) -> str:
    """A rate with the digits that matter: 3,107 / 2.1 / 0.52."""
    return f"{x:,.0f}" if x >= 10 else f"{x:.2g}" if x < 1 else f"{x:.1f}"


def render(f: dict[str, Any]) -> str:
    L = [BEGIN, "",
         (f"Measured ({f['measured_n']:,} × {f['measured_dim']}-d face-like vectors, "
          f"{f['machine']['cores']} cores, {f['machine']['cpu'] or 'cpu n/a'}, load average "
          f"{load_range(f['part_machines'])}; `{f['source']['scale']}`):"), "",
         "| backend | inserts/s | p50 ms | p99 ms | QPS (1 client) | recall@10 | bytes/vector | reopen s |",
         "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, b in f["backends"].items():
        L.append(f"| {name} | {b['insert_per_s']:,.0f} | {b['p50_ms']:.2f} | {b['p99_ms']:.2f} | "
                 f"{rate(b['per_core_qps_measured'])} | {b['recall_at_10']:.3f} | {b['bytes_per_vector_measured']:,.0f} "
                 f"| {b['reopen_s']:.2f} |")
    L += ["", (f"Planned for {f['target_n']:,} vectors (model above; {int(UTILISATION * 100)} % utilisation, "
               f"{NODE_CORES}-core query nodes):"), "",
          "| backend | dim | memory per replica (GB) | of which raw vectors | per-core QPS | "
          + " | ".join(f"nodes for {t:,} QPS" for t in TARGET_QPS) + " |",
          "|---|---:|---:|---:|---:|" + "---:|" * len(TARGET_QPS)]
    for name, b in f["backends"].items():
        for d, x in b["dims"].items():
            L.append(f"| {name} | {d} | {x['memory_gb_per_replica']:.1f} | {x['raw_vectors_gb']:.1f} | "
                     f"{rate(x['per_core_qps'])} | " + " | ".join(str(x["query_nodes"][str(t)]) for t in TARGET_QPS)
                     + " |")
    ing = f["ingest"]
    L += ["", (f"Ingest (`{f['source']['ingest']}`: {ing['photos_per_s_measured']:.1f} photos/s end to end on "
               f"{ing['workers_measured']} cores = {ing['per_core_photos_per_s']:.2f} photos/s per core):"), "",
          "| workers (1 core each) | " + " | ".join(str(w) for w in WORKERS) + " |",
          "|---|" + "---:|" * len(WORKERS),
          "| hours for 4.7 M photos | " + " | ".join(f"{h:.1f}" for h in ing["hours"].values()) + " |", "",
          "Loading the 4.7 M vectors themselves (insert rate above): "
          + ", ".join(f"{name} {b['load_hours_target'] * 60:.0f} min" for name, b in f["backends"].items()) + ".",
          ""]
    if "ray_ingest" in f:
        r = f["ray_ingest"]
        runs = "; ".join(f"{x['photos']} photos: default {x['best_s']['default']:.1f} s, Ray {x['best_s']['ray']:.1f} s "
                         f"(×{x['ray_over_default']:.2f})" for x in r["sizes"])
        L += [(f"Ray vs the default ingest (`benchmarks/results/ray_ingest.json`, LFW photos, {r['cores']} cores, "
               f"load average {load_range([r['machine']])}, Ray's start included): {runs}; same faces and vectors: "
               f"{'yes' if r['same'] else 'NO'}.")]
        if r["fit"]:
            L += ["", (f"Fitted (time = fixed + per photo × n): default {r['fit']['default']['fixed_s']:.1f} s + "
                       f"{r['fit']['default']['per_photo_s'] * 1e3:.0f} ms/photo, Ray {r['fit']['ray']['fixed_s']:.1f} s + "
                       f"{r['fit']['ray']['per_photo_s'] * 1e3:.0f} ms/photo (×{r['per_photo_ratio']:.2f} per photo); "
                       f"predicted for all {r['lfw_photos']:,} LFW photos: Ray ×{r['at_lfw']:.2f} the default's time.")]
        L.append("")
    L.append(END)
    return "\n".join(L)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="fail if docs/scaling.md differs from the JSON")
    args = ap.parse_args()
    f = figures()
    block = render(f)
    text = DOC.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = head + block + tail
    if args.check:
        if new != text:
            sys.exit("docs/scaling.md figures differ from the results; run python benchmarks/scaling_figures.py")
        print("docs/scaling.md figures match the results")
        return
    DOC.write_text(new)
    (ROOT / "benchmarks" / "results" / "scaling.json").write_text(json.dumps(f, indent=1))
    print(block)


if __name__ == "__main__":
    main()
