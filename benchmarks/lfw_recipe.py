"""What it takes to reach dlib's published LFW accuracy: each pipeline-spec step measured on View 1 and View 2.

The study starts from the pipeline ``lookalike search`` ran before specs existed
(``LEGACY_SPEC_TEXT``: HOG upsampled on small photos, the most central face, the photo's central box
where no face is found, 5-point chips with padding 0.25, no augmentation) and adds one change per
step to the spec it builds on (:class:`~lookalike.faces.spec.PipelineSpec`); vectors come from
``FacePipeline(spec).labelled_vectors`` — the one pipeline, so what is measured is what is served.
View 1 (``pairsDevTrain.txt`` → threshold, ``pairsDevTest.txt`` → accuracy) is where a spec is
chosen; View 2 (``pairs.txt``, 10 folds) is scored for every step too, so the effect of each step is
visible, but the spec that becomes ``default_spec()`` is the one View 1 picked (the table marks the
step equal to today's default). Vectors are cached per spec in the embedding cache
(``$LOOKALIKE_CACHE``), so a second run takes seconds.

    PYTHONPATH=src python benchmarks/lfw_recipe.py [--lfw PATH] [--quick] [--limit N] [--steps N]

``--quick`` scores View 1 only (the choice), written to ``results/quick/``; ``--limit N`` keeps N
evenly spaced pairs of each pairs file (a smoke test, not a measurement). Writes
``benchmarks/results/eval/lfw_recipe.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import _checkout  # noqa: F401  (src/ on sys.path when it should be)
import numpy as np
from _machine import cpu_model

from lookalike.evaluation.verification import PairSet, accuracy, best_threshold, kfold, lfw_pairs, roc
from lookalike.faces.batch import labelled
from lookalike.faces.pipeline import FacePipeline
from lookalike.faces.spec import LEGACY_SPEC_TEXT, PipelineSpec, default_spec
from lookalike.io import atomic_write_text
from lookalike.settings import datasets_dir

ROOT = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Step:
    """One row of the study: ``change`` (spec fields, ``PipelineSpec.parse`` syntax) applied to the
    spec of step ``on`` (``None``: the legacy spec)."""

    label: str
    change: str
    on: int | None


#: the steps, in the order they are tried; each adds one change to the spec of the step it builds on
STEPS: list[Step] = [
    Step("plain: HOG up×1, central face, central box fallback, 5-point, padding 0.25", "", None),
    Step("CNN detector when HOG finds no face", "fallback=cnn", 0),
    Step("+ average with the mirrored chip", "mirror=1", 1),
    Step("+ the face must contain the photo centre", "pick=covers", 2),
    # alternatives tried on top of the last line
    Step("  … with 68-point landmarks", "landmarks=68", 3),
    Step("  … with padding 0.20", "padding=0.20", 3),
    Step("  … with padding 0.30", "padding=0.30", 3),
    Step("  … jitter ×10 (dlib.jitter_image) instead of the mirror", "mirror=0,jitter=10", 3),
    Step("  … with HOG not upsampled", "upsample=0", 3),
]


def step_specs(embedder: str | None) -> list[PipelineSpec]:
    """The spec of every step: the legacy spec, then one change at a time."""
    legacy = PipelineSpec.parse(LEGACY_SPEC_TEXT, default_spec(embedder))
    specs: list[PipelineSpec] = []
    for step in STEPS:
        specs.append(PipelineSpec.parse(step.change, legacy if step.on is None else specs[step.on]))
    return specs


class Study:
    """Pairs files (optionally thinned) and one pipeline per spec, embedding on ``workers`` processes."""

    def __init__(self, root: Path, limit: int, workers: int) -> None:
        self.root, self.limit, self.workers = root, limit, workers
        self._pairs: dict[str, PairSet] = {}
        self._pipes: dict[str, FacePipeline] = {}

    def pairs(self, filename: str = "pairs.txt") -> PairSet:
        if filename not in self._pairs:
            self._pairs[filename] = thin(lfw_pairs(self.root, filename), self.limit)
        return self._pairs[filename]

    def pipeline(self, spec: PipelineSpec) -> FacePipeline:
        return self._pipes.setdefault(spec.key, FacePipeline(spec))

    def vectors(self, spec: PipelineSpec, pairs: PairSet) -> np.ndarray:
        return self.pipeline(spec).labelled_vectors(pairs.paths, workers=self.workers)

    def found_by(self, spec: PipelineSpec, pairs: PairSet) -> dict[str, int]:
        """How each photo's face was found (spec's detector, the fallback, or the central box); cached."""
        return labelled(self.pipeline(spec), pairs.paths, self.workers, progress=False).found_by()


def thin(pairs: PairSet, limit: int) -> PairSet:
    """``limit`` evenly spaced pairs (both kinds, every fold), only their photos; 0 keeps all."""
    if not limit or limit >= len(pairs):
        return pairs
    keep = np.unique(np.linspace(0, len(pairs) - 1, limit).round().astype(int))
    used = np.unique(np.concatenate([pairs.left[keep], pairs.right[keep]]))
    new = {int(old): i for i, old in enumerate(used)}
    return PairSet([pairs.paths[i] for i in used], np.array([new[int(i)] for i in pairs.left[keep]]),
                   np.array([new[int(i)] for i in pairs.right[keep]]), pairs.same[keep], pairs.folds[keep])


def view1(spec: PipelineSpec, study: Study) -> dict[str, object]:
    train, test = study.pairs("pairsDevTrain.txt"), study.pairs("pairsDevTest.txt")
    dtr = train.distances(study.vectors(spec, train))
    dte = test.distances(study.vectors(spec, test))
    out: dict[str, object] = {}
    for rule in ("plateau-middle", "first"):
        t = best_threshold(dtr, train.same, rule)
        out[f"acc_{rule}"] = accuracy(dte, test.same, t)
        out[f"threshold_{rule}"] = t
    out["acc_0.6"] = accuracy(dte, test.same, 0.6)
    out["auc_test"] = roc(dte, test.same).auc
    out["found_by_test"] = study.found_by(spec, test)
    return out


def view2(spec: PipelineSpec, study: Study) -> dict[str, object]:
    pairs = study.pairs()
    d = pairs.distances(study.vectors(spec, pairs))
    out: dict[str, object] = {}
    for rule in ("plateau-middle", "first"):
        k = kfold(d, pairs.same, pairs.folds, rule)
        out[rule] = {"mean": k.mean, "std": k.std, "folds": k.accuracies.tolist(), "thresholds": k.thresholds.tolist()}
    out["acc_0.6"] = accuracy(d, pairs.same, 0.6)
    r = roc(d, pairs.same)
    out["auc"] = r.auc
    out["tar_at_far_1e-3"] = r.tar_at(1e-3)[0]
    out["found_by"] = study.found_by(spec, pairs)
    return out


def metric_variants(spec: PipelineSpec, study: Study) -> dict[str, dict[str, float]]:
    """Same descriptors, other distances: L2 (dlib's), cosine, cosine after centring on the training folds.

    The mean is taken over the photos of the 9 training folds only, so the held-out fold stays unseen.
    """
    out: dict[str, dict[str, float]] = {}
    for name, pf in (("view1", ("pairsDevTrain.txt", "pairsDevTest.txt")), ("view2", ("pairs.txt",))):
        if name == "view1":
            tr, te = study.pairs(pf[0]), study.pairs(pf[1])
            vtr, vte = study.vectors(spec, tr).astype(np.float64), study.vectors(spec, te).astype(np.float64)
            for metric in ("l2", "cosine", "centred-cosine"):
                mean = vtr.mean(0) if metric == "centred-cosine" else 0.0
                a, b = _metric(vtr, metric, mean), _metric(vte, metric, mean)
                t = best_threshold(tr.distances(a), tr.same)
                out.setdefault(metric, {})["view1"] = accuracy(te.distances(b), te.same, t)
        else:
            pairs = study.pairs()
            v = study.vectors(spec, pairs).astype(np.float64)
            for metric in ("l2", "cosine", "centred-cosine"):
                accs = []
                for k in range(10):
                    train = pairs.folds != k
                    used = np.unique(np.concatenate([pairs.left[train], pairs.right[train]]))
                    mean = v[used].mean(0) if metric == "centred-cosine" else 0.0
                    d = pairs.distances(_metric(v, metric, mean))
                    t = best_threshold(d[train], pairs.same[train])
                    accs.append(accuracy(d[~train], pairs.same[~train], t))
                out[metric]["view2_mean"] = float(np.mean(accs))
                out[metric]["view2_std"] = float(np.std(accs, ddof=1))
    return out


def _metric(v: np.ndarray, metric: str, mean: np.ndarray | float) -> np.ndarray:
    if metric == "l2":
        return v
    c = v - mean
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lfw", type=Path, default=datasets_dir() / "lfw")
    ap.add_argument("--steps", type=int, default=len(STEPS), help="run only the first N steps")
    ap.add_argument("--quick", action="store_true", help="View 1 only (the choice), written to results/quick/")
    ap.add_argument("--limit", type=int, default=0, help="N evenly spaced pairs per pairs file (smoke test)")
    ap.add_argument("--embedder", default=None, help="embedder runtime key (default: the fastest installed)")
    ap.add_argument("--workers", type=int, default=0, help="worker processes (0 = one per core)")
    ap.add_argument("--metrics-for", default="", help="spec fields on the default (e.g. 'mirror=0'): compare distances")
    args = ap.parse_args()
    study = Study(args.lfw, args.limit, args.workers)
    out_dir = ROOT / "results" / ("quick" if args.quick or args.limit else "eval")
    if args.metrics_for:
        spec = PipelineSpec.parse(args.metrics_for, default_spec(args.embedder))
        res = metric_variants(spec, study)
        for m, r in res.items():
            print(f"{m:<16} View1 {100 * r['view1']:6.2f}%  View2 {100 * r['view2_mean']:6.2f} ± {100 * r['view2_std']:.2f}%")
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out_dir / "lfw_metrics.json", json.dumps(
            {"spec": spec.as_dict(), "pipeline": spec.describe(), "metrics": res}, indent=1))
        return
    default = default_spec(args.embedder)
    rows: list[dict[str, object]] = []
    for step, spec in list(zip(STEPS, step_specs(args.embedder)))[: args.steps]:
        t0 = time.perf_counter()
        v1 = view1(spec, study)
        v2 = None if args.quick else view2(spec, study)
        is_default = spec.key == default.key
        rows.append({"step": step.label, "change": step.change, "builds_on": step.on, "pipeline": spec.describe(),
                     "spec": spec.as_dict(), "is_default_spec": is_default, "view1": v1, "view2": v2,
                     "seconds": time.perf_counter() - t0})
        line = f"{step.label:<62} View1 {100 * v1['acc_plateau-middle']:6.2f}%"  # type: ignore[operator]
        if v2 is not None:
            m = v2["plateau-middle"]  # type: ignore[index]
            line += (f"  View2 {100 * m['mean']:6.2f} ± {100 * m['std']:.2f}%"  # type: ignore[index]
                     f"  (first-best thr {100 * v2['first']['mean']:6.2f}%, @0.6 {100 * v2['acc_0.6']:6.2f}%)")  # type: ignore[index]
        print(line + ("  ← default_spec()" if is_default else ""), flush=True)
        write(out_dir, rows, None, args)
    # the rule, fixed before View 2 is looked at: best View 1 accuracy, ties broken by View 1 AUC
    best = max(rows, key=lambda r: (round(r["view1"]["acc_plateau-middle"], 6), r["view1"]["auc_test"]))  # type: ignore[index]
    tail = ""
    if best["view2"] is not None:
        m = best["view2"]["plateau-middle"]  # type: ignore[index]
        tail = f" → View 2 {100 * m['mean']:.2f} ± {100 * m['std']:.2f}%"
    print(f"\nchosen on View 1: {str(best['step']).strip()} [{best['pipeline']}]{tail}")
    if args.limit:
        print(f"(--limit {args.limit}: a smoke test on a few pairs, not a choice; "
              f"the step equal to default_spec() is marked above)")
    else:
        print("this is today's default_spec()" if best["is_default_spec"] else
              f"NOT today's default_spec() ({default.describe()}, key {default.key}): the default should follow View 1")
    write(out_dir, rows, best, args)


def write(out_dir: Path, rows: list[dict[str, object]], chosen: dict[str, object] | None,
          args: argparse.Namespace) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    default = default_spec(args.embedder)
    atomic_write_text(out_dir / "lfw_recipe.json", json.dumps(
        {"machine": {"python": platform.python_version(), "cpu": cpu_model(), "cores": os.cpu_count(),
                     "load_avg": list(os.getloadavg())},
         "settings": {"quick": args.quick, "limit_pairs_per_file": args.limit, "steps": args.steps},
         "selection_rule": "highest View 1 accuracy (DevTrain threshold, DevTest accuracy); ties: higher View 1 AUC",
         "legacy_spec": LEGACY_SPEC_TEXT, "default_spec": {"pipeline": default.describe(), "key": default.key},
         "chosen": chosen, "chosen_is_default_spec": None if chosen is None else chosen["is_default_spec"],
         "steps": rows}, indent=1))


if __name__ == "__main__":
    main()
