"""What it takes to reach dlib's published LFW accuracy: each recipe step measured on View 1 and View 2.

View 1 (``pairsDevTrain.txt`` → threshold, ``pairsDevTest.txt`` → accuracy) is where a recipe is
chosen; View 2 (``pairs.txt``, 10 folds) is scored for every step too, so the effect of each step is
visible, but the recipe written in the README is the one View 1 picked. Embeddings are cached per
recipe in ``$LOOKALIKE_CACHE/eval``, so a second run takes seconds.

    PYTHONPATH=src python benchmarks/lfw_recipe.py [--lfw PATH] [--quick]

Writes ``benchmarks/results/eval/lfw_recipe.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import asdict, replace
from pathlib import Path

from lookalike.evaluation.recipe import Recipe, embed_paths, how_found
from lookalike.evaluation.verification import accuracy, best_threshold, kfold, lfw_pairs, roc
from lookalike.settings import datasets_dir

OUT = Path(__file__).resolve().parent / "results" / "eval"

#: the steps, in the order they are tried; each adds one change to the previous accepted recipe
STEPS: list[tuple[str, dict[str, object]]] = [
    ("plain: HOG up×1, central box fallback, 5-point, padding 0.25", {}),
    ("CNN detector when HOG finds no face", {"fallback": "cnn"}),
    ("+ average with the mirrored chip", {"fallback": "cnn", "flip": True}),
    ("+ jitter ×10 (dlib.jitter_image)", {"fallback": "cnn", "jitter": 10}),
    ("+ mirror, 68-point landmarks", {"fallback": "cnn", "flip": True, "landmarks": "68"}),
    ("+ mirror, padding 0.20", {"fallback": "cnn", "flip": True, "padding": 0.20}),
    ("+ mirror, padding 0.30", {"fallback": "cnn", "flip": True, "padding": 0.30}),
    ("+ mirror, HOG without upsampling", {"fallback": "cnn", "flip": True, "upsample": 0}),
    ("+ jitter ×10 and mirror", {"fallback": "cnn", "jitter": 10, "flip": True}),
]


def view1(recipe: Recipe, root: Path) -> dict[str, float]:
    train, test = lfw_pairs(root, "pairsDevTrain.txt"), lfw_pairs(root, "pairsDevTest.txt")
    dtr = train.distances(embed_paths(train.paths, recipe))
    dte = test.distances(embed_paths(test.paths, recipe))
    out = {}
    for rule in ("plateau-middle", "first"):
        t = best_threshold(dtr, train.same, rule)
        out[f"acc_{rule}"] = accuracy(dte, test.same, t)
        out[f"threshold_{rule}"] = t
    out["acc_0.6"] = accuracy(dte, test.same, 0.6)
    out["auc_test"] = roc(dte, test.same).auc
    return out


def view2(recipe: Recipe, root: Path) -> dict[str, object]:
    pairs = lfw_pairs(root)
    d = pairs.distances(embed_paths(pairs.paths, recipe))
    out: dict[str, object] = {}
    for rule in ("plateau-middle", "first"):
        k = kfold(d, pairs.same, pairs.folds, rule)
        out[rule] = {"mean": k.mean, "std": k.std, "folds": k.accuracies.tolist(), "thresholds": k.thresholds.tolist()}
    out["acc_0.6"] = accuracy(d, pairs.same, 0.6)
    r = roc(d, pairs.same)
    out["auc"] = r.auc
    out["tar_at_far_1e-3"] = r.tar_at(1e-3)[0]
    out["found_by"] = how_found(pairs.paths, recipe)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lfw", type=Path, default=datasets_dir() / "lfw")
    ap.add_argument("--steps", type=int, default=len(STEPS), help="run only the first N steps")
    args = ap.parse_args()
    rows = []
    for label, change in STEPS[: args.steps]:
        recipe = replace(Recipe(), **change)  # type: ignore[arg-type]
        t0 = time.perf_counter()
        v1 = view1(recipe, args.lfw)
        v2 = view2(recipe, args.lfw)
        rows.append({"step": label, "recipe": asdict(recipe), "view1": v1, "view2": v2,
                     "seconds": time.perf_counter() - t0})
        m = v2["plateau-middle"]  # type: ignore[index]
        print(f"{label:<62} View1 {100 * v1['acc_plateau-middle']:6.2f}%  "
              f"View2 {100 * m['mean']:6.2f} ± {100 * m['std']:.2f}%  "  # type: ignore[index]
              f"(first-best thr {100 * v2['first']['mean']:6.2f}%, @0.6 {100 * v2['acc_0.6']:6.2f}%)",  # type: ignore[index]
              flush=True)
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "lfw_recipe.json").write_text(json.dumps(
            {"machine": {"python": platform.python_version(), "cpu": platform.processor()},
             "steps": rows}, indent=1))


if __name__ == "__main__":
    main()
