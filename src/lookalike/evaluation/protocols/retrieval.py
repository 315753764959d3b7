"""Identity retrieval, leave-one-out: every photo of a labelled set queries the others (exact full
ranking), and the same queries through each index's top-k search, so the cost of approximation is
counted in identities, not only in recall."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from lookalike.errors import LookalikeError
from lookalike.evaluation.plots import plot_cmc
from lookalike.evaluation.protocols.base import EvalContext, pct
from lookalike.evaluation.retrieval import encode_labels, retrieval, retrieval_from_neighbours

TOP_K = 100


def index_retrieval(vectors: np.ndarray, labels: list[str], index_name: str, k: int = TOP_K) -> dict[str, Any]:
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


class Retrieval:
    """Retrieval over one labelled data set folder."""

    needs: tuple[str, ...]

    def __init__(self, name: str, folder: str, min_images: int, title: str) -> None:
        self.name, self.folder, self.min_images, self.title = name, folder, min_images, title
        self.needs = (folder,)
        self.summary = f"retrieval on {title}: NDCG, mAP, rank-1/5/10, exact and through each index"

    def run(self, ctx: EvalContext) -> dict[str, Any]:
        paths, labels = ctx.labelled_photos(self.folder, self.min_images)
        vecs = ctx.vectors(paths)
        t0 = time.perf_counter()
        summary = retrieval(vecs, labels).summary()
        summary["seconds"] = time.perf_counter() - t0
        summary["photos"], summary["people"] = len(paths), len(set(labels))
        summary["found_by"] = ctx.found_by(paths)
        summary["by_index"] = {}
        for ix in ctx.indexes:
            try:
                summary["by_index"][ix] = index_retrieval(vecs, labels, ix)
            except LookalikeError as exc:
                ctx.notes.append(f"{self.name}: index {ix!r} skipped: {exc}")
        stem = self.name.split("-")[0]
        plot_cmc({ctx.label: summary["cmc"]}, ctx.out_dir / f"cmc_{stem}.png", f"CMC — {self.title}")
        return summary

    def markdown(self, r: dict[str, Any], ctx: EvalContext) -> list[str]:
        lines = [f"## Retrieval: {self.title} ({r['photos']} photos, {r['people']} people, leave-one-out)", "",
                 "| ranking | NDCG | mAP | rank-1 | rank-5 | rank-10 | queries/s |", "|---|---|---|---|---|---|---|",
                 (f"| exact, full ranking | {r['ndcg']:.4f} | {r['map']:.4f} | {pct(r['rank1'])} | "
                  f"{pct(r['rank5'])} | {pct(r['rank10'])} | {r['queries'] / r['seconds']:.0f} |")]
        for name, ix in r["by_index"].items():
            lines.append(f"| index `{name}`, top-{ix['k']} | {ix['ndcg']:.4f}@{ix['k']} | {ix['map']:.4f}@{ix['k']} | "
                         f"{pct(ix['rank1'])} | {pct(ix['rank5'])} | {pct(ix['rank10'])} | {ix['qps']:.0f} |")
        return lines + ["", f"![CMC](cmc_{self.name.split('-')[0]}.png)", ""]
