"""Open-set identification on LFW: half the people enrolled with one photo, the rest unknown; DIR at FAR."""

from __future__ import annotations

from typing import Any

from lookalike.evaluation.openset import open_set, split_identities
from lookalike.evaluation.plots import plot_dir
from lookalike.evaluation.protocols.base import EvalContext, pct


class LfwOpenSet:
    name = "lfw-openset"
    summary = "open-set identification on LFW: detection and identification rate at FAR 1% and 10%"
    needs = ("lfw",)

    def run(self, ctx: EvalContext) -> dict[str, Any]:
        paths, labels = ctx.labelled_photos("lfw", 1)
        vecs = ctx.vectors(paths)
        split = split_identities(labels, unknown_fraction=0.5, enroll_per_person=1, seed=0)
        o = open_set(vecs, labels, split)
        plot_dir({ctx.label: (o["curve"]["far"], o["curve"]["dir"])}, ctx.out_dir / "openset_lfw.png")
        return o

    def markdown(self, o: dict[str, Any], ctx: EvalContext) -> list[str]:
        lines = [(f"## Open-set identification on LFW ({o['enrolled_people']} people enrolled with one photo, "
                  f"{o['mated_probes']} probes of them; {o['unknown_people']} unknown people, "
                  f"{o['nonmated_probes']} probes)"),
                 "", "| FAR | threshold | detection rate | detection and identification rate |", "|---|---|---|---|"]
        for far in ("0.01", "0.1"):
            f = o[f"far_{far}"]
            lines.append(f"| {float(far):.0%} (measured {pct(f['far_measured'])}) | {f['threshold']:.4f} | "
                         f"{pct(f['detection_rate'])} | {pct(f['identification_rate'])} |")
        return lines + ["", f"Closed-set rank-1 of the same probes: {pct(o['closed_set_rank1'])}.", "",
                        "![open set](openset_lfw.png)", ""]
