"""Composed queries ("this person, with that expression") over every (person, attribute value) target.

For a labelled set (a label pattern over a folder) and one attribute kind, every photo with a value
of that kind is in the gallery and every (person, value) pair is a target; a query hits at rank k
when one of the target's photos is among its k nearest. Top-1 and top-5 with bootstrap 95 %
intervals (targets resampled), for:

* **(a) source's protocol, in-sample** — attribute model fitted on every photo, prototypes from
  every photo (the target's included), the weight picked on the whole set;
* **(b) held out** — for each target person the attribute model is fitted, the attribute prototype
  computed and the weight chosen (leave-people-out inside them) on the *other* people's photos only,
  and the target photos are left out of the person prototype;
* **(c) raw dlib descriptors** under the source's rule ``unit(median(person) + median(value))``
  searched among the descriptors, in-sample (c-a) and held out (c-b) as above.

The held-out ranks of (b) are also computed through each index asked for (HNSW, NGT, …).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.errors import LookalikeError
from lookalike.evaluation.protocols.base import EvalContext
from lookalike.gallery.labels import LabelledSet, labels_from_names
from lookalike.training.attributes import attribute_features, fit_attribute_model, unit
from lookalike.usecases.compose import (
    WEIGHT_GRID,
    Fit,
    TargetRanks,
    choose_weight,
    compose_rows,
    prototype,
    search_rows,
    target_ranks,
)

BOOTSTRAP = 2000
#: Yale faces' file names ``subjectNN/subjectNN.<condition>.gif``: three attribute kinds
YALE_PATTERN = (r"(?P<person>subject\d+)\.(?:(?P<expression>happy|normal|sad|sleepy|surprised|wink)"
                r"|(?P<glasses>glasses|noglasses)|(?P<lighting>centerlight|leftlight|rightlight))\.gif$")


def bootstrap_ci(hits: np.ndarray, n: int = BOOTSTRAP, seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of the mean of 0/1 hits, targets resampled with replacement."""
    h = np.asarray(hits, np.float64)
    if len(h) == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = h[rng.integers(0, len(h), size=(n, len(h)))].mean(1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def summarise(ranks: Sequence[int]) -> dict[str, Any]:
    r = np.asarray(ranks)
    out: dict[str, Any] = {"targets": len(r)}
    for k in (1, 5):
        hits = (r <= k).astype(np.float64)
        lo, hi = bootstrap_ci(hits)
        out[f"top{k}"], out[f"top{k}_ci"], out[f"top{k}_hits"] = float(hits.mean()) if len(r) else 0.0, [lo, hi], int(hits.sum())
    return out


@dataclass
class ComposeData:
    """The rows of one attribute kind: unit identity vectors, attribute features, people, values."""

    identity: np.ndarray
    features: np.ndarray
    people: np.ndarray
    values: np.ndarray
    paths: list[str] = field(default_factory=list)


def compose_data(ctx_or_pipeline: Any, labels: LabelledSet, kind: str, workers: int = 0) -> ComposeData:
    """Identity vectors and features of the photos that have a value for ``kind``."""
    sub = labels.with_kind(kind)
    pipe = ctx_or_pipeline.pipeline if isinstance(ctx_or_pipeline, EvalContext) else ctx_or_pipeline
    paths = sub.paths
    if isinstance(ctx_or_pipeline, EvalContext):
        ids = ctx_or_pipeline.vectors(paths)
    else:
        ids = pipe.labelled_vectors(paths, workers, progress=False)
    feats = attribute_features(paths, pipe.spec, workers)
    return ComposeData(unit(ids), feats, np.array([p.person for p in sub.photos]),
                       np.array([p.attributes[kind] for p in sub.photos]), paths)


def in_sample(d: ComposeData, fit: Fit, rule: str = "median", grid: Sequence[float] = WEIGHT_GRID
              ) -> tuple[TargetRanks, float]:
    """(a): everything fitted and picked on every photo."""
    model = fit(d.features, d.values.tolist())
    attr = model.embed(d.features)
    protos = {v: prototype(attr[d.values == v], rule) for v in set(d.values.tolist())}
    ranks = target_ranks(d.identity, attr, d.people, d.values, protos, sorted(set(d.people.tolist())), grid, rule,
                         leave_target_out=False)
    best = ranks.best()
    return ranks, best


@dataclass
class Fold:
    """One target person of (b): what was fitted and chosen without their photos, and their ranks."""

    person: str
    weight: float
    attr: np.ndarray
    protos: dict[str, np.ndarray]
    ranks: TargetRanks


def held_out_fold(d: ComposeData, person: str, fit: Fit, rule: str = "median",
                  grid: Sequence[float] = WEIGHT_GRID) -> Fold:
    """(b) for one target person: weight, attribute model and prototypes from the other people's rows only."""
    train = d.people != person
    w, _ = choose_weight(d.identity[train], d.features[train], d.people[train], d.values[train], fit, grid, rule)
    model = fit(d.features[train], d.values[train].tolist())
    attr = model.embed(d.features)
    protos = {v: prototype(attr[train & (d.values == v)], rule) for v in set(d.values[train].tolist())}
    return Fold(person, w, attr, protos, target_ranks(d.identity, attr, d.people, d.values, protos, [person], [w], rule))


def held_out(d: ComposeData, fit: Fit, rule: str = "median", grid: Sequence[float] = WEIGHT_GRID,
             indexes: Sequence[str] = ()) -> dict[str, Any]:
    """(b): per target person, everything fitted and chosen on the other people only."""
    ranks: list[int] = []
    by_index: dict[str, list[int]] = {ix: [] for ix in indexes}
    weights: dict[str, float] = {}
    targets: list[tuple[str, str]] = []
    for person in sorted(set(d.people.tolist())):
        f = held_out_fold(d, person, fit, rule, grid)
        w = weights[person] = f.weight
        ranks += f.ranks.ranks[w]
        targets += f.ranks.targets
        if by_index:
            rows = compose_rows(d.identity, [(f.attr, w)])
            for value_person, value in f.ranks.targets:
                mine = d.people == value_person
                target = mine & (d.values == value)
                q = compose_rows(unit(prototype(d.identity[mine & ~target], rule)), [(f.protos[value], w)])
                for ix, found in by_index.items():
                    _, pos = search_rows(rows, q, 5, ix)
                    hit = [r + 1 for r, p in enumerate(pos) if target[p]]
                    found.append(hit[0] if hit else 6)
    return {"ranks": ranks, "targets": targets, "weights": weights, "by_index": by_index}


def source_rule(d: ComposeData, leave_out: bool) -> list[int]:
    """(c): ``unit(median(person) + median(value))`` on raw descriptors, ranked among the descriptors."""
    ids = d.identity
    ranks = []
    for person in sorted(set(d.people.tolist())):
        mine = d.people == person
        for value in sorted(set(d.values[mine].tolist())):
            target = mine & (d.values == value)
            p_rows = mine & ~target if leave_out else mine
            v_rows = (d.values == value) & (~mine if leave_out else np.ones_like(mine))
            if not p_rows.any() or not v_rows.any():
                continue
            q = unit(np.median(ids[p_rows], 0) + np.median(ids[v_rows], 0))
            dist = ((ids - q) ** 2).sum(1)
            ranks.append(int((dist < dist[target].min()).sum()) + 1)
    return ranks


def run_compose(d: ComposeData, fit: Fit = fit_attribute_model, rule: str = "median",
                indexes: Sequence[str] = ("hnsw", "ngt")) -> dict[str, Any]:
    """Protocols (a), (b), (c-a), (c-b) on one attribute kind's rows."""
    t0 = time.perf_counter()
    ra, wa = in_sample(d, fit, rule)
    b = held_out(d, fit, rule, indexes=indexes)
    out: dict[str, Any] = {
        "photos": len(d.people), "people": len(set(d.people.tolist())),
        "values": sorted(set(d.values.tolist())), "rule": rule, "weight_grid": list(WEIGHT_GRID),
        "a_source_in_sample": {**summarise(ra.ranks[wa]), "weight": wa},
        "b_held_out": {**summarise(b["ranks"]), "weights_chosen": b["weights"],
                       "by_index": {ix: summarise(r) for ix, r in b["by_index"].items()}},
        "c_dlib_source_rule_in_sample": summarise(source_rule(d, False)),
        "c_dlib_source_rule_held_out": summarise(source_rule(d, True)),
        "seconds": time.perf_counter() - t0,
    }
    return out


class ComposeProtocol:
    """`lookalike eval` protocol over a labelled folder with an attribute kind in its file names."""

    def __init__(self, name: str, folder: str, pattern: str, kind: str, title: str) -> None:
        self.name, self.folder, self.pattern, self.kind, self.title = name, folder, pattern, kind, title
        self.needs = (folder,)
        self.summary = f"composed person + {kind} queries on {title}: protocols (a) in-sample, (b) held out, (c) raw dlib"

    def labels(self, data_root: Path) -> LabelledSet:
        root = data_root / self.folder
        if not root.is_dir():
            raise LookalikeError(f"data set {self.folder!r} not found in {data_root}")
        return labels_from_names(root, self.pattern)

    def run(self, ctx: EvalContext) -> dict[str, Any]:
        d = compose_data(ctx, self.labels(ctx.data_root), self.kind, ctx.workers)
        indexes = [ix for ix in ctx.indexes if ix in ("hnsw", "ngt", "exact")] or ["hnsw"]
        return {"kind": self.kind, "pattern": self.pattern, **run_compose(d, indexes=indexes)}

    def markdown(self, r: dict[str, Any], ctx: EvalContext) -> list[str]:
        return markdown_table(r, f"Composed queries: person + {self.kind} on {self.title}")


def _cell(s: dict[str, Any], k: int) -> str:
    lo, hi = s[f"top{k}_ci"]
    return f"{s[f'top{k}']:.2f} [{lo:.2f}, {hi:.2f}]"


def markdown_table(r: dict[str, Any], title: str) -> list[str]:
    """The result as a Markdown table (the docs page is generated from it)."""
    b = r["b_held_out"]
    rows = [("(a) source's protocol: attribute model and prototypes from every photo, weight picked on the set",
             r["a_source_in_sample"]),
            (("(b) held out: model, attribute prototype and weight from the other people only; target left out of "
             "the person prototype"), b)]
    rows += [(f"(b) held out, searched with the `{ix}` index", s) for ix, s in b.get("by_index", {}).items()]
    rows += [("(c-a) raw dlib descriptors, source's rule, every photo", r["c_dlib_source_rule_in_sample"]),
             ("(c-b) raw dlib descriptors, source's rule, held out", r["c_dlib_source_rule_held_out"])]
    lines = [f"## {title} ({r['photos']} photos, {r['people']} people, {r['b_held_out']['targets']} targets)", "",
             "| protocol | top-1 [95 % CI] | top-5 [95 % CI] | hits |", "|---|---|---|---|"]
    for name, s in rows:
        lines.append(f"| {name} | {_cell(s, 1)} | {_cell(s, 5)} | {s['top1_hits']} / {s['targets']} |")
    ws = sorted(set(b["weights_chosen"].values()))
    return lines + ["", (f"Weights chosen in (b) (leave-people-out inside the training people): {ws}; "
                        f"(a) weight {r['a_source_in_sample']['weight']}."), ""]
