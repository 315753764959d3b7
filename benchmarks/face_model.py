"""Fit the face-like generator to real dlib LFW embeddings and plot real vs synthetic distances.

    python benchmarks/face_model.py     # writes src/lookalike/evaluation/data/face_model.npz,
                                        # benchmarks/results/face-model.json, benchmarks/plots/face-model.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
import _checkout  # noqa: F401  (src/ on sys.path when it should be)

from lookalike.evaluation.lfw_embeddings import lfw_embeddings
from lookalike.evaluation.synthetic import fit_lfw_model, same_and_different


def main() -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model, stats = fit_lfw_model()
    emb, lab = lfw_embeddings()
    syn, slab = model.sample(len(emb), len(np.unique(lab)), seed=1)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, (name, x, y) in zip(axes, [("real dlib LFW", emb, lab), ("face-like synthetic", syn, slab)]):
        same, diff = same_and_different(x, y)
        bins = np.linspace(0, 1.4, 71)
        ax.hist(same, bins, alpha=0.6, density=True, label=f"same person {same.mean():.2f} ± {same.std():.2f}")
        ax.hist(diff, bins, alpha=0.6, density=True, label=f"different {diff.mean():.2f} ± {diff.std():.2f}")
        ax.set_title(f"{name}: norm {np.linalg.norm(x, axis=1).mean():.2f}")
        ax.set_xlabel("Euclidean distance")
        ax.legend(fontsize=8)
    fig.tight_layout()
    (ROOT / "benchmarks" / "plots").mkdir(parents=True, exist_ok=True)
    fig.savefig(ROOT / "benchmarks" / "plots" / "face-model.png", dpi=110)
    stats["scale_sigma"] = model.scale_sigma
    stats["lfw_embeddings"] = len(emb)
    (ROOT / "benchmarks" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "benchmarks" / "results" / "face-model.json").write_text(json.dumps(stats, indent=1))
    print(json.dumps(stats, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
