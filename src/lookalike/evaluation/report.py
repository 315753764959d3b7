"""`lookalike eval`: run the registered protocols on one or more pipelines → one JSON + Markdown report with plots.

With no options it evaluates :func:`~lookalike.faces.spec.default_spec` — the pipeline that
``lookalike search`` and the page run — so the report's figures describe what users get. With
several pipelines (``--embedder a,b``) each gets its section and a comparison table leads the report.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lookalike.evaluation.protocols import available_protocols, get_protocol
from lookalike.evaluation.protocols.base import EvalContext, pct
from lookalike.faces.pipeline import FacePipeline
from lookalike.faces.spec import PipelineSpec, default_spec
from lookalike.io import atomic_write_text
from lookalike.settings import datasets_dir


def evaluate_spec(spec: PipelineSpec, indexes: list[str], protocols: Sequence[str], out_dir: Path,
                  data_root: Path, workers: int = 0) -> tuple[dict[str, Any], EvalContext]:
    """Every protocol on one pipeline; the result keyed by protocol name (``-`` as ``_``)."""
    ctx = EvalContext(FacePipeline(spec), data_root, out_dir, indexes, workers)
    report: dict[str, Any] = {
        "embedder_key": spec.embedder,
        "embedder": spec.card.name,
        "pipeline": spec.as_dict(),
        "pipeline_text": spec.describe(),
        "indexes": indexes,
    }
    for name in protocols:
        t0 = time.perf_counter()
        report[name.replace("-", "_")] = get_protocol(name).run(ctx)
        report.setdefault("seconds_by_protocol", {})[name] = time.perf_counter() - t0
    report["notes"] = ctx.notes
    return report, ctx


def run_eval(specs: Sequence[PipelineSpec] | PipelineSpec | None = None, indexes: Sequence[str] = ("exact",),
             protocols: Sequence[str] | None = None, out_dir: str | Path = "eval-report",
             data_root: str | Path | None = None, workers: int = 0) -> dict[str, Any]:
    """Run ``protocols`` (default: all) on each spec (default: the default spec); write ``report.json``,
    ``report.md`` and PNG plots into ``out_dir`` (one sub-folder per pipeline when there are several)."""
    spec_list = [specs] if isinstance(specs, PipelineSpec) else list(specs or [default_spec()])
    names = list(protocols or available_protocols())
    for n in names:
        get_protocol(n)  # unknown names fail before any work
    out = Path(out_dir)
    root = Path(data_root) if data_root else datasets_dir()
    t_all = time.perf_counter()
    models, sections = [], []
    for spec in spec_list:
        folder = out if len(spec_list) == 1 else out / spec.embedder
        folder.mkdir(parents=True, exist_ok=True)
        rep, ctx = evaluate_spec(spec, list(indexes), names, folder, root, workers)
        models.append(rep)
        sections.append((rep, ctx))
    machine = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
    if len(models) == 1:
        report = {**models[0], "machine": machine}
    else:
        report = {"models": models, "machine": machine}
    report["started"] = time.strftime("%Y-%m-%d %H:%M:%S")
    report["seconds"] = time.perf_counter() - t_all
    atomic_write_text(out / "report.json", json.dumps(report, indent=1))
    atomic_write_text(out / "report.md", markdown(sections, names, report["seconds"]))
    return report


def markdown(sections: list[tuple[dict[str, Any], EvalContext]], names: list[str], seconds: float) -> str:
    """The report as Markdown: a comparison table when there are several pipelines, then each one's protocols."""
    lines: list[str] = []
    if len(sections) > 1:
        lines += ["# Model comparison", "", "| model | pipeline | dims | LFW 10-fold | TAR@FAR 1e-3 | LFW rank-1 |",
                  "|---|---|---|---|---|---|"]
        for rep, ctx in sections:
            v, r = rep.get("lfw_verification"), rep.get("lfw_retrieval")
            acc = f"{pct(v['kfold']['mean_accuracy'])} ± {pct(v['kfold']['std_accuracy'])}" if v else "—"
            tar = pct(v["tar_at_far_0.001"]["tar"]) if v else "—"
            lines.append(f"| {rep['embedder']} ({rep['embedder_key']}) | `{rep['pipeline_text']}` | "
                         f"{ctx.pipeline.dim} | {acc} | {tar} | {pct(r['rank1']) if r else '—'} |")
        lines.append("")
    for rep, ctx in sections:
        lines += [(f"# Evaluation: {rep['embedder']} ({rep['embedder_key']}), pipeline `{rep['pipeline_text']}` "
                  f"(key {rep['pipeline']['key']})"), ""]
        for name in names:
            lines += get_protocol(name).markdown(rep[name.replace("-", "_")], ctx)
        if rep.get("notes"):
            lines += ["## Notes", ""] + [f"- {n}" for n in rep["notes"]] + [""]
    lines.append(f"Total time {seconds:.0f} s (vectors cached per pipeline key in $LOOKALIKE_CACHE/embeddings.sqlite).")
    return "\n".join(lines) + "\n"
