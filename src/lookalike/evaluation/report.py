"""`lookalike eval`: every protocol for one embedder and one or more indexes → one JSON + Markdown report with plots.

Protocols (``datasets`` names):

* ``lfw-verification`` — LFW View 2 10-fold accuracy ± std, AUC, TAR@FAR 1e-3/1e-2, ROC plot;
* ``lfw-retrieval`` — every photo of the 1,680 LFW people with ≥ 2 photos queries the other 9,163;
* ``orl-retrieval`` — the same on AT&T/ORL (40 people × 10 photos);
* ``lfw-openset`` — half of the LFW people with ≥ 2 photos enrolled (one photo each), the rest
  and every single-photo person unknown; detection and identification rate at FAR 1% and 10%;
* ``features`` — the seed study ``002``: whole chip vs a tighter crop, PCA to 64 and 32 dimensions.

Retrieval is exact over the full ranking; for each index named, the same queries go through that
index's top-k search and the truncated metrics (NDCG@k, mAP@k, rank-1, rank-5) sit beside the exact
index's, so the cost of approximation is counted in identities, not only in recall.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.errors import LookalikeError
from lookalike.evaluation.openset import open_set, split_identities
from lookalike.evaluation.plots import plot_cmc, plot_dir, plot_roc
from lookalike.evaluation.recipe import Recipe, embed_paths, how_found
from lookalike.evaluation.retrieval import encode_labels, retrieval, retrieval_from_neighbours
from lookalike.evaluation.verification import kfold, lfw_pairs, roc, verification_report
from lookalike.settings import datasets_dir

DATASETS = ("lfw-verification", "lfw-retrieval", "orl-retrieval", "lfw-openset", "features")
#: the recipe the LFW study chose on View 1 (see benchmarks/lfw_recipe.py and the README)
DEFAULT_RECIPE = Recipe(fallback="cnn", pick="covers", flip=True)
TOP_K = 100


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _labelled(root: Path, min_images: int = 1) -> tuple[list[str], list[str]]:
    from lookalike.gallery.sources import folder_per_person, lfw

    items = lfw(root, min_images=min_images) if (root / "pairs.txt").exists() else folder_per_person(root)
    return [str(i.path) for i in items], [str(i.person) for i in items]


def _index_retrieval(vectors: np.ndarray, labels: list[str], index_name: str, k: int = TOP_K) -> dict[str, Any]:
    """Truncated retrieval metrics through a registered index, with build time and queries per second."""
    from lookalike.index.base import create_index

    x = np.ascontiguousarray(vectors, dtype=np.float32)
    codes = encode_labels(labels)
    t0 = time.perf_counter()
    idx = create_index(index_name, x.shape[1])
    idx.add(x, np.arange(len(x)))
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, ids = idx.search(x, k + 1)
    secs = time.perf_counter() - t0
    counts = np.bincount(codes)
    res = retrieval_from_neighbours(ids, np.arange(len(x)), dict(enumerate(codes.tolist())), counts[codes] - 1)
    s = res.summary()
    s.pop("cmc")
    return {**s, "index": index_name, "params": idx.params, "build_s": build, "qps": len(x) / secs}


def _retrieval_block(name: str, paths: list[str], labels: list[str], recipe: Recipe, indexes: list[str],
                     out_dir: Path, notes: list[str]) -> dict[str, Any]:
    vecs = embed_paths(paths, recipe)
    t0 = time.perf_counter()
    full = retrieval(vecs, labels)
    summary = full.summary()
    summary["seconds"] = time.perf_counter() - t0
    summary["photos"], summary["people"] = len(paths), len(set(labels))
    summary["found_by"] = how_found(paths, recipe)
    summary["by_index"] = {}
    for ix in indexes:
        try:
            summary["by_index"][ix] = _index_retrieval(vecs, labels, ix)
        except LookalikeError as exc:
            notes.append(f"{name}: index {ix!r} skipped: {exc}")
    plot_cmc({f"{name} ({recipe.embedder})": summary["cmc"]}, out_dir / f"cmc_{name}.png", f"CMC — {name}")
    return summary


def _pca_fit(x: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    return mean, vt[:dim].T


def _features(root: Path, recipe: Recipe) -> dict[str, Any]:
    """Seed 002's study on real faces: tighter crop, PCA 64/32 (PCA fitted on people outside the test)."""
    out: dict[str, Any] = {}
    pairs = lfw_pairs(root)
    r_paths, r_labels = _labelled(root, 2)
    all_paths, all_labels = _labelled(root, 1)
    counts: dict[str, int] = {}
    for lab in all_labels:
        counts[lab] = counts.get(lab, 0) + 1
    fit_paths = [p for p, lab in zip(all_paths, all_labels) if counts[lab] == 1]  # 4,069 single-photo people
    variants: list[tuple[str, Recipe, int | None]] = [
        ("whole chip (padding 0.25), 128-d", recipe, None),
        ("tighter crop (padding 0.10), 128-d", replace(recipe, padding=0.10), None),
        ("tighter crop (padding 0.0), 128-d", replace(recipe, padding=0.0), None),
        ("whole chip, PCA 64-d", recipe, 64),
        ("whole chip, PCA 32-d", recipe, 32),
    ]
    for label, rec, dim in variants:
        pv = embed_paths(pairs.paths, rec)
        rv = embed_paths(r_paths, rec)
        if dim is not None:
            mean, w = _pca_fit(embed_paths(fit_paths, rec).astype(np.float64), dim)
            pv = ((pv - mean) @ w).astype(np.float32)
            rv = ((rv - mean) @ w).astype(np.float32)
        d = pairs.distances(pv)
        k = kfold(d, pairs.same, pairs.folds)
        r = retrieval(rv, r_labels).summary()
        out[label] = {"recipe": rec.describe(), "dims": dim or int(pv.shape[1]), "lfw_10fold_mean": k.mean,
                      "lfw_10fold_std": k.std, "auc": roc(d, pairs.same).auc, "retrieval_ndcg": r["ndcg"],
                      "retrieval_map": r["map"], "retrieval_rank1": r["rank1"]}
    out["_note"] = "PCA fitted on the 4,069 LFW people with a single photo (not in the retrieval set)"
    return out


def run_eval(
    embedder_key: str = "onnx",
    index_name: str | list[str] = "exact",
    datasets: list[str] | tuple[str, ...] = DATASETS,
    out_dir: str | Path = "eval-report",
    recipe: Recipe | str | None = None,
    data_root: str | Path | None = None,
) -> dict[str, Any]:
    """Run the protocols and write ``report.json``, ``report.md`` and PNG plots into ``out_dir``."""
    unknown = sorted(set(datasets) - set(DATASETS))
    if unknown:
        raise LookalikeError(f"unknown datasets {unknown}; choose from {list(DATASETS)}")
    rec = Recipe.parse(recipe) if isinstance(recipe, str) else (recipe or DEFAULT_RECIPE)
    rec = replace(rec, embedder=embedder_key)
    indexes = [index_name] if isinstance(index_name, str) else list(index_name)
    root = Path(data_root) if data_root else datasets_dir()
    lfw_root, orl_root = root / "lfw", root / "orl_att_faces"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    from lookalike.faces.embed import load_embedder

    report: dict[str, Any] = {
        "embedder_key": embedder_key,
        "embedder": load_embedder(embedder_key).name,
        "recipe": asdict(rec),
        "recipe_text": rec.describe(),
        "indexes": indexes,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    notes: list[str] = []
    t_all = time.perf_counter()
    if "lfw-verification" in datasets:
        pairs = lfw_pairs(lfw_root)
        vecs = embed_paths(pairs.paths, rec)
        v = verification_report(pairs, vecs)
        v["found_by"] = how_found(pairs.paths, rec)
        r = roc(pairs.distances(vecs), pairs.same)
        curves = {f"{report['embedder']} [{rec.describe()}] AUC {r.auc:.4f}": (r.far, r.tar)}
        plain = replace(Recipe(), embedder=embedder_key)
        if plain != rec:  # the plain pipeline beside it, so the recipe's gain is visible
            rp = roc(pairs.distances(embed_paths(pairs.paths, plain)), pairs.same)
            curves[f"{report['embedder']} [plain] AUC {rp.auc:.4f}"] = (rp.far, rp.tar)
            v["plain_recipe"] = {"kfold": kfold(pairs.distances(embed_paths(pairs.paths, plain)), pairs.same,
                                                pairs.folds).as_dict(), "auc": rp.auc}
        plot_roc(curves, out / "roc_lfw.png")
        report["lfw_verification"] = v
    if "lfw-retrieval" in datasets:
        paths, labels = _labelled(lfw_root, 2)
        report["lfw_retrieval"] = _retrieval_block("lfw", paths, labels, rec, indexes, out, notes)
    if "orl-retrieval" in datasets:
        paths, labels = _labelled(orl_root)
        report["orl_retrieval"] = _retrieval_block("orl", paths, labels, rec, indexes, out, notes)
    if "lfw-openset" in datasets:
        paths, labels = _labelled(lfw_root, 1)
        vecs = embed_paths(paths, rec)
        split = split_identities(labels, unknown_fraction=0.5, enroll_per_person=1, seed=0)
        o = open_set(vecs, labels, split)
        plot_dir({report["embedder"]: (o["curve"]["far"], o["curve"]["dir"])}, out / "openset_lfw.png")
        report["lfw_openset"] = o
    if "features" in datasets:
        report["feature_study"] = _features(lfw_root, rec)
    report["notes"] = notes
    report["seconds"] = time.perf_counter() - t_all
    _write_atomic(out / "report.json", json.dumps(report, indent=1))
    _write_atomic(out / "report.md", markdown(report))
    return report


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def markdown(rep: dict[str, Any]) -> str:
    """The report as Markdown tables (what the README quotes)."""
    lines = [f"# Evaluation: {rep['embedder']} ({rep['embedder_key']}), recipe `{rep['recipe_text']}`", ""]
    v = rep.get("lfw_verification")
    if v:
        k = v["kfold"]
        lines += ["## LFW verification (View 2, 10-fold, threshold chosen on 9 folds)", "",
                  "| accuracy | AUC | TAR@FAR=1e-3 | TAR@FAR=1e-2 | accuracy at 0.6 | faces found (HOG / CNN / centre box) |",
                  "|---|---|---|---|---|---|",
                  (f"| {_pct(k['mean_accuracy'])} ± {_pct(k['std_accuracy'])} | {v['auc']:.4f} | "
                   f"{_pct(v['tar_at_far_0.001']['tar'])} | {_pct(v['tar_at_far_0.01']['tar'])} | "
                   f"{_pct(v['accuracy_at_0.6'])} | {v['found_by']['hog']} / {v['found_by']['cnn']} / "
                   f"{v['found_by']['centre']} |"), "",
                  "Per fold: " + ", ".join(f"{100 * a:.2f}" for a in k["fold_accuracies"]), ""]
        if "plain_recipe" in v:
            pk = v["plain_recipe"]["kfold"]
            lines += [(f"The plain pipeline (HOG, central face, no test-time augmentation) on the same protocol: "
                       f"{_pct(pk['mean_accuracy'])} ± {_pct(pk['std_accuracy'])}, "
                       f"AUC {v['plain_recipe']['auc']:.4f}."), ""]
        lines += ["![ROC](roc_lfw.png)", ""]
    for key, title in (("lfw_retrieval", "LFW, people with ≥ 2 photos"), ("orl_retrieval", "AT&T/ORL")):
        r = rep.get(key)
        if not r:
            continue
        lines += [f"## Retrieval: {title} ({r['photos']} photos, {r['people']} people, leave-one-out)", "",
                  "| ranking | NDCG | mAP | rank-1 | rank-5 | rank-10 | queries/s |", "|---|---|---|---|---|---|---|",
                  (f"| exact, full ranking | {r['ndcg']:.4f} | {r['map']:.4f} | {_pct(r['rank1'])} | "
                   f"{_pct(r['rank5'])} | {_pct(r['rank10'])} | {r['queries'] / r['seconds']:.0f} |")]
        for name, ix in r["by_index"].items():
            lines.append(f"| index `{name}`, top-{ix['k']} | {ix['ndcg']:.4f}@{ix['k']} | {ix['map']:.4f}@{ix['k']} | "
                         f"{_pct(ix['rank1'])} | {_pct(ix['rank5'])} | {_pct(ix['rank10'])} | {ix['qps']:.0f} |")
        stem = "lfw" if key.startswith("lfw") else "orl"
        lines += ["", f"![CMC](cmc_{stem}.png)", ""]
    o = rep.get("lfw_openset")
    if o:
        lines += [(f"## Open-set identification on LFW ({o['enrolled_people']} people enrolled with one photo, "
                   f"{o['mated_probes']} probes of them; {o['unknown_people']} unknown people, "
                   f"{o['nonmated_probes']} probes)"),
                  "", "| FAR | threshold | detection rate | detection and identification rate |", "|---|---|---|---|"]
        for far in ("0.01", "0.1"):
            f = o[f"far_{far}"]
            lines.append(f"| {float(far):.0%} (measured {_pct(f['far_measured'])}) | {f['threshold']:.4f} | "
                         f"{_pct(f['detection_rate'])} | {_pct(f['identification_rate'])} |")
        lines += ["", f"Closed-set rank-1 of the same probes: {_pct(o['closed_set_rank1'])}.", "",
                  "![open set](openset_lfw.png)", ""]
    fs = rep.get("feature_study")
    if fs:
        lines += ["## Feature study (seed 002): crop and dimensionality", "",
                  "| features | dims | LFW 10-fold | AUC | LFW retrieval NDCG | mAP | rank-1 |", "|---|---|---|---|---|---|---|"]
        for name, f in fs.items():
            if name.startswith("_"):
                continue
            lines.append(f"| {name} | {f['dims']} | {_pct(f['lfw_10fold_mean'])} ± {_pct(f['lfw_10fold_std'])} | "
                         f"{f['auc']:.4f} | {f['retrieval_ndcg']:.4f} | {f['retrieval_map']:.4f} | {_pct(f['retrieval_rank1'])} |")
        lines += ["", fs.get("_note", ""), ""]
    if rep.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in rep["notes"]] + [""]
    lines.append(f"Total time {rep['seconds']:.0f} s (embeddings cached per recipe in $LOOKALIKE_CACHE/eval).")
    return "\n".join(lines) + "\n"
