"""Load test of the web service: N concurrent clients (default 8) post real photos for S seconds (default 60).

    python benchmarks/load.py [--gallery PATH] [--clients 8] [--seconds 60] [--url http://127.0.0.1:8000]

Without ``--url`` it starts the service in-process on a free loopback port over ``--gallery`` (default: the
per-user gallery that ``make run`` builds). Writes ``benchmarks/results/load.json`` and prints the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
import _checkout  # noqa: F401  (src/ on sys.path when it should be)

sys.path.insert(0, str(ROOT))

from loadgen import run_load  # benchmarks/loadgen.py, shared with benchmarks/load.py

from lookalike.settings import datasets_dir, default_gallery


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gallery", type=Path, default=None)
    ap.add_argument("--url", default=None, help="a running service; default: start one in-process")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "load.json")
    args = ap.parse_args()
    fre = datasets_dir() / "face_recognition_examples"
    photos = [p.read_bytes() for p in sorted(fre.glob("*/*.jp*g"))]
    if args.url:
        ctx = nullcontext(args.url)
    else:
        from tests.service.live import live_server

        from lookalike.service.app import create_app

        ctx = live_server(create_app(args.gallery or default_gallery(), token=None))
    with ctx as url:
        report = run_load(url, photos, clients=args.clients, seconds=args.seconds)
    result = {"benchmark": "load", "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                                               "loadavg_after": os.getloadavg()},
              "photos": len(photos), **report.as_dict()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
