"""Group all of LFW by person with the labels hidden; add 10 % incrementally; cluster 1 M synthetic faces.

    PYTHONPATH=src python benchmarks/cluster.py --calibrate        # reference thresholds (not LFW)
    PYTHONPATH=src python benchmarks/cluster.py --lfw              # methods × metrics × time
    PYTHONPATH=src python benchmarks/cluster.py --incremental      # last 10 % added to the first 90 %
    PYTHONPATH=src python benchmarks/cluster.py --synthetic 1000000  # time and memory
    PYTHONPATH=src python benchmarks/cluster.py --report           # docs/clustering.md from the JSON

Each part updates its own key of ``benchmarks/results/cluster.json``. LFW lists photos person by
person; a clustering must not see that order (it leaks the labels: Chinese Whispers gains half a
point of pairwise F from it), so every run clusters a seeded shuffle, and the methods table gives
mean ± std over ``--seeds`` shuffles. Times are wall-clock seconds from stored vectors (k-NN graph,
edges, clustering, refinement), median over the shuffles, on this machine with its load at the time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import _checkout  # noqa: F401  (puts src/ on the path)
import numpy as np
from _machine import cpu_model

from lookalike.clustering import REFERENCE, ClusterParams, cluster, score
from lookalike.evaluation.protocols import cluster as protocol

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "cluster.json"
DOC = ROOT / "docs" / "clustering.md"


def machine() -> dict[str, Any]:
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "load_average_1min": os.getloadavg()[0],
            "threads": os.environ.get("OMP_NUM_THREADS", "all"), "python": sys.version.split()[0]}


def load() -> dict[str, Any]:
    return json.loads(RESULT.read_text()) if RESULT.exists() else {}


def save(key: str, value: Any) -> None:
    data = load()
    data[key] = value
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULT.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=float) + "\n")
    os.replace(tmp, RESULT)


def methods(calibrated: ClusterParams) -> list[tuple[str, ClusterParams]]:
    """The rows of the table: the issue's baselines, then each step of the chosen recipe."""
    plain = {"strict": None, "loose": None, "prune": 0.0}
    return [
        ("Chinese Whispers, 30-NN, edges < 0.42 (issue baseline)",
         ClusterParams(algorithm="chinese-whispers", k=30, threshold=0.42, weighting="unit", **plain)),
        ("Chinese Whispers, 30-NN, edges < 0.45 (issue baseline)",
         ClusterParams(algorithm="chinese-whispers", k=30, threshold=0.45, weighting="unit", **plain)),
        ("Infomap, 30-NN, edges < 0.45, weight 1 − d (issue baseline)",
         ClusterParams(algorithm="infomap", k=30, threshold=0.45, weighting="similarity", **plain)),
        ("Infomap, 30-NN, edges < calibrated FAR 1e-3 distance",
         calibrated.with_(algorithm="infomap", k=30, weighting="similarity", **plain)),
        ("+ locally scaled edges, 60-NN (Infomap)", calibrated.with_(algorithm="infomap", prune=0.0, passes=1)),
        ("+ locally scaled edges, 60-NN (Leiden, modularity)",
         calibrated.with_(algorithm="leiden", prune=0.0, passes=1)),
        ("+ locally scaled edges, 60-NN (Chinese Whispers, dlib)",
         calibrated.with_(algorithm="chinese-whispers", prune=0.0, passes=1)),
        ("+ locally scaled edges, 60-NN (label propagation, igraph)",
         calibrated.with_(algorithm="label-propagation", prune=0.0, passes=1)),
        ("+ prune faces far from their cluster (label propagation)", calibrated.with_(passes=1)),
        ("+ second pass, scale against other clusters (Infomap)", calibrated.with_(algorithm="infomap")),
        ("+ second pass, scale against other clusters (Chinese Whispers)",
         calibrated.with_(algorithm="chinese-whispers")),
        ("★ + second pass, scale against other clusters (label propagation): chosen", calibrated),
    ]


def calibrated_params(cal: dict[str, Any]) -> ClusterParams:
    return ClusterParams(threshold=round(cal["far"]["0.001"], 3), strict=round(cal["far"]["0.0001"], 3),
                         loose=round(cal["far"]["0.01"], 3), prune=round(cal["far"]["0.01"], 3),
                         scale=round(cal["scale"], 3))


def calibrate() -> dict[str, Any]:
    cal = {str(f): protocol.reference_calibration(f) for f in (1e-4, 1e-3, 1e-2)}
    first = cal["0.001"]
    out = {"sets": first["sets"], "same_pairs": first["same_pairs"], "different_pairs": first["different_pairs"],
           "far": {k: v["threshold"] for k, v in cal.items()},
           "true_accept_rate": {k: v["true_accept_rate"] for k, v in cal.items()},
           "scale": first["scale"], "balanced_threshold": first["balanced_threshold"],
           "vectors": protocol.describe_vectors()}
    p = calibrated_params(out)
    code = (REFERENCE.far_1e4, REFERENCE.far_1e3, REFERENCE.far_1e2)
    print(f"reference sets {list(out['sets'])}: FAR 1e-4 / 1e-3 / 1e-2 at distance "
          f"{p.strict} / {p.threshold} / {p.loose}; logistic scale {p.scale}; defaults in the code: {code}")
    if (p.strict, p.threshold, p.loose) != code:
        print("  ! the defaults in lookalike/clustering/engine.py (REFERENCE) differ: update them")
    save("calibration", out)
    return out


def lfw(seeds: int) -> None:
    cal = load().get("calibration") or calibrate()
    chosen = calibrated_params(cal)
    paths, labels = protocol.lfw_collection()
    vectors = protocol.face_vectors(paths)
    m = machine_at_start()
    rows = []
    for name, params in methods(chosen):
        runs = []
        for seed in range(seeds):
            order = np.random.default_rng(seed).permutation(len(vectors))
            t0 = time.perf_counter()
            c = cluster(vectors[order], params)
            dt = time.perf_counter() - t0
            runs.append({**score(c.labels, labels[order]).as_dict(), "seconds": dt, "steps": c.timings})
        agg = {k: float(np.mean([r[k] for r in runs])) for k in runs[0] if k != "steps"}
        std = {f"{k}_std": float(np.std([r[k] for r in runs])) for k in ("pairwise_f", "bcubed_f")}
        row = {"method": name, "params": params.as_dict(), **agg, **std,
               "seconds": float(np.median([r["seconds"] for r in runs])), "runs": runs}
        rows.append(row)
        print(f"{name:72s} pairwise P/R/F {row['pairwise_precision']:.4f}/{row['pairwise_recall']:.4f}/"
              f"{row['pairwise_f']:.4f} ± {row['pairwise_f_std']:.4f}  BCubed P/R/F {row['bcubed_precision']:.4f}/"
              f"{row['bcubed_recall']:.4f}/{row['bcubed_f']:.4f} ± {row['bcubed_f_std']:.4f}  "
              f"clusters {row['clusters']:.0f}  {row['seconds']:.1f} s", flush=True)
    save("lfw", {"photos": len(vectors), "people": len(set(labels)), "seeds": seeds,
                 "vectors": protocol.describe_vectors(), "chosen": chosen.as_dict(), "machine": machine_at_end(m),
                 "methods": rows})


def incremental(seeds: int) -> None:
    cal = load().get("calibration") or calibrate()
    params = calibrated_params(cal)
    paths, labels = protocol.lfw_collection()
    vectors = protocol.face_vectors(paths)
    m = machine_at_start()
    runs = [protocol.incremental(vectors, labels, params, fraction=0.1, seed=s) for s in range(seeds)]
    m = machine_at_end(m)
    for r in runs:
        print(f"seed {r['seed']}: {r['new']} photos added to {r['old']}: {r['incremental']['seconds']:.2f} s vs full "
              f"{r['full']['seconds']:.2f} s ({100 * r['time_ratio']:.1f} %); pairwise F {r['incremental']['pairwise_f']:.4f} "
              f"vs {r['full']['pairwise_f']:.4f}, BCubed F {r['incremental']['bcubed_f']:.4f} vs {r['full']['bcubed_f']:.4f}")
    save("incremental", {"params": params.as_dict(), "machine": m, "runs": runs})


def machine_at_start() -> dict[str, Any]:
    """:func:`machine` plus the 1/5/15-minute load averages when the timed part starts."""
    return {**machine(), "load_average_start": list(os.getloadavg())}


def machine_at_end(m: dict[str, Any]) -> dict[str, Any]:
    return {**m, "load_average_end": list(os.getloadavg())}


def synthetic_people(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``n`` synthetic faces of people sized like LFW's, from a face model fitted to LFW's vectors
    (the default spec's), with the real and synthetic statistics side by side."""
    from lookalike.evaluation.synthetic import FaceModel
    from lookalike.evaluation.synthetic_people import describe, fit_exponent, people

    paths, labels = protocol.lfw_collection()
    real = protocol.face_vectors(paths)
    law = fit_exponent(labels)
    model = FaceModel.fit(real, labels)
    t0 = time.perf_counter()
    vectors, truth = people(n, model, law, seed=seed)
    gen = time.perf_counter() - t0
    info = {"model": {"fitted_to": f"LFW, {len(real):,} photos, {protocol.describe_vectors()}",
                      "size_exponent": law.exponent, "max_size": law.max_size, "spread_sigma": model.scale_sigma},
            "real_lfw": describe(real, labels), "synthetic": describe(vectors, truth), "generate_seconds": gen}
    return vectors, truth, info


def graph_recall(vectors: np.ndarray, graph: Any, sample: int = 1000, seed: int = 0) -> float:
    """Share of the true ``k`` nearest neighbours the graph holds, over ``sample`` faces (exact search)."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(vectors), size=min(sample, len(vectors)), replace=False)
    hits = 0
    for chunk in np.array_split(rows, max(1, len(rows) // 50)):
        q = vectors[chunk].astype(np.float32)
        d2 = (q * q).sum(1)[:, None] - 2 * q @ vectors.T + (vectors * vectors).sum(1)[None, :]
        d2[np.arange(len(chunk)), chunk] = np.inf  # not itself
        true = np.argpartition(d2, graph.k, axis=1)[:, : graph.k]
        hits += sum(len(np.intersect1d(t, g)) for t, g in zip(true, graph.ids[chunk]))
    return hits / (len(rows) * graph.k)


def synthetic(n: int) -> None:
    """The timed run: cluster ``n`` synthetic faces with the chosen setting; then score it against the
    synthetic truth and measure the k-NN graph's recall (both outside the timed part)."""
    from lookalike.clustering import cluster_graph
    from lookalike.clustering.graph import knn_graph

    cal = load().get("calibration") or calibrate()
    params = calibrated_params(cal)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    vectors, labels, info = synthetic_people(n)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    m = machine_at_start()
    t0 = time.perf_counter()  # what cluster(vectors, params) does, keeping the graph to measure it after
    g = knn_graph(vectors, params.k)
    t1 = time.perf_counter()
    c = cluster_graph(vectors, g, params)
    dt = time.perf_counter() - t0
    m = machine_at_end(m)
    c.timings = {"graph": t1 - t0, **c.timings, "total": dt}
    rss2 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    s = score(c.labels, labels)
    recall = graph_recall(vectors, g, 500)
    out = {"faces": n, "identities": len(np.unique(labels)), **info, "seconds": dt, "steps": c.timings,
           "peak_rss_gib": rss2, "rss_before_gib": rss0, "rss_with_vectors_gib": rss1,
           "graph_recall": {"sample": 500, "recall": recall},
           "params": params.as_dict(), "machine": m, "scores": s.as_dict()}
    print(f"{n:,} synthetic faces of {out['identities']:,} people: clustered in {dt:.1f} s "
          f"({', '.join(f'{k} {v:.1f}' for k, v in c.timings.items())}); peak RSS {rss2:.2f} GiB "
          f"(vectors alone {rss1:.2f}); pairwise F {s.pairwise_f:.4f}, BCubed F {s.bcubed_f:.4f}; "
          f"graph recall {recall:.4f}; load {m['load_average_start'][0]:.1f} → {m['load_average_end'][0]:.1f}")
    save(f"synthetic-{n}", out)


def profile(n: int) -> None:
    """Where the time goes on ``n`` synthetic faces: index build, k-NN queries, each clustering pass,
    for the gallery's HNSW parameters and for the graph's own (M 8, beam 32); scores for both."""
    from lookalike.clustering import cluster_graph
    from lookalike.clustering.graph import GRAPH_EF_CONSTRUCTION, GRAPH_M, build_index, query_graph
    from lookalike.index.hnsw import DEFAULT_M

    cal = load().get("calibration") or calibrate()
    params = calibrated_params(cal)
    vectors, labels, info = synthetic_people(n)
    rows = []
    for name, hnsw in (("gallery index (M 16, beam 64)", {"M": DEFAULT_M, "ef_construction": 64}),
                       (f"graph index (M {GRAPH_M}, beam {GRAPH_EF_CONSTRUCTION})",
                        {"M": GRAPH_M, "ef_construction": GRAPH_EF_CONSTRUCTION})):
        m = machine_at_start()
        t0 = time.perf_counter()
        ix = build_index(vectors, "hnsw", **hnsw)
        t1 = time.perf_counter()
        g = query_graph(ix, vectors, params.k, self_ids=np.arange(n, dtype=np.int64))
        t2 = time.perf_counter()
        c = cluster_graph(vectors, g, params)
        m = machine_at_end(m)
        steps = {"build": t1 - t0, "query": t2 - t1, **c.timings}
        s = score(c.labels, labels)
        recall = graph_recall(vectors, g, 500)
        rows.append({"graph": name, "hnsw": hnsw, "steps": steps, "seconds": sum(steps.values()),
                     "graph_recall": recall, "scores": s.as_dict(), "machine": m})
        print(f"{name}: {', '.join(f'{k} {v:.1f}' for k, v in steps.items())} s; recall {recall:.4f}; "
              f"pairwise F {s.pairwise_f:.4f}, BCubed F {s.bcubed_f:.4f}; load {m['load_average_end'][0]:.1f}",
              flush=True)
        del ix
    save(f"profile-{n}", {"faces": n, **info, "params": params.as_dict(), "rows": rows})


def plot(data: dict[str, Any]) -> list[Path]:
    """benchmarks/plots/cluster-*.png from the JSON: LFW methods (pairwise F × BCubed F) and the
    synthetic runs' time per step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    plots = ROOT / "benchmarks" / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    if data.get("lfw"):
        fig, ax = plt.subplots(figsize=(11, 5))
        for i, r in enumerate(data["lfw"]["methods"]):
            star = r["method"].startswith("★")
            ax.scatter(100 * r["pairwise_f"], 100 * r["bcubed_f"], s=90 if star else 40,
                       marker="*" if star else "o", label=f"{i + 1}. {r['method'][:60]}")
            ax.annotate(str(i + 1), (100 * r["pairwise_f"], 100 * r["bcubed_f"]), fontsize=8,
                        xytext=(3, 3), textcoords="offset points")
        ax.axvline(97, color="grey", ls="--", lw=0.8)
        ax.axhline(95, color="grey", ls="--", lw=0.8)
        ax.set_xlabel("pairwise F (%)")
        ax.set_ylabel("BCubed F (%)")
        ax.set_title(f"All of LFW ({data['lfw']['photos']:,} photos), labels hidden; dashed: the targets")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        fig.tight_layout()
        path = plots / "cluster-lfw.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        out.append(path)
    runs = [(f"{v['faces']:,} faces", v["steps"], v["machine"]) for k, v in sorted(data.items())
            if k.startswith("synthetic-") and "load_average_start" in v["machine"]]
    for k, v in sorted(data.items()):
        if k.startswith("profile-"):
            runs += [(f"{v['faces']:,}, {r['graph'].split(' (')[0]}", r["steps"], r["machine"]) for r in v["rows"]]
    if runs:
        fig, ax = plt.subplots(figsize=(9, 0.7 * len(runs) + 2.2))
        keys = ["build", "query", "graph", "pass1", "pass2", "refine"]
        for y, (name, steps, _) in enumerate(runs):
            left = 0.0
            for j, key in enumerate(keys):
                if key in steps:
                    ax.barh(y, steps[key], left=left, color=f"C{j}", label=key)
                    left += steps[key]
            ax.text(left, y, f" {left:.0f} s", va="center", fontsize=8)
        ax.set_yticks(range(len(runs)), [f"{n}\n(load {m['load_average_start'][0]:.1f})" for n, _, m in runs],
                      fontsize=8)
        ax.axvline(600, color="grey", ls="--", lw=0.8)
        ax.set_xlabel("seconds on 2 cores (dashed: 10 minutes)")
        handles, labels = ax.get_legend_handles_labels()
        uniq = dict(zip(labels, handles))
        ax.legend(uniq.values(), uniq.keys(), fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=6)
        ax.set_title("Clustering synthetic faces: time per step")
        fig.tight_layout()
        path = plots / "cluster-synthetic.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        out.append(path)
    return out


def _loads(m: dict[str, Any]) -> str:
    """'a → b' (1-minute load average at start and end of the timed part), or the one figure older runs kept."""
    if "load_average_end" in m:
        return f"{m['load_average_start'][0]:.1f} → {m['load_average_end'][0]:.1f}"
    return f"{m['load_average_1min']:.1f}"


def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


def write_report(data: dict[str, Any], out: Path | None) -> str:
    """docs/clustering.md: every figure from benchmarks/results/cluster.json (``out=None``: only return it)."""
    cal, lfw_, inc = data.get("calibration"), data.get("lfw"), data.get("incremental")
    lines = ["# Grouping photos by person (clustering)", "",
             ("<!-- generated by `python benchmarks/cluster.py --report` from benchmarks/results/cluster.json;"
             " do not edit by hand -->"), "",
             ("`lookalike cluster run` groups a gallery's faces by person; `lookalike cluster list / show / name /"
             " merge / split / undo`, the REST API under `/api/clusters` and the page at `/clusters` work on the"
             " groups. A named group becomes a person of the gallery (searches show the name)."), "",
             "## How it clusters", "",
             ("1. **k-NN graph** of the face vectors from our HNSW index (k = 60): a throw-away index built sparser and "
              "cheaper than a gallery's (M 8, build beam 32), queried once per face with all threads (beam 64)."),
             ("2. **Edges**, locally scaled: a pair is an edge if its distance is under the *strict* distance, or "
             "under the *loose* distance and its locally scaled distance `d·M/√(sᵢsⱼ)` is under the *threshold* "
             "(`sᵢ`: face i's distance to its 60th neighbour, `M`: the median of `s`). dlib's vectors put faces "
             "of many different people of some groups close together; local scaling drops weak links there "
             "and keeps them where the space is sparse. Edge weight `1 − d'`."),
             "3. **Graph clustering**: label propagation (igraph; Chinese Whispers' update rule, in C).",
             ("4. **Pruning**: a face whose root-mean-squared distance to the other faces of its cluster is over "
             "the loose distance leaves it and stands alone."),
             ("5. **Second pass**: steps 2–4 again, with `sᵢ` now face i's distance to its 10th neighbour "
              "*outside* its first-pass cluster — the distance to other people around it, even for a person with "
              "hundreds of photos (whose 60th neighbour is still that person)."),
             "", ("**Singletons**: a face with no edge, or pruned, is a cluster of one. Every photo is scored: a "
             "cluster of one has no pairs (pairwise metrics) and BCubed precision 1 — the convention of Otto, "
             "Wang & Jain (TPAMI 2018) and of BCubed (Amigó et al. 2009). The page hides groups of one by default."),
             ""]
    if cal:
        sets = ", ".join(f"{k} ({v['photos']} photos, {v['people']} people)" for k, v in cal["sets"].items())
        lines += ["## The one setting, chosen without LFW's labels", "",
                  (f"All three distances are false-accept points measured on every pair of other labelled sets — {sets}: "
                  f"{cal['same_pairs']:,} same-person and {cal['different_pairs']:,} different-person pairs; vectors: "
                  f"{cal.get('vectors', 'not recorded')}."), "",
                  "| role | false-accept rate | distance | same-person pairs accepted |", "|---|---|---|---|"]
        for role, key in (("strict", "0.0001"), ("threshold", "0.001"), ("loose (and pruning)", "0.01")):
            lines.append(f"| {role} | {float(key):g} | {cal['far'][key]:.3f} | {_pct(cal['true_accept_rate'][key])} % |")
        lines += ["", ("The structure of the recipe (which steps, k = 60) was chosen by measuring on LFW, as the "
                  "table shows; its distances were not."), ""]
    if lfw_:
        m = lfw_["machine"]
        lines += ["## All of LFW, labels hidden", "",
                  (f"{lfw_['photos']:,} photos of {lfw_['people']:,} people, one vector per photo (the labelled face; "
                  f"{lfw_['vectors']}). Mean ± std over {lfw_['seeds']} seeded shuffles of the photo order (LFW's own "
                  "order is person by person and would leak the labels). Time: wall-clock seconds from stored "
                  f"vectors (graph + edges + clustering + refinement), median; {m['cpu']}, {m['cores']} cores, load "
                  f"average {_loads(m)} (a shared machine: compare times within the table)."), "",
                  ("| method | pairwise P | pairwise R | **pairwise F** | BCubed P | BCubed R | **BCubed F** | clusters "
                  f"(people: {lfw_['people']:,}) | of one | seconds |"), "|---|---|---|---|---|---|---|---|---|---|"]
        for r in lfw_["methods"]:
            lines.append(
                f"| {r['method']} | {_pct(r['pairwise_precision'])} | {_pct(r['pairwise_recall'])} | "
                f"**{_pct(r['pairwise_f'])}** ± {_pct(r['pairwise_f_std'])} | {_pct(r['bcubed_precision'])} | "
                f"{_pct(r['bcubed_recall'])} | **{_pct(r['bcubed_f'])}** ± {_pct(r['bcubed_f_std'])} | "
                f"{r['clusters']:,.0f} | {r['singletons']:,.0f} | {r['seconds']:.1f} |")
        lines += ["", ("Published anchor: approximate Rank-Order clustering, pairwise F 0.87 on all of LFW "
                  "(Otto, Wang & Jain, TPAMI 2018)."), "", "![methods](../benchmarks/plots/cluster-lfw.png)", ""]
    if inc:
        runs = inc["runs"]
        lines += ["## Incremental: the last 10 % of LFW added to clusters of the first 90 %", "",
                  ("A seeded random 90 % is clustered; the other 10 % are clustered among themselves with the same "
                  "recipe and each new group joins the existing cluster it links to most strongly (same edge rule), "
                  "or stays new. Existing faces never move, so names and manual edits stay. Compared with a full "
                  "re-cluster of all photos in the same order. As in a gallery, whose HNSW index holds every face it "
                  "ingested, the index holds the new faces too (its build is ingesting, not counted): one search per "
                  "new face gives its neighbours among the old and the new faces. Load average "
                  f"{_loads(inc['machine'])}."), "",
                  "| seed | added | incremental s | full s | time ratio | pairwise F inc. / full | BCubed F inc. / full |",
                  "|---|---|---|---|---|---|---|"]
        for r in runs:
            lines.append(f"| {r['seed']} | {r['new']:,} | {r['incremental']['seconds']:.2f} | {r['full']['seconds']:.2f} | "
                         f"{_pct(r['time_ratio'])} % | {_pct(r['incremental']['pairwise_f'])} / {_pct(r['full']['pairwise_f'])} | "
                         f"{_pct(r['incremental']['bcubed_f'])} / {_pct(r['full']['bcubed_f'])} |")
        lines.append("")
    runs = sorted((v for k, v in data.items() if k.startswith("synthetic-")), key=lambda v: v["faces"])
    profiles = sorted((v for k, v in data.items() if k.startswith("profile-")), key=lambda v: v["faces"])
    if runs or profiles:
        first = (runs or profiles)[0]
        real, syn = first["real_lfw"], first["synthetic"]
        lines += ["## Synthetic faces at scale", "",
                  ("A synthetic photo collection (`lookalike.evaluation.synthetic_people`): people's photo counts follow "
                  f"a power law fitted to LFW's (exponent {first['model']['size_exponent']:.2f}, at most "
                  f"{first['model']['max_size']} photos: most people once, a few hundreds of times), and the vectors come "
                  f"from a face model fitted to {first['model']['fitted_to']} — identity centres and per-photo offsets "
                  "whose distances match the real ones:"), "",
                  "| | photos of one person | same-person distance | different-person distance | norm |",
                  "|---|---|---|---|---|",
                  (f"| LFW (real) | {_pct(real['faces_alone'])} % | {real['same_mean']:.3f} ± {real['same_std']:.3f} | "
                   f"{real['diff_mean']:.3f} ± {real['diff_std']:.3f} | {real['norm_mean']:.3f} ± {real['norm_std']:.3f} |"),
                  (f"| synthetic, {syn['faces']:,} faces | {_pct(syn['faces_alone'])} % | {syn['same_mean']:.3f} ± "
                   f"{syn['same_std']:.3f} | {syn['diff_mean']:.3f} ± {syn['diff_std']:.3f} | {syn['norm_mean']:.3f} ± "
                   f"{syn['norm_std']:.3f} |"), "",
                  ("The same setting as on LFW. Time: wall-clock seconds from vectors in memory (k-NN graph, both passes, "
                  "prototypes), load averages (1 min) at start → end; peak resident memory of the whole process. The "
                  "scores are against the synthetic people; graph recall: the share of the true 60 nearest neighbours "
                  "the graph holds, over 500 sampled faces."), ""]
    if runs:
        lines += [("| faces | people | **seconds** | graph | clustering + refinement | peak memory GiB | graph recall | "
                   "pairwise F | BCubed F | load |"), "|---|---|---|---|---|---|---|---|---|---|"]
        for r in runs:
            st, m = r["steps"], r["machine"]
            lines.append(f"| {r['faces']:,} | {r['identities']:,} | **{r['seconds']:.0f}** | {st['graph']:.0f} | "
                         f"{st['total'] - st['graph']:.0f} | {r['peak_rss_gib']:.2f} | {r['graph_recall']['recall']:.3f} | "
                         f"{_pct(r['scores']['pairwise_f'])} | {_pct(r['scores']['bcubed_f'])} | "
                         f"{m['load_average_start'][0]:.1f} → {m['load_average_end'][0]:.1f} |")
        lines.append("")
        big, small = runs[-1], (profiles[-1]["rows"][-1] if profiles else None)
        if small is not None and big["faces"] > profiles[-1]["faces"]:
            lines += [(f"On {big['faces']:,} faces the setting scores lower than on {profiles[-1]['faces']:,} (below): "
                       f"{big['identities']:,} synthetic people crowd the same region of the space, so each face has "
                       "more look-alikes, and the graph holds a smaller share of the true 60 nearest neighbours "
                       f"({big['graph_recall']['recall']:.2f} against {small['graph_recall']:.2f}). How much each "
                       "contributes was not measured at this size."), ""]
    for pr in profiles:
        lines += [(f"Where the time goes on {pr['faces']:,} synthetic faces (`--profile {pr['faces']}`): the k-NN graph "
                   "from an index built like a gallery's, and from the graph's own sparser, cheaper one:"), "",
                  ("| graph from | build | queries | pass 1 | pass 2 | refine | total s | graph recall | pairwise F | "
                   "BCubed F | load |"), "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in pr["rows"]:
            st, m = r["steps"], r["machine"]
            lines.append(f"| {r['graph']} | {st['build']:.1f} | {st['query']:.1f} | {st['pass1']:.1f} | {st['pass2']:.1f} | "
                         f"{st['refine']:.1f} | **{r['seconds']:.1f}** | {r['graph_recall']:.3f} | "
                         f"{_pct(r['scores']['pairwise_f'])} | {_pct(r['scores']['bcubed_f'])} | "
                         f"{m['load_average_start'][0]:.1f} → {m['load_average_end'][0]:.1f} |")
        lines.append("")
    if runs or profiles:
        lines += ["![time per step](../benchmarks/plots/cluster-synthetic.png)", ""]
    lines += ["## Regenerate", "", "```", "PYTHONPATH=src python benchmarks/cluster.py --calibrate --lfw --incremental",
              "PYTHONPATH=src python benchmarks/cluster.py --profile 100000 --synthetic 1000000",
              "PYTHONPATH=src python benchmarks/cluster.py --report --plot",
              "```", ""]
    text = "\n".join(lines)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibrate", action="store_true")
    ap.add_argument("--lfw", action="store_true")
    ap.add_argument("--incremental", action="store_true")
    ap.add_argument("--synthetic", type=int, default=0)
    ap.add_argument("--profile", type=int, default=0, help="time each step on this many synthetic faces")
    ap.add_argument("--plot", action="store_true", help="benchmarks/plots/cluster-*.png from the JSON")
    ap.add_argument("--report", action="store_true")
    ap.add_argument("--check", action="store_true", help="exit 1 if docs/clustering.md differs from the JSON")
    ap.add_argument("--seeds", type=int, default=3)
    a = ap.parse_args()
    if a.calibrate:
        calibrate()
    if a.lfw:
        lfw(a.seeds)
    if a.incremental:
        incremental(a.seeds)
    if a.profile:
        profile(a.profile)
    if a.synthetic:
        synthetic(a.synthetic)
    if a.plot:
        for path in plot(load()):
            print(f"wrote {path}")
    if a.check:
        if write_report(load(), None) != DOC.read_text():
            print(f"{DOC} differs from {RESULT}: run `python benchmarks/cluster.py --report`")
            sys.exit(1)
    elif a.report:
        write_report(load(), DOC)
        print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
