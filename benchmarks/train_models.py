"""Train our own face-embedding models and score every one on LFW View 2's identity-disjoint folds.

    python benchmarks/train_models.py                 # heads (10 folds) + scratch CNN + fine-tuned ResNet
    python benchmarks/train_models.py --only heads    # just the heads and baselines
    python benchmarks/training_report.py --write      # docs/training.md from the committed results

For each fold *i* every model is trained on the people of the other nine folds and scored on fold
*i* (:mod:`lookalike.evaluation.protocols.lfw_folds`): verification accuracy with the threshold
from the nine training folds, the largest-cloud-diameter rule beside it, TAR@FAR 1e-3 over all
pairs of the fold's photos, identity retrieval (NDCG, mAP, rank-1) among the fold's people; ORL and
Yale retrieval as cross-data-set rows (never trained on). Baselines: dlib's 128-d descriptor as is,
and PCA to 64 / 32 dimensions fitted on the training folds. The scratch CNN and the fine-tuned
ResNet run fold 0 only on a CPU-only machine (stated in the table). HNSW queries per second at
recall 0.99 on 32-d vs 128-d vectors are measured on one gallery in one run.

Writes ``benchmarks/results/training.json`` (heads and baselines), ``training_cnn.json`` and
``training_resnet-ft.json`` (the chip models, run as separate processes), and
``benchmarks/plots/training_*.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
import _checkout  # noqa: F401  (src/ on sys.path when it should be)
from _machine import cpu_model

from lookalike.evaluation.protocols.lfw_folds import FoldData, run_protocol
from lookalike.evaluation.verification import lfw_pairs
from lookalike.settings import datasets_dir
from lookalike.training.data import default_spec, labelled_set, labelled_vectors, lfw_folds, spec_dict
from lookalike.training.loop import TrainConfig, plot_curves

RESULTS = ROOT / "benchmarks" / "results" / "training.json"
PLOTS = ROOT / "benchmarks" / "plots"
EF = [10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256, 384, 512]

#: epochs per head (fixed in advance; the curves are drawn, never used to pick a model)
HEAD_EPOCHS = 6
#: the dimension study's loss: plain Euclidean triplets, batch-hard mined (dlib's scale kept)
MAIN_LOSS = "triplet-batch-hard"


def head_configs(quick: bool) -> list[tuple[str, TrainConfig]]:
    """The dimension study: every fold."""
    base = {"epochs": 2 if quick else HEAD_EPOCHS, "p": 32, "k": 4, "lr": 1e-3, "seed": 0, "device": "cpu",
            "init": "pca"}
    rows = [(f"linear {d}-d, {MAIN_LOSS}", TrainConfig(arch="linear", dim=d, loss=MAIN_LOSS, **base))
            for d in (128, 64, 32)]
    rows += [(f"MLP {d}-d, {MAIN_LOSS}", TrainConfig(arch="mlp", dim=d, loss=MAIN_LOSS, **base)) for d in (64, 32)]
    rows += [(f"linear 32-d, {loss}", TrainConfig(arch="linear", dim=32, loss=loss, **base))
             for loss in ("quadruplet", "triplet+distill")]
    return rows


def loss_configs(quick: bool) -> list[tuple[str, TrainConfig]]:
    """The loss study at 128-d (every registered loss but the dimension study's and the test-sized one)."""
    from lookalike.training.losses import LOSSES

    out = []
    for loss in LOSSES:
        if loss in (MAIN_LOSS, "quadruplet-all", "triplet+distill", "quadruplet+distill"):
            continue
        lr = 1e-2 if loss in ("arcface", "cosface", "subcenter-arcface") else 1e-3
        out.append((f"linear 128-d, {loss}", TrainConfig(arch="linear", dim=128, loss=loss,
                                                           epochs=2 if quick else HEAD_EPOCHS, p=32, k=4, lr=lr,
                                                           seed=0, device="cpu", init="pca")))
    return out


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "cpu": cpu_model(),
            "platform": platform.platform(), "load_avg_start": os.getloadavg()}


def pca(train: np.ndarray, dim: int) -> Callable[[np.ndarray], np.ndarray]:
    mean = train.mean(0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    w = vt[:dim].T
    return lambda x: ((x - mean) @ w).astype(np.float32)


def head_runner(cfg: TrainConfig, x: np.ndarray, people: np.ndarray, folds: Any, cross: dict[str, np.ndarray],
                histories: dict[int, Any]) -> Callable[[int], tuple[np.ndarray, dict[str, np.ndarray]]]:
    from lookalike.evaluation.protocols.lfw_folds import retrieval_validator
    from lookalike.usecases.train import Inputs, embed_inputs, fit

    def embed_fold(i: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        tr, te = folds.split(i)
        val = retrieval_validator(Inputs("descriptor", x[te]), people[te], "descriptor", "cpu")
        res = fit(cfg, Inputs("descriptor", x[tr]), people[tr], default_spec(), validate=val,
                  progress=sys.stderr.isatty(), label=f"fold {i}")
        histories[i] = res.history
        return (embed_inputs(res.model, Inputs("descriptor", x), "cpu"),
                {k: embed_inputs(res.model, Inputs("descriptor", v), "cpu") for k, v in cross.items()})

    return embed_fold


def hnsw_qps(vectors: dict[str, np.ndarray], gallery: np.ndarray, queries: np.ndarray, reps: int = 15,
             k: int = 10, target: float = 0.99) -> dict[str, Any]:
    """Single-thread QPS of our HNSW index at the smallest ef whose recall@10 ≥ target, per vector set."""
    from lookalike.evaluation.ann import ground_truth, recall_at, true_distances
    from lookalike.index import create_index

    out: dict[str, Any] = {}
    built = {}
    for name, v in vectors.items():
        x, q = np.ascontiguousarray(v[gallery]), np.ascontiguousarray(v[queries])
        ix = create_index("hnsw", x.shape[1], M=16, ef_construction=200)
        t = time.perf_counter()
        ix.add(x, np.arange(len(x)))
        built[name] = (ix, x, q, ground_truth(x, q, depth=k), time.perf_counter() - t)
        out[name] = {"dim": int(x.shape[1]), "gallery": len(x), "queries": len(q),
                     "build_s": built[name][4], "points": []}
    for ef in EF:
        for name, (ix, x, q, gt, _) in built.items():
            ix.set_search_params(ef=ef)
            best, ids = 0.0, None
            for _ in range(reps):  # interleaved with the other sets, best of reps
                t = time.perf_counter()
                ids = np.stack([ix.search(q[i : i + 1], k)[1][0] for i in range(len(q))])
                best = max(best, len(q) / (time.perf_counter() - t))
            rec = recall_at(true_distances(x, q, ids), gt, k)
            out[name]["points"].append({"ef": ef, "recall@10": rec, "qps": best})
    for name, res in out.items():
        ok = [p for p in res["points"] if p["recall@10"] >= target]
        res[f"at_recall_{target}"] = ok[0] if ok else None
    return out


def run_heads(args: argparse.Namespace, report: dict[str, Any]) -> None:
    root = datasets_dir()
    folds = lfw_folds(root / "lfw")
    data = FoldData.build(folds.paths, folds.people, folds.fold, lfw_pairs(root / "lfw"))
    spec = default_spec()
    t = time.perf_counter()
    x = labelled_vectors(folds.paths, spec)
    cross_sets = {n: labelled_set(root / d, n) for n, d in (("orl", "orl_att_faces"), ("yale", "yale_faces"))}
    cross = {n: labelled_vectors(s.paths, spec) for n, s in cross_sets.items()}
    cross_people = {n: s.people for n, s in cross_sets.items()}
    report["descriptor_seconds"] = time.perf_counter() - t
    report["spec"] = spec_dict(spec)
    report["data"] = {"lfw_photos": len(folds), "lfw_people": len(np.unique(folds.people)),
                      "orl_photos": len(cross_sets["orl"]), "yale_photos": len(cross_sets["yale"])}
    fold_ids = list(range(args.folds))
    rows = report.setdefault("models", {})

    def record(name: str, kind: str, dim: int, fn: Callable[[int], Any], seconds_from: float,
               extra: dict[str, Any] | None = None, folds_used: list[int] | None = None) -> None:
        res = run_protocol(fn, data, folds_used or fold_ids, cross_people)
        res.update({"kind": kind, "dim": dim, "index_bytes_per_face": 4 * dim,
                    "protocol_seconds": time.perf_counter() - seconds_from, **(extra or {})})
        rows[name] = res
        s = res["summary"]
        print(f"{name:45s} acc {100 * s['accuracy']['mean']:.2f}±{100 * s['accuracy']['std']:.2f}  "
              f"rank1 {100 * s['rank1']['mean']:.2f}  mAP {s['map']['mean']:.4f}  "
              f"TAR {100 * s['tar_at_far_1e-3']['mean']:.2f}  {res['protocol_seconds']:.0f} s", flush=True)
        save(report)

    t0 = time.perf_counter()
    record("dlib ResNet 128-d (as is)", "baseline", 128, lambda i: (x, cross), t0)
    for d in (64, 32):
        def fit_pca(i: int, d: int = d) -> tuple[np.ndarray, dict[str, np.ndarray]]:
            f = pca(x[folds.fold != i].astype(np.float64), d)
            return f(x), {k: f(v) for k, v in cross.items()}

        t0 = time.perf_counter()
        record(f"PCA {d}-d (fitted on the training folds)", "baseline", d, fit_pca, t0)
    configs = [(n, c, fold_ids) for n, c in head_configs(args.quick)]
    if not args.skip_losses:
        configs += [(n, c, list(range(min(args.loss_folds, args.folds)))) for n, c in loss_configs(args.quick)]
    for name, cfg, used in configs:
        hist: dict[int, Any] = {}
        t0 = time.perf_counter()
        record(name, "head", cfg.dim, head_runner(cfg, x, folds.people, folds, cross, hist), t0,
               {"config": cfg.__dict__}, used)
        rows[name]["histories"] = {str(k): v for k, v in hist.items()}
        slug = name.replace(" ", "_").replace(",", "").replace("-d", "d")
        plot_curves(hist[0], PLOTS / f"training_{slug}.png", f"{name} — fold 0 (validation: held-out fold)")
        save(report)
    # HNSW QPS on one gallery: fold 0's model, folds 1–9 photos as the gallery, fold 0 as queries
    best32 = max((n for n in rows if rows[n].get("kind") == "head" and rows[n]["dim"] == 32
                  and len(rows[n]["folds"]) == len(fold_ids)),
                 key=lambda n: rows[n]["summary"]["rank1"]["mean"], default=None)
    if best32 and not args.skip_qps:
        cfg = TrainConfig(**rows[best32]["config"])
        v32, _ = head_runner(cfg, x, folds.people, folds, {}, {})(0)
        tr, te = folds.split(0)
        report["hnsw_qps"] = {"model_32d": best32, "note": "gallery: folds 1-9 (all photos); queries: fold 0; "
                              "M 16, ef_construction 200; single-thread, one query per call, best of 3",
                              **hnsw_qps({"dlib 128-d": x, f"{best32}": v32}, tr, te)}
        save(report)


def run_qps(out: Path) -> None:
    """HNSW QPS at recall 0.99: the best 10-fold 32-d head of training.json (retrained on fold 0's
    training people) vs dlib's 128-d descriptors, one gallery, one run."""
    heads = json.loads(RESULTS.read_text())["models"]
    best32 = max((n for n, r in heads.items() if r.get("kind") == "head" and r["dim"] == 32 and len(r["folds"]) == 10),
                 key=lambda n: heads[n]["summary"]["rank1"]["mean"])
    folds = lfw_folds(datasets_dir() / "lfw")
    x = labelled_vectors(folds.paths, default_spec())
    v32, _ = head_runner(TrainConfig(**heads[best32]["config"]), x, folds.people, folds, {}, {})(0)
    tr, te = folds.split(0)
    rep = {"machine": machine(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "hnsw_qps": {"model_32d": best32, "note": "gallery: folds 1-9 (all photos); queries: fold 0; M 16, "
                        "ef_construction 200; single-thread, one query per call, best of 15 interleaved runs",
                        **hnsw_qps({"dlib 128-d": x, best32: v32}, tr, te)}}
    rep["machine"]["load_avg_end"] = os.getloadavg()
    save(rep, out)
    for name, r in rep["hnsw_qps"].items():
        if isinstance(r, dict) and "points" in r:
            print(name, r["at_recall_0.99"], flush=True)


def _resnet_rows(folds: Any, per_person: int, people: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fold 0's photos, and a seeded sample of at most ``per_person`` photos of ``people`` training
    people with two or more photos (the bounded CPU run's training and threshold set)."""
    rng = np.random.default_rng(seed)
    tr, te = folds.split(0)
    _, inv, counts = np.unique(folds.people[tr], return_inverse=True, return_counts=True)
    keep = []
    eligible = np.flatnonzero(counts >= 2)
    for c in np.sort(rng.choice(eligible, min(people, len(eligible)), replace=False)):
        rows = tr[inv == c]
        keep.extend(rng.choice(rows, min(per_person, len(rows)), replace=False))
    return np.sort(np.array(keep)), te


def run_chip_model(args: argparse.Namespace, report: dict[str, Any], arch: str) -> None:
    """Scratch CNN or fine-tuned ResNet, fold 0 only on CPU (bounded), scored like the heads."""
    import torch

    from lookalike.evaluation.protocols.lfw_folds import (
        retrieval_validator,
        score_cross,
        score_fold,
        summarize,
        threshold_on,
    )
    from lookalike.usecases.train import (
        Inputs,
        embed_inputs,
        fit,
        model_inputs,
        new_model,
    )

    root = datasets_dir()
    folds = lfw_folds(root / "lfw")
    data = FoldData.build(folds.paths, folds.people, folds.fold, lfw_pairs(root / "lfw"))
    spec = default_spec()
    cross_sets = {n: labelled_set(root / d, n) for n, d in (("orl", "orl_att_faces"), ("yale", "yale_faces"))}
    if arch == "cnn":
        cfg = TrainConfig(arch="cnn", dim=128, loss="multi-similarity", epochs=args.cnn_epochs, p=32, k=4,
                          batches=args.batches, lr=2e-3, seed=0, device="auto", flip=True, threads=args.threads)
        probe = None
        name = f"scratch CNN 128-d ({cfg.loss}), fold 0 only"
        tr, te = folds.split(0)
        rows = np.arange(len(folds))
    else:
        cfg = TrainConfig(arch="resnet-ft", dim=128, loss=MAIN_LOSS, epochs=args.ft_epochs, p=32, k=4,
                          batches=args.batches, lr=1e-4, seed=0, device="auto", threads=args.threads)
        probe = new_model(cfg, Inputs("chip", np.zeros((0,), np.uint8)))
        name = f"dlib ResNet, last stage fine-tuned ({cfg.loss}), fold 0 only"
        tr, te = _resnet_rows(folds, args.ft_per_person, args.ft_people)
        cross_sets = {}  # bounded run: no cross-data-set rows
        rows = np.r_[tr, te]
    t = time.perf_counter()
    sub = folds.subset(rows)
    inputs = model_inputs(arch, sub, spec, probe)
    cross_inputs = {n: model_inputs(arch, s, spec, probe) for n, s in cross_sets.items()}
    prep = time.perf_counter() - t
    at = {int(r): i for i, r in enumerate(rows)}
    tr_i, te_i = np.array([at[int(r)] for r in tr]), np.array([at[int(r)] for r in te])
    val = retrieval_validator(Inputs(inputs.kind, inputs.array[te_i]), sub.people[te_i], inputs.kind, cfg.device)
    t = time.perf_counter()
    res = fit(cfg, Inputs(inputs.kind, inputs.array[tr_i]), sub.people[tr_i], spec, validate=val,
              progress=sys.stderr.isatty(), label=arch, model=probe)
    train_s = time.perf_counter() - t
    vecs = embed_inputs(res.model, inputs, cfg.device)
    if arch == "cnn":
        row = {"fold": 0, **score_fold(vecs, data, 0)}
    else:  # scored on the photos it has: threshold from pairs of its training sample, not pairs.txt
        thr = threshold_on(vecs[tr_i], sub.people[tr_i])
        row = {"fold": 0, **score_fold(vecs, data.restrict(rows), 0, threshold=thr)}
    cross = {n: summarize([score_cross(embed_inputs(res.model, ci, cfg.device), cross_sets[n].people)])
             for n, ci in cross_inputs.items()}
    samples = sum(1 for _ in res.history) * max(1, len(tr_i) // (cfg.p * cfg.k)) * cfg.p * cfg.k
    note = (f"CPU only (no GPU on this machine): fold 0 only, {cfg.epochs} epochs on 32-px chips with random "
            f"flips, {len(tr_i)} training photos" if arch == "cnn" else
            f"CPU only (no GPU on this machine): fold 0 only, {cfg.epochs} epochs on cached frozen-trunk "
            f"activations (no augmentation) of at most {args.ft_per_person} photos of each of "
            f"{len(np.unique(sub.people[tr_i]))} sampled training people ({len(tr_i)} photos); threshold chosen on "
            "pairs of that sample, not on pairs.txt; no ORL/Yale rows")
    report.setdefault("models", {})[name] = {
        "kind": arch, "dim": 128, "index_bytes_per_face": 512, "folds": [0], "per_fold": [row],
        "summary": summarize([{k: v for k, v in row.items() if k != "fold"}]), "cross": cross,
        "config": cfg.__dict__, "histories": {"0": res.history}, "prepare_seconds": prep, "train_seconds": train_s,
        "samples_per_second": samples / train_s, "train_photos": len(tr_i),
        "device": "cuda" if torch.cuda.is_available() else "cpu", "note": note,
    }
    plot_curves(res.history, PLOTS / f"training_{arch}_fold0.png", f"{name} (validation: held-out fold 0)")
    print(f"{name}: acc {100 * row['accuracy']:.2f}, rank1 {100 * row['rank1']:.2f}, {train_s:.0f} s", flush=True)
    save(report, RESULTS.with_name(f"training_{arch}.json"))


def save(report: dict[str, Any], path: Path = RESULTS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=1))
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["heads", "qps", "cnn", "resnet"], action="append")
    ap.add_argument("--folds", type=int, default=10, help="score folds 0..N-1 (10 = the protocol)")
    ap.add_argument("--loss-folds", type=int, default=10, help="folds of the 128-d loss study")
    ap.add_argument("--quick", action="store_true", help="2 epochs per head (a smoke run)")
    ap.add_argument("--skip-losses", action="store_true", help="only the dimension study's heads")
    ap.add_argument("--skip-qps", action="store_true")
    ap.add_argument("--cnn-epochs", type=int, default=4)
    ap.add_argument("--ft-epochs", type=int, default=3)
    ap.add_argument("--ft-per-person", type=int, default=3)
    ap.add_argument("--ft-people", type=int, default=100_000, help="training people sampled for the fine-tune")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads for the chip models")
    ap.add_argument("--batches", type=int, default=0, help="batches per epoch of the chip models (0: all photos)")
    args = ap.parse_args()
    os.environ.setdefault("MPLCONFIGDIR", "/tmp/mpl")
    only = args.only or ["heads", "cnn", "resnet"]
    if "heads" in only:
        report: dict[str, Any] = {"machine": machine(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        t = time.perf_counter()
        run_heads(args, report)
        report["heads_seconds"] = time.perf_counter() - t
        report["machine"]["load_avg_end"] = os.getloadavg()
        save(report)
    if "qps" in only and "heads" not in only:  # on the committed heads' results, into training_qps.json
        run_qps(RESULTS.with_name("training_qps.json"))
    for part, arch in (("cnn", "cnn"), ("resnet", "resnet-ft")):
        if part in only:
            rep: dict[str, Any] = {"machine": machine(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            run_chip_model(args, rep, arch)
            rep["machine"]["load_avg_end"] = os.getloadavg()
            save(rep, RESULTS.with_name(f"training_{arch}.json"))


if __name__ == "__main__":
    main()
