"""docs/training.md from benchmarks/results/training.json (every figure in the page comes from that file).

    python benchmarks/training_report.py            # print the page
    python benchmarks/training_report.py --write    # write docs/training.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "training.json"
DOC = ROOT / "docs" / "training.md"
RAW = "dlib ResNet 128-d (as is)"
PCA32 = "PCA 32-d (fitted on the training folds)"


def _pm(s: dict[str, Any], key: str, pct: bool = True) -> str:
    m = s[key]
    if pct:
        return f"{100 * m['mean']:.2f} ± {100 * m['std']:.2f}" if m["n"] > 1 else f"{100 * m['mean']:.2f}"
    return f"{m['mean']:.4f} ± {m['std']:.4f}" if m["n"] > 1 else f"{m['mean']:.4f}"


def _cross(row: dict[str, Any], name: str) -> str:
    c = row.get("cross", {}).get(name)
    if not c:
        return "—"
    return f"{100 * c['rank1']['mean']:.1f} / {c['map']['mean']:.3f}"


def table(rep: dict[str, Any]) -> list[str]:
    lines = [
        ("| model | dims | bytes / face | folds | LFW 10-fold acc. % | diameter rule % | TAR@FAR 1e-3 % | "
         "NDCG | mAP | rank-1 % | ORL rank-1 % / mAP | Yale rank-1 % / mAP | seconds |"),
        "|---|---:|---:|---:|---|---|---|---|---|---|---|---|---:|",
    ]
    for name, row in rep["models"].items():
        s = row["summary"]
        secs = row.get("protocol_seconds", row.get("train_seconds", 0.0))
        lines.append(
            f"| {name} | {row['dim']} | {row['index_bytes_per_face']} | {len(row['folds'])} | {_pm(s, 'accuracy')} | "
            f"{_pm(s, 'diameter_rule_accuracy')} | {_pm(s, 'tar_at_far_1e-3')} | {_pm(s, 'ndcg', False)} | "
            f"{_pm(s, 'map', False)} | {_pm(s, 'rank1')} | {_cross(row, 'orl')} | {_cross(row, 'yale')} | {secs:.0f} |")
    return lines


def _mean(rep: dict[str, Any], name: str, key: str) -> float:
    return float(rep["models"][name]["summary"][key]["mean"])


def done_when(rep: dict[str, Any]) -> list[str]:
    m = rep["models"]
    heads = [n for n, r in m.items() if r.get("kind") == "head"]
    out = ["## The issue's \"done when\" figures", ""]
    h32 = [n for n in heads if m[n]["dim"] == 32]
    if h32 and PCA32 in m and RAW in m:
        best = max(h32, key=lambda n: _mean(rep, n, "rank1"))
        r, p, raw = (_mean(rep, n, "rank1") for n in (best, PCA32, RAW))
        out.append(f"- **32-d head vs PCA-32 (rank-1 on the held-out folds):** best 32-d head *{best}* "
                   f"{100 * r:.2f} %, PCA-32 {100 * p:.2f} %: {100 * (r - p):+.2f} points "
                   f"({'meets' if r - p >= 0.01 else 'misses'} the ≥ 1 point bar); raw 128-d {100 * raw:.2f} %, "
                   f"so the head is {100 * (raw - r):.2f} points below 128-d "
                   f"({'within' if raw - r <= 0.005 else 'not within'} the 0.5-point aim).")
        for d in (32, 64):
            hd = [n for n in heads if m[n]["dim"] == d]
            if hd:
                b = max(hd, key=lambda n: _mean(rep, n, "accuracy"))
                a, a0 = _mean(rep, b, "accuracy"), _mean(rep, RAW, "accuracy")
                out.append(f"- **LFW 10-fold, {d}-d:** best {d}-d head *{b}* {100 * a:.2f} % vs raw 128-d "
                           f"{100 * a0:.2f} %: {100 * (a - a0):+.2f} points (std of the raw row "
                           f"{100 * m[RAW]['summary']['accuracy']['std']:.2f}).")
    q = rep.get("hnsw_qps")
    if q:
        names = [k for k in q if isinstance(q[k], dict) and "points" in q[k]]
        pts = {k: q[k].get("at_recall_0.99") for k in names}
        if all(pts.values()) and len(pts) == 2:
            (n1, p1), (n2, p2) = pts.items()
            out.append(f"- **HNSW at recall@10 ≥ 0.99** ({q['note']}): {n1} {p1['qps']:.0f} QPS at ef {p1['ef']}, "
                       f"{n2} {p2['qps']:.0f} QPS at ef {p2['ef']}: {p2['qps'] / p1['qps']:.2f}× "
                       f"(gallery {q[n1]['gallery']} vectors, {q[n1]['queries']} queries).")
    ht = [m[n]["protocol_seconds"] for n in heads]
    if ht:
        out.append(f"- **Whole 10-fold protocol per head** (train 10 models + score): {min(ht):.0f}–{max(ht):.0f} s "
                   f"on this machine ({rep['machine']['cpus']} cores, {rep['machine']['cpu']}, load average "
                   f"{rep['machine']['load_avg_start'][0]:.1f} at the start); all heads and baselines together "
                   f"{rep.get('heads_seconds', 0):.0f} s, with descriptors cached.")
    for n, r in m.items():
        if r.get("kind") in ("cnn", "resnet-ft"):
            out.append(f"- **{n}:** {r['note']}; training {r['train_seconds']:.0f} s on {r['device']} "
                       f"({r['samples_per_second']:.0f} samples/s); held-out fold 0: accuracy "
                       f"{100 * r['summary']['accuracy']['mean']:.2f} %, rank-1 {100 * r['summary']['rank1']['mean']:.2f} %.")
    return out + [""]


INTRO = """# Training our own face-embedding models

`lookalike train` and the `lookalike.training` package learn embeddings with metric learning
(PyTorch; losses and the P×K sampler from pytorch-metric-learning 2.9, the quadruplet loss of
Chen et al. 2017 written here). Three kinds of model: heads on frozen dlib ResNet descriptors
(128 → 128 / 64 / 32, linear or a small MLP), dlib's ResNet with its last stage fine-tuned, and a
small CNN trained from scratch. Every trained model is saved as `model.safetensors` + `card.json`
in `<data dir>/models/<key>/` (or `$LOOKALIKE_MODELS`) and loads by key wherever an embedder key
is taken (`--embedder <key>`).

## Protocol

LFW View 2's `people.txt` splits the 5,749 people into ten disjoint folds and fold *i* of
`pairs.txt` only pairs fold *i*'s people. For fold *i* each model trains on every photo of the
other nine folds' people (P×K batches draw only people with two or more photos) and is scored on
fold *i*: verification accuracy on its 600 pairs with the threshold chosen on the other 5,400
(LFW's rule); the source documents' rule "same person if closer than the largest identity-cloud
diameter" (diameter measured on the training people) beside it; TAR at FAR 1e-3 over *every* pair
of fold *i*'s photos (about a million impostor pairs); identity retrieval among fold *i*'s people
(every photo with a same-person partner queries all other photos of the fold; one-photo people are
distractors). Mean ± sample std over the folds. ORL and Yale are never trained on: each fold's model
embeds them, retrieval is averaged the same way. PCA rows are fitted on the training folds only.
The number of epochs is fixed in advance; the validation curves (held-out fold) are drawn, never
used to pick a model.

Regenerate: `python benchmarks/train_models.py` (results → `benchmarks/results/training.json`,
curves → `benchmarks/plots/training_*.png`), then `python benchmarks/training_report.py --write`.
"""


def markdown(rep: dict[str, Any]) -> str:
    lines = [INTRO, "## Results", "",
             (f"Descriptors: spec `{rep['spec']['text']}` (key `{rep['spec']['key']}`), "
              f"{rep['data']['lfw_photos']} LFW photos of {rep['data']['lfw_people']} people. "
              "Percentages are means ± std over the folds scored (column *folds*); *seconds* is the whole "
              "protocol for that row (training every fold's model and scoring it)."), ""]
    lines += table(rep) + [""]
    lines += done_when(rep)
    lines += ["## Curves (fold 0; loss and held-out rank-1 / mAP per epoch)", ""]
    for name, row in rep["models"].items():
        if row.get("kind") in ("head",):
            slug = name.replace(" ", "_").replace(",", "").replace("-d", "d")
            lines.append(f"![{name}](../benchmarks/plots/training_{slug}.png)")
        elif row.get("kind") in ("cnn", "resnet-ft"):
            lines.append(f"![{name}](../benchmarks/plots/training_{row['kind']}_fold0.png)")
    m = rep["machine"]
    lines += ["", (f"Machine: {m['cpus']} cores ({m['cpu']}), Python {m['python']}, load average "
                   f"{m['load_avg_start'][0]:.1f} at the start and {m.get('load_avg_end', [0])[0]:.1f} at the end "
                   "(the machine was shared with other jobs; compare ratios within this run only). "
                   f"Run started {rep['started']}."), ""]
    return "\n".join(lines)


def load() -> dict[str, Any]:
    """training.json with the chip models' rows (training_cnn.json, training_resnet-ft.json) appended."""
    rep = json.loads(RESULTS.read_text())
    for part in ("cnn", "resnet-ft"):
        f = RESULTS.with_name(f"training_{part}.json")
        if f.exists():
            rep["models"].update(json.loads(f.read_text())["models"])
    q = RESULTS.with_name("training_qps.json")
    if q.exists():
        rep["hnsw_qps"] = json.loads(q.read_text())["hnsw_qps"]
    return rep


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    text = markdown(load())
    if args.write:
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(text)
        print(f"wrote {DOC}")
    else:
        print(text)


if __name__ == "__main__":
    main()
