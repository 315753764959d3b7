"""Distributed ingest on Ray Data: the same gallery as :func:`lookalike.gallery.ingest.ingest`, on a cluster.

The pipeline: list the photos not stored yet (so a killed ingest resumes where it stopped) and serve
cached ones at once → read each photo's bytes (Ray tasks) → :class:`FacePipeline` actors, one per
CPU (or per GPU with ``gpus``), each running ``FacePipeline(spec).process_bytes`` — the one
bytes → vectors code — → batches back to the driver, which writes every photo to the SQLite store
and the vector index (one writer; the index may be a Milvus server) and checkpoints the index.

Without an address a local Ray is started (and stopped) on this machine; ``"auto"`` or
``"ray://head:10001"`` joins a running cluster, whose workers must have lookalike installed and
read the photo paths (a shared folder or object store mount).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.errors import ImageError, MissingDependencyError
from lookalike.faces.batch import file_sha256, signature
from lookalike.faces.cache import CachedPhoto, EmbeddingCache
from lookalike.faces.image import read_bytes
from lookalike.faces.spec import PipelineSpec
from lookalike.gallery.gallery import Gallery
from lookalike.gallery.ingest import IngestReport, Recorder
from lookalike.gallery.sources import SourceItem

#: photos per actor call
BATCH = 8


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise MissingDependencyError("ray", extra="scale", purpose="distributed ingest (--ray)") from None
    return ray


def _local_env() -> dict[str, Any]:
    """A local Ray's workers import the very lookalike this driver runs (a checkout's src/ included)."""
    parent = str(Path(__file__).resolve().parents[2])  # the folder holding the lookalike package
    path = os.pathsep.join(p for p in (parent, os.environ.get("PYTHONPATH", "")) if p)
    return {"env_vars": {"PYTHONPATH": path}}


def _read(row: dict[str, Any]) -> dict[str, Any]:
    """Ray task: a photo's bytes (or why they cannot be read)."""
    try:
        row["data"], row["error"] = read_bytes(row["path"]), ""
    except (ImageError, OSError) as exc:
        row["data"], row["error"] = b"", str(exc)
    return row


class PipelineActor:
    """Ray actor: one :class:`FacePipeline` for the spec, kept for its whole life."""

    def __init__(self, spec: PipelineSpec, threads: int) -> None:
        os.environ["LOOKALIKE_THREADS"] = str(threads)
        from lookalike.faces.pipeline import FacePipeline

        self.pipe = FacePipeline(spec)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out: dict[str, list[Any]] = {k: [] for k in ("path", "sha256", "error", "width", "height", "boxes",
                                                     "scores", "vectors", "how")}
        for path, select, data, error in zip(batch["path"], batch["select"], batch["data"], batch["error"]):
            res = None
            if not error:
                try:
                    res = self.pipe.process_bytes(bytes(data), str(select))
                except ImageError as exc:
                    error = str(exc)
            faces = res.faces if res is not None else []
            vecs = (np.stack([f.embedding for f in faces]).astype(np.float32) if faces
                    else np.empty((0, self.pipe.dim), np.float32))
            out["path"].append(str(path))
            out["sha256"].append(res.sha256 if res is not None else "")
            out["error"].append(str(error))
            out["width"].append(res.width if res is not None else 0)
            out["height"].append(res.height if res is not None else 0)
            out["boxes"].append(json.dumps([[f.box.left, f.box.top, f.box.right, f.box.bottom] for f in faces]))
            out["scores"].append(json.dumps([float(f.score) for f in faces]))
            out["vectors"].append(vecs.tobytes())
            out["how"].append(faces[0].how if select == "labelled" and faces else "")
        return {k: np.array(v, dtype=object) for k, v in out.items()}


def _photo(row: dict[str, Any], dim: int) -> CachedPhoto:
    boxes = [tuple(int(v) for v in b) for b in json.loads(row["boxes"])]
    vecs = np.frombuffer(row["vectors"], dtype=np.float32).reshape(len(boxes), dim).copy()
    return CachedPhoto(int(row["width"]), int(row["height"]), boxes, json.loads(row["scores"]), vecs, row["how"])


def _results(ray: Any, spec: PipelineSpec, tasks: list[tuple[str, str]], actors: int, gpus: float) -> Iterator[Any]:
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # ours is the ingest's bar
    cpus = int(ray.cluster_resources().get("CPU", 1))
    n = actors or (int(ray.cluster_resources().get("GPU", 0)) if gpus else cpus) or 1
    ds = ray.data.from_items([{"path": p, "select": s} for p, s in tasks])
    ds = ds.map(_read, num_cpus=0, concurrency=2)  # I/O: never waits for an actor's CPU; two readers
    ds = ds.map_batches(PipelineActor, fn_constructor_args=(spec, max(1, cpus // n) if not gpus else 1),
                        batch_size=BATCH, concurrency=n, num_cpus=0 if gpus else max(1, cpus // n),
                        num_gpus=gpus or None, batch_format="numpy")
    yield from ds.iter_rows()


def ray_ingest(gallery: Gallery, items: list[SourceItem], address: str | None = None, actors: int = 0,
               gpus: float = 0, progress: bool = True, cache: EmbeddingCache | bool = True) -> IngestReport:
    """Add photos to ``gallery`` with Ray actors; same result and report as the default ingest."""
    ray = _ray()
    spec, dim = gallery.spec, gallery.dim
    rec = Recorder(gallery, items, progress, "ingest (ray)", cache)
    emb_cache = rec.cache
    started = False
    try:
        rest: list[tuple[str, str]] = []
        selects = dict(rec.todo)
        for path, select in rec.todo:  # cached photos need no cluster
            try:
                sha = file_sha256(path)
            except OSError as exc:
                rec.record(path, "", None, f"cannot read: {exc.strerror or exc}")
                continue
            hit = emb_cache.get(sha, signature(spec, select)) if emb_cache is not None else None
            if hit is not None:
                rec.record(path, sha, hit, "", cached=True)
            else:
                rest.append((path, select))
        if rest:
            if not ray.is_initialized():
                ray.init(address=address, include_dashboard=False, log_to_driver=False,
                         **({} if address else {"num_cpus": os.cpu_count() or 1, "runtime_env": _local_env()}))
                started = True
            for row in _results(ray, spec, rest, actors, gpus):
                photo = None if row["error"] else _photo(row, dim)
                if photo is not None and emb_cache is not None:
                    emb_cache.put(row["sha256"], signature(spec, selects[row["path"]]), photo)
                rec.record(row["path"], row["sha256"], photo, row["error"])
    except KeyboardInterrupt:
        rec.report.interrupted = True
    finally:
        rec.close()
        if started:
            ray.shutdown()
    return rec.report
