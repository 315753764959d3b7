"""LFW View 2, 10 folds: accuracy with the threshold chosen on nine folds, AUC, TAR@FAR, ROC plot."""

from __future__ import annotations

from typing import Any

from lookalike.evaluation.plots import plot_roc
from lookalike.evaluation.protocols.base import EvalContext, pct
from lookalike.evaluation.verification import lfw_pairs, roc, verification_report


class LfwVerification:
    name = "lfw-verification"
    summary = "LFW View 2 10-fold accuracy ± std, AUC, TAR@FAR 1e-3/1e-2, ROC plot"
    needs = ("lfw",)

    def run(self, ctx: EvalContext) -> dict[str, Any]:
        pairs = lfw_pairs(ctx.data_root / "lfw")
        vecs = ctx.vectors(pairs.paths)
        v = verification_report(pairs, vecs, fixed_threshold=ctx.pipeline.card.threshold)
        v["accuracy_at_threshold"] = v.pop(f"accuracy_at_{ctx.pipeline.card.threshold:g}")
        v["found_by"] = ctx.found_by(pairs.paths)
        r = roc(pairs.distances(vecs), pairs.same)
        plot_roc({f"{ctx.label} AUC {r.auc:.4f}": (r.far, r.tar)}, ctx.out_dir / "roc_lfw.png")
        return v

    def markdown(self, v: dict[str, Any], ctx: EvalContext) -> list[str]:
        k = v["kfold"]
        found = ", ".join(f"{how} {n}" for how, n in v["found_by"].items())
        thr = ctx.pipeline.card.threshold
        return ["## LFW verification (View 2, 10-fold, threshold chosen on 9 folds)", "",
                f"| accuracy | AUC | TAR@FAR=1e-3 | TAR@FAR=1e-2 | accuracy at {thr:g} | faces found by |",
                "|---|---|---|---|---|---|",
                (f"| {pct(k['mean_accuracy'])} ± {pct(k['std_accuracy'])} | {v['auc']:.4f} | "
                 f"{pct(v['tar_at_far_0.001']['tar'])} | {pct(v['tar_at_far_0.01']['tar'])} | "
                 f"{pct(v['accuracy_at_threshold'])} | {found} |"), "",
                "Per fold: " + ", ".join(f"{100 * a:.2f}" for a in k["fold_accuracies"]), "",
                "![ROC](roc_lfw.png)", ""]
