"""Benchmark the face detectors: dlib HOG (upsampled 0 / 1×), dlib's CNN, and our port of the CNN.

Ours ("mmod") runs dlib's own network file with ONNX Runtime or PyTorch; ``mmod-onnx-80`` /
``mmod-torch-80`` look for faces from 80 px (the network's window, no rescaling: dlib's CNN at
upsample 0, detection for detection), ``mmod-onnx-36`` enlarges photos 2.2× to find faces from 36 px
(the detector's default), ``mmod-onnx-120`` skips the first two pyramid levels.

Measures, in one run:

a. the 9 annotated group photos (43 faces boxed in dlib's XML): faces found and false positives
   at IoU ≥ 0.5, plus detections on the photo with no human face;
b. LFW: photos where no face is found, and whether the face nearest the centre covers the centre
   (the labelled face of a deep-funneled LFW photo is centred) — on all 13,233 photos for HOG and
   ``mmod-onnx-80``; on a 500-photo sample for every detector, where ``mmod-onnx-80`` is also
   checked against dlib's CNN: same count, IoU ≥ 0.99, |Δscore| ≤ 1e-3 for every detection
   (the PyTorch runner, slow on the CPU, on the first 100 photos of the sample);
d. the query path: ``FacePipeline.process_bytes`` per stage (decode, detect, align, embed) on the
   latency benchmark's one-face 640×480 photos, default spec against ``detector=mmod`` specs;
c. time per photo (median of repeated runs, boxes only — no landmarks) at 250×250 (an LFW photo),
   640×480 and 1920×1080 (real photos resized), and the speed-up of ``mmod-onnx-80`` over dlib's CNN
   at 640×480 in the same run, also in alternating rounds with wall and CPU time (``headline_640x480``).

Writes ``benchmarks/results/detect.json`` (after each section) and ``benchmarks/plots/detect.png``.

    nice -n 10 env PYTHONPATH=src python benchmarks/detect.py            # everything (~40 min on 2 cores)
    PYTHONPATH=src python benchmarks/detect.py --lfw-all 0 --sample 50    # quick look (~3 min)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
import _checkout  # noqa: F401  (src/ on sys.path when it should be)
from _machine import cpu_model

from lookalike.evaluation.detection import annotated_boxes, match
from lookalike.faces.detect import Box
from lookalike.faces.image import load_image
from lookalike.io import atomic_write

SEED = 16
Raw = list[tuple[tuple[int, int, int, int], float]]  # (left, top, right, bottom inclusive), score
EQUAL_IOU, EQUAL_SCORE = 0.99, 1e-3
TORCH_SAMPLE = 100
HEADLINE_ROUNDS = 5


def datasets() -> Path:
    from lookalike.settings import datasets_dir

    return datasets_dir()


# --------------------------------------------------------------------------- detectors


def make_detectors(threads: int | None) -> dict[str, Callable[[np.ndarray], Raw]]:
    import dlib
    import face_recognition_models as frm

    from lookalike.faces.models.dlib_mmod.detector import MMODFaceDetector

    hog = dlib.get_frontal_face_detector()
    cnn = dlib.cnn_face_detection_model_v1(frm.cnn_face_detector_model_location())

    def rect(r) -> tuple[int, int, int, int]:
        return (r.left(), r.top(), r.right(), r.bottom())

    def hog_up(up: int) -> Callable[[np.ndarray], Raw]:
        def run(image: np.ndarray) -> Raw:
            rects, scores, _ = hog.run(image, up, 0.0)
            return [(rect(r), float(s)) for r, s in zip(rects, scores)]

        return run

    def cnn_up(up: int) -> Callable[[np.ndarray], Raw]:
        return lambda image: [(rect(d.rect), float(d.confidence)) for d in cnn(image, up)]

    def ours(min_face: int, runtime: str) -> Callable[[np.ndarray], Raw]:
        det = MMODFaceDetector(min_face=min_face, runtime=runtime, device="cpu", threads=threads)  # type: ignore[arg-type]
        return lambda image: [(d.rect, d.score) for d in det.raw_detect(image)]

    return {
        "hog-up0": hog_up(0),
        "hog-up1": hog_up(1),
        "cnn-up0": cnn_up(0),
        "cnn-up1": cnn_up(1),
        "mmod-onnx-80": ours(80, "onnx"),
        "mmod-torch-80": ours(80, "torch"),
        "mmod-onnx-36": ours(36, "onnx"),
        "mmod-onnx-120": ours(120, "onnx"),
    }


def to_box(rect: tuple[int, int, int, int], w: int, h: int) -> Box:
    left, top, right, bottom = rect
    return Box(max(0, left), max(0, top), min(w, right + 1), min(h, bottom + 1))


# --------------------------------------------------------------------------- (a) group photos


def bench_group(dets: dict, names: list[str]) -> dict:
    folder = datasets() / "group_photos"
    truth = annotated_boxes(folder)
    images = {p: load_image(p) for p in truth}
    dogs = load_image(folder / "dlib_dogs_NO_HUMAN_FACES.jpg")
    out = {}
    for name in names:
        found = fp = total = 0
        t0 = time.perf_counter()
        for photo, boxes in truth.items():
            img = images[photo]
            counts = match([to_box(r, img.shape[1], img.shape[0]) for r, _ in dets[name](img)], boxes)
            found, fp, total = found + counts.found, fp + counts.false_positives, total + counts.truth
        seconds = time.perf_counter() - t0
        out[name] = {"faces": total, "found": found, "false_positives": fp,
                     "on_no_face_photo": len(dets[name](dogs)), "seconds": round(seconds, 2)}  # fmt: skip
        print(f"  (a) {name:14s} found {found}/{total}, false positives {fp}, "
              f"dogs {out[name]['on_no_face_photo']}, {seconds:.1f} s", flush=True)  # fmt: skip
    return out


# --------------------------------------------------------------------------- (b) LFW


def lfw_counts(det: Callable[[np.ndarray], Raw], paths: list[Path], keep: bool = False) -> tuple[dict, list]:
    none = central_ok = 0
    kept = []
    t0 = time.perf_counter()
    for p in paths:
        img = load_image(p)
        h, w = img.shape[:2]
        found = det(img)
        if keep:
            kept.append(found)
        if not found:
            none += 1
            continue
        boxes = [to_box(r, w, h) for r, _ in found]
        cx, cy = w / 2.0, h / 2.0
        c = min(boxes, key=lambda b: (b.center[0] - cx) ** 2 + (b.center[1] - cy) ** 2)
        central_ok += c.left <= cx <= c.right and c.top <= cy <= c.bottom
    secs = time.perf_counter() - t0
    return {"photos": len(paths), "no_face": none, "central_face_covers_centre": central_ok,
            "seconds": round(secs, 1), "ms_per_photo": round(1000 * secs / max(len(paths), 1), 2)}, kept  # fmt: skip


def compare(ours: list[Raw], theirs: list[Raw]) -> dict:
    """Equality of two detectors' outputs photo by photo (both sorted by score)."""
    same_count = 0
    min_iou, max_diff, detections = 1.0, 0.0, 0
    for o, t in zip(ours, theirs):
        if len(o) != len(t):
            continue
        same_count += 1
        for (ro, so), (rt, st) in zip(o, t):
            detections += 1
            min_iou = min(min_iou, to_box(ro, 10**6, 10**6).iou(to_box(rt, 10**6, 10**6)))
            max_diff = max(max_diff, abs(so - st))
    ok = same_count == len(ours) and min_iou >= EQUAL_IOU and max_diff <= EQUAL_SCORE
    return {"photos": len(ours), "same_count": same_count, "detections": detections, "min_iou": min_iou,
            "max_abs_score_diff": max_diff, "equal": ok}  # fmt: skip


def bench_lfw(dets: dict, all_names: list[str], sample_names: list[str], limit: int, sample: int) -> dict:
    paths = sorted((datasets() / "lfw").glob("*/*.jpg"))
    out: dict = {"all": {}, "sample": {}}
    if limit:
        subset = paths[:limit] if limit < len(paths) else paths
        for name in all_names:
            out["all"][name], _ = lfw_counts(dets[name], subset)
            print(f"  (b) all LFW {name:14s} {out['all'][name]}", flush=True)
    picked = random.Random(SEED).sample(paths, sample)
    kept = {}
    for name in sample_names:
        photos = picked[:TORCH_SAMPLE] if "torch" in name else picked  # PyTorch on the CPU is slow
        out["sample"][name], kept[name] = lfw_counts(dets[name], photos, keep=True)
        print(f"  (b) sample {name:14s} {out['sample'][name]}", flush=True)
    if "cnn-up0" in kept:
        for name in ("mmod-onnx-80", "mmod-torch-80"):
            if name in kept:
                out[f"equality_{name}_vs_cnn-up0"] = eq = compare(kept[name], kept["cnn-up0"])
                print(f"  (b) equality {name} vs dlib: {eq}", flush=True)
    return out


def equality_group(dets: dict) -> dict:
    folder = datasets() / "group_photos"
    photos = sorted(folder.glob("*.jpg"))
    imgs = [load_image(p) for p in photos]
    theirs = [dets["cnn-up0"](i) for i in imgs]
    out = {name: compare([dets[name](i) for i in imgs], theirs) for name in ("mmod-onnx-80", "mmod-torch-80")}
    for name, eq in out.items():
        print(f"  (a) equality on all {len(photos)} group photos, {name} vs dlib: {eq}", flush=True)
    return out


# --------------------------------------------------------------------------- (c) speed


def test_images() -> dict[str, np.ndarray]:
    from PIL import Image

    ds = datasets()
    lfw = load_image(ds / "lfw" / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg")
    two = Image.fromarray(load_image(ds / "group_photos" / "face_recognition_two_people.jpg"))
    big = Image.fromarray(load_image(ds / "group_photos" / "face_recognition_obama_and_biden.jpg"))
    return {
        "250x250": lfw,
        "640x480": np.asarray(two.resize((640, 480), Image.BILINEAR)),
        "1920x1080": np.asarray(big.resize((1920, 1080), Image.BILINEAR)),
    }


def timed(det: Callable[[np.ndarray], Raw], img: np.ndarray) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process, all threads) of one detection."""
    w0, c0 = time.perf_counter(), time.process_time()
    det(img)
    return time.perf_counter() - w0, time.process_time() - c0


def headline(dets: dict, img: np.ndarray, rounds: int) -> dict:
    """dlib's CNN vs ``mmod-onnx-80`` at 640×480 in alternating rounds (load hits both alike).

    Ratios per round (dlib's run / ours right after it); CPU time counts every thread of this
    process, so it is what each costs the machine regardless of how many cores it could use.
    """
    dlib_w, dlib_c, ours_w, ours_c = [], [], [], []
    dets["mmod-onnx-80"](img)
    for _ in range(rounds):
        w, c = timed(dets["cnn-up0"], img)
        dlib_w.append(w)
        dlib_c.append(c)
        w, c = timed(dets["mmod-onnx-80"], img)
        ours_w.append(w)
        ours_c.append(c)
    wall = [a / b for a, b in zip(dlib_w, ours_w)]
    cpu = [a / b for a, b in zip(dlib_c, ours_c)]
    res = {
        "rounds": rounds,
        "dlib_wall_ms": [round(1000 * t, 1) for t in dlib_w],
        "ours_wall_ms": [round(1000 * t, 1) for t in ours_w],
        "dlib_cpu_ms": [round(1000 * t, 1) for t in dlib_c],
        "ours_cpu_ms": [round(1000 * t, 1) for t in ours_c],
        "wall_ratio_median": round(statistics.median(wall), 2),
        "wall_ratio_min": round(min(wall), 2),
        "cpu_ratio_median": round(statistics.median(cpu), 2),
        "loadavg_1min": round(os.getloadavg()[0], 2),
    }
    print(f"  (c) headline 640x480, dlib CNN / ours: wall {res['wall_ratio_median']}x (min {res['wall_ratio_min']}x), "
          f"CPU {res['cpu_ratio_median']}x, load {res['loadavg_1min']}", flush=True)  # fmt: skip
    return res


def bench_speed(dets: dict, names: list[str], repeats: int) -> dict:
    out: dict = {}
    for size, img in test_images().items():
        out[size] = {}
        for name in names:
            slow = name.startswith("cnn")
            if name == "cnn-up1" and size != "250x250":
                continue  # 4× the pixels of cnn-up0: minutes per photo
            n = 1 if (slow and size == "1920x1080") else (3 if slow else repeats)
            if not (slow and size != "250x250"):
                dets[name](img)  # warm-up (dlib's CNN at larger sizes: its first run is the only one)
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                found = dets[name](img)
                times.append(time.perf_counter() - t0)
            out[size][name] = {"median_ms": round(1000 * statistics.median(times), 2),
                               "runs_ms": [round(1000 * t, 2) for t in times], "faces": len(found),
                               "loadavg_1min": round(os.getloadavg()[0], 2)}  # fmt: skip
            print(
                f"  (c) {size:9s} {name:14s} {out[size][name]['median_ms']:9.1f} ms  faces {len(found)}",
                flush=True,
            )
    if "cnn-up0" in names and "mmod-onnx-80" in names:
        out["headline_640x480"] = headline(dets, test_images()["640x480"], HEADLINE_ROUNDS)
    ref = out["640x480"]
    if "cnn-up0" in ref:
        out["speedup_vs_cnn_640x480"] = {
            n: round(ref["cnn-up0"]["median_ms"] / ref[n]["median_ms"], 2)
            for n in ref
            if n.startswith("mmod")
        }
        print(f"  (c) speed-up over dlib's CNN at 640x480: {out['speedup_vs_cnn_640x480']}", flush=True)
    return out


# --------------------------------------------------------------------------- (d) the query path


QUERY_SPECS = {
    "default (HOG, upsample auto)": "",
    "mmod, min_face 36": "detector=mmod,min_face=36,fallback=mmod",
    "mmod, min_face 80": "detector=mmod,min_face=80,fallback=mmod",
    "mmod, min_face 120": "detector=mmod,min_face=120,fallback=mmod",
    "mmod, min_face 160": "detector=mmod,min_face=160,fallback=mmod",
}


def bench_query(rounds: int) -> dict:
    """``FacePipeline.process_bytes`` per stage on the latency benchmark's 640×480 query photos.

    The search itself (≈ 1 ms) is left out: it does not depend on the detector. Specs take turns
    photo by photo so background load hits each alike; p50 over ``rounds`` passes of every photo.
    """
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from latency import QUERY_PHOTOS, photo_640x480

    from lookalike.faces.pipeline import FacePipeline, Timings
    from lookalike.faces.spec import PipelineSpec, default_spec

    examples = datasets() / "face_recognition_examples"
    photos = [(n, photo_640x480(examples / n)) for n in QUERY_PHOTOS if (examples / n).exists()]
    pipes = {
        label: FacePipeline(PipelineSpec.parse(text) if text else default_spec())
        for label, text in QUERY_SPECS.items()
    }
    samples: dict[str, dict[str, list[float]]] = {label: {} for label in pipes}
    faces: dict[str, list[int]] = {label: [] for label in pipes}
    for label, pipe in pipes.items():  # warm-up: models load on first use
        pipe.process_bytes(photos[0][1])
    for r in range(rounds):
        for name, data in photos:
            for label, pipe in pipes.items():
                t = Timings()
                t0 = time.perf_counter()
                photo = pipe.process_bytes(data, timings=t)
                t.ms["total"] = (time.perf_counter() - t0) * 1000.0
                for stage, ms in t.ms.items():
                    samples[label].setdefault(stage, []).append(ms)
                if r == 0:
                    faces[label].append(photo.face_count)
    out = {}
    for label, st in samples.items():
        out[label] = {k: round(statistics.median(v), 2) for k, v in st.items()}
        out[label]["faces_per_photo"] = faces[label]
        out[label]["spec"] = QUERY_SPECS[label] or "default"
        print(f"  (d) {label:30s} p50 ms: " + ", ".join(f"{k} {v}" for k, v in out[label].items()
                                                      if isinstance(v, float)), flush=True)  # fmt: skip
    out["photos"] = [n for n, _ in photos]
    out["loadavg_1min"] = round(os.getloadavg()[0], 2)
    return out


# --------------------------------------------------------------------------- output


def machine_info(threads: int | None) -> dict:
    import onnxruntime
    import torch

    from lookalike.faces.models.dlib_resnet.embedders import available_cores, default_threads

    return {"cpu": cpu_model(), "cores_available": available_cores(), "threads_used": threads or default_threads(),
            "python": platform.python_version(), "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}  # fmt: skip


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    speed = {k: v for k, v in results.get("speed", {}).items() if k in ("250x250", "640x480", "1920x1080")}
    if speed:
        ax = axes[0]
        names = sorted(
            {n for v in speed.values() for n in v}, key=lambda n: list(results["detectors"]).index(n)
        )
        width = 0.8 / len(names)
        for i, n in enumerate(names):
            ys = [speed[s].get(n, {}).get("median_ms", np.nan) for s in speed]
            ax.bar(np.arange(len(speed)) + i * width, ys, width, label=n)
        ax.set_xticks(np.arange(len(speed)) + 0.4 - width / 2, list(speed))
        ax.set_yscale("log")
        ax.set_ylabel("ms per photo (median, log)")
        ax.set_title("(c) time per photo", fontsize=10)
        ax.legend(fontsize=7)
    group = results.get("group", {})
    if group:
        ax = axes[1]
        names = list(group)
        ax.bar(np.arange(len(names)) - 0.2, [group[n]["found"] for n in names], 0.4, label="faces found")
        ax.bar(
            np.arange(len(names)) + 0.2,
            [group[n]["false_positives"] for n in names],
            0.4,
            label="false positives",
        )
        ax.axhline(next(iter(group.values()))["faces"], color="k", lw=0.8, ls="--")
        ax.set_xticks(np.arange(len(names)), names, rotation=30, ha="right", fontsize=8)
        ax.set_title("(a) annotated group photos (IoU ≥ 0.5)", fontsize=10)
        ax.legend(fontsize=7)
    lfw = results.get("lfw", {})
    part = lfw.get("all") or lfw.get("sample") or {}
    if part:
        ax = axes[2]
        names = list(part)
        ax.bar(names, [part[n]["no_face"] for n in names])
        for i, n in enumerate(names):
            ax.text(i, part[n]["no_face"], str(part[n]["no_face"]), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(np.arange(len(names)), names, rotation=30, ha="right", fontsize=8)
        which = "all" if lfw.get("all") else "sample"
        ax.set_title(
            f"(b) LFW ({which}, {next(iter(part.values()))['photos']} photos): no face found", fontsize=10
        )
    fig.suptitle(f"Face detectors — {results['machine']['cpu'][:40]}, {results['machine']['threads_used']} threads",
                 fontsize=10)  # fmt: skip
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def report(results: dict) -> str:
    """Markdown rows for the README, from a results file."""
    speed, group, lfw = results.get("speed", {}), results.get("group", {}), results.get("lfw", {})
    sizes = [k for k in ("250x250", "640x480", "1920x1080") if k in speed]
    n_all = next(iter(lfw.get("all", {}).values()), {}).get("photos", 0)
    lines = [
        "| detector | " + " | ".join(f"ms per {s}" for s in sizes) + " | group photos: found / FP | "
        f"LFW sample: no face | LFW, {n_all} photos: no face / centre missed |",
        "|---|" + "---:|" * len(sizes) + "---:|---:|---:|",
    ]
    for name in results["detectors"]:
        cells = [f"{speed[s][name]['median_ms']:.1f}" if name in speed[s] else "—" for s in sizes]
        g = group.get(name)
        gs = f"{g['found']}/{g['faces']} / {g['false_positives']}" if g else "—"
        sm = lfw.get("sample", {}).get(name)
        ss = f"{sm['no_face']} of {sm['photos']}" if sm else "—"
        al = lfw.get("all", {}).get(name)
        als = (
            f"{al['no_face']} / {al['photos'] - al['no_face'] - al['central_face_covers_centre']}"
            if al
            else "—"
        )
        lines.append(f"| `{name}` | " + " | ".join(cells) + f" | {gs} | {ss} | {als} |")
    hl = speed.get("headline_640x480")
    if hl:
        lines.append("")
        lines.append(
            f"dlib's CNN against `mmod-onnx-80` at 640×480, {hl['rounds']} alternating rounds: "
            f"{hl['wall_ratio_median']}× faster in wall time (median of per-round ratios, lowest "
            f"{hl['wall_ratio_min']}×), {hl['cpu_ratio_median']}× less CPU time; load average {hl['loadavg_1min']}."
        )
    if "speedup_vs_cnn_640x480" in speed:
        lines.append("")
        lines.append(
            "Speed-up over dlib's CNN at 640×480, same run: "
            + ", ".join(f"`{k}` {v}×" for k, v in speed["speedup_vs_cnn_640x480"].items())
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--lfw-all", type=int, default=13233, help="LFW photos for HOG and mmod-onnx-80 (0: skip)"
    )
    ap.add_argument("--sample", type=int, default=500, help="LFW sample run by every detector")
    ap.add_argument("--repeats", type=int, default=7, help="timed runs per fast detector and size")
    ap.add_argument("--threads", type=int, default=None, help="threads for our detector (default: all cores)")
    ap.add_argument("--skip", default="", help="comma-separated sections to skip: speed,query,group,lfw")
    ap.add_argument("--query-rounds", type=int, default=5, help="passes over the query photos in (d)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "detect.json")
    ap.add_argument("--plot", type=Path, default=ROOT / "benchmarks" / "plots" / "detect.png")
    ap.add_argument("--report", action="store_true", help="print README rows from --out and exit")
    ap.add_argument(
        "--headline-only",
        action="store_true",
        help="only re-measure dlib's CNN vs ours at 640x480 (alternating rounds) into --out",
    )
    args = ap.parse_args()
    if args.report:
        print(report(json.loads(args.out.read_text())))
        return
    skip = set(filter(None, args.skip.split(",")))
    dets = make_detectors(args.threads)
    results: dict = {"machine": machine_info(args.threads), "detectors": list(dets),
                     "loadavg_before": os.getloadavg(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}  # fmt: skip
    sections = {
        "group": ("group", "group_equality"),
        "lfw": ("lfw",),
        "speed": ("speed",),
        "query": ("query",),
    }
    if args.out.exists():  # keep the sections of an earlier run that this run skips
        old = json.loads(args.out.read_text())
        results.update({k: old[k] for sec in skip for k in sections.get(sec, ()) if k in old})

    def save() -> None:
        results["loadavg_after"] = os.getloadavg()
        text = json.dumps(results, indent=2) + "\n"
        atomic_write(args.out, lambda tmp: tmp.write_text(text), suffix=".json")

    fast = ["hog-up0", "hog-up1", "mmod-onnx-80", "mmod-torch-80", "mmod-onnx-36", "mmod-onnx-120"]
    if args.headline_only:  # re-measure just the alternating-rounds ratio, keep everything else
        results.update({k: v for k, v in json.loads(args.out.read_text()).items() if k not in results})
        results["speed"]["headline_640x480"] = headline(dets, test_images()["640x480"], HEADLINE_ROUNDS)
        save()
        skip = set(sections)
    if "speed" not in skip:
        print("(c) time per photo", flush=True)
        results["speed"] = bench_speed(dets, ["cnn-up0", "cnn-up1", *fast], args.repeats)
        save()
    if "query" not in skip:
        print("(d) the query path, 640x480", flush=True)
        results["query"] = bench_query(args.query_rounds)
        save()
    if "group" not in skip:
        print("(a) annotated group photos", flush=True)
        results["group"] = bench_group(dets, ["hog-up0", "hog-up1", "cnn-up0", "cnn-up1", *fast[2:]])
        results["group_equality"] = equality_group(dets)
        save()
    if "lfw" not in skip:
        print("(b) LFW", flush=True)
        results["lfw"] = bench_lfw(dets, ["hog-up0", "hog-up1", "mmod-onnx-80"], ["cnn-up0", *fast],
                                   args.lfw_all, args.sample)  # fmt: skip
        save()
    plot(results, args.plot)
    print(f"wrote {args.out} and {args.plot}")


if __name__ == "__main__":
    main()
