"""The feature study of source document 002 on real faces: a tighter crop, and PCA to 64 and 32 dimensions
(PCA fitted on the LFW people with a single photo, who are not in the retrieval set)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from lookalike.evaluation.protocols.base import EvalContext, pct
from lookalike.evaluation.retrieval import retrieval
from lookalike.evaluation.verification import kfold, lfw_pairs, roc
from lookalike.faces.pipeline import FacePipeline


def pca_fit(x: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    return mean, vt[:dim].T


class FeatureStudy:
    name = "features"
    summary = "source 002's study: whole chip vs tighter crops, PCA to 64 and 32 dimensions"
    needs = ("lfw",)

    def run(self, ctx: EvalContext) -> dict[str, Any]:
        out: dict[str, Any] = {}
        pairs = lfw_pairs(ctx.data_root / "lfw")
        r_paths, r_labels = ctx.labelled_photos("lfw", 2)
        all_paths, all_labels = ctx.labelled_photos("lfw", 1)
        counts: dict[str, int] = {}
        for lab in all_labels:
            counts[lab] = counts.get(lab, 0) + 1
        fit_paths = [p for p, lab in zip(all_paths, all_labels) if counts[lab] == 1]
        spec = ctx.pipeline.spec
        pad = spec.chip_padding
        variants: list[tuple[str, EvalContext, int | None]] = [(f"whole chip (padding {pad:g}), 128-d", ctx, None)]
        for tight in (0.10, 0.0):
            sub = EvalContext(FacePipeline(replace(spec, padding=tight), ctx.pipeline.embedder), ctx.data_root,
                              ctx.out_dir, [], ctx.workers)
            variants.append((f"tighter crop (padding {tight:g}), {spec.card.dim}-d", sub, None))
        variants += [(f"whole chip (padding {pad:g}), PCA {d}-d", ctx, d) for d in (64, 32)]
        for label, c, dim in variants:
            pv, rv = c.vectors(pairs.paths), c.vectors(r_paths)
            if dim is not None:
                mean, w = pca_fit(c.vectors(fit_paths).astype(np.float64), dim)
                pv = ((pv - mean) @ w).astype(np.float32)
                rv = ((rv - mean) @ w).astype(np.float32)
            d = pairs.distances(pv)
            k = kfold(d, pairs.same, pairs.folds)
            r = retrieval(rv, r_labels).summary()
            out[label] = {"pipeline": c.pipeline.spec.describe(), "dims": dim or int(pv.shape[1]),
                          "lfw_10fold_mean": k.mean, "lfw_10fold_std": k.std, "auc": roc(d, pairs.same).auc,
                          "retrieval_ndcg": r["ndcg"], "retrieval_map": r["map"], "retrieval_rank1": r["rank1"]}
        out["_note"] = f"PCA fitted on the {len(fit_paths):,} LFW people with a single photo (not in the retrieval set)"
        return out

    def markdown(self, fs: dict[str, Any], ctx: EvalContext) -> list[str]:
        lines = ["## Feature study (source 002): crop and dimensionality", "",
                 "| features | dims | LFW 10-fold | AUC | LFW retrieval NDCG | mAP | rank-1 |", "|---|---|---|---|---|---|---|"]
        for name, f in fs.items():
            if not name.startswith("_"):
                lines.append(f"| {name} | {f['dims']} | {pct(f['lfw_10fold_mean'])} ± {pct(f['lfw_10fold_std'])} | "
                             f"{f['auc']:.4f} | {f['retrieval_ndcg']:.4f} | {f['retrieval_map']:.4f} | "
                             f"{pct(f['retrieval_rank1'])} |")
        return lines + ["", fs.get("_note", ""), ""]
