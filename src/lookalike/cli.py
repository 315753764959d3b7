"""The ``lookalike`` command line (Typer + Rich).

Every command takes ``--gallery PATH`` (default: the per-user data folder); query commands take
``--json`` and print the same answer shape as the REST API. User errors (no face, unreadable image,
missing gallery, …) print one clear line and exit with status 1.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from lookalike.errors import LookalikeError

app = typer.Typer(
    name="lookalike",
    help="Which celebrities does this face look like? Build a gallery, then search it with a photo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

GalleryOpt = Annotated[
    Path | None, typer.Option("--gallery", "-g", help="Gallery folder (default: the per-user data folder).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON answer.")]
IndexUriOpt = Annotated[str | None, typer.Option(
    "--index-uri", help="Milvus server for the vectors, e.g. http://host:19530 (implies --index milvus; token "
                        "from LOOKALIKE_MILVUS_TOKEN). Without it, --index milvus uses Milvus Lite in the gallery.")]
F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """Turn a :class:`LookalikeError` into one red line (or a JSON error object) and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LookalikeError as e:
            if kwargs.get("as_json"):
                print(json.dumps({"error": {"type": type(e).__name__, "message": str(e)}}))
            else:
                err_console.print(f"[bold red]error:[/] {e}")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _gallery_path(gallery: Path | None) -> Path:
    from lookalike.settings import default_gallery

    return gallery or default_gallery()


PipelineOpt = Annotated[str | None, typer.Option(
    "--pipeline", help="Pipeline fields that differ from the default spec, e.g. 'padding=0.25,mirror=0' "
                       "(fields: detector, upsample, fallback, pick, landmarks, padding, mirror, jitter, embedder).")]


def _spec(pipeline: str | None, embedder: str | None = None, detector: str | None = None) -> Any:
    """The pipeline spec from the command line, or None for the gallery's own / the default."""
    if pipeline is None and embedder is None and detector is None:
        return None
    from lookalike.faces.spec import PipelineSpec, default_spec

    spec = PipelineSpec.parse(pipeline or "", default_spec(embedder))
    return spec if detector is None else PipelineSpec.parse(f"detector={detector}", spec)


@app.command()
@user_errors
def ingest(
    source: Annotated[str, typer.Argument(help="LFW folder, CelebA identity file, folder per person, photos, "
                                               "or a data set name such as 'lfw'.")],
    gallery: GalleryOpt = None,
    index: Annotated[str | None, typer.Option(help="Vector index (default: the gallery's own, hnsw for a new "
                                                   "one; `lookalike info --indexes` lists them).")] = None,
    embedder: Annotated[str | None, typer.Option(help="Face embedder key (default: fastest installed).")] = None,
    detector: Annotated[str | None, typer.Option(help="Face detector: hog (fast) or cnn (finds more, slow on CPU).")] = None,
    pipeline: PipelineOpt = None,
    workers: Annotated[int, typer.Option(help="Worker processes (0 = one per core).")] = 0,
    people: Annotated[int | None, typer.Option(help="Only a seeded random sample of this many people.")] = None,
    min_images: Annotated[int, typer.Option(help="Only people with at least this many photos.")] = 1,
    seed: Annotated[int, typer.Option(help="Seed of the --people sample.")] = 0,
    as_json: JsonOpt = False,
    index_uri: IndexUriOpt = None,
    ray: Annotated[bool, typer.Option(
        "--ray", help="Run the pipeline on Ray actors (a local Ray unless --ray-address); --workers sets "
                      "the number of actors.")] = False,
    ray_address: Annotated[str | None, typer.Option(
        "--ray-address", help="Ray cluster to join with --ray ('auto', 'ray://head:10001').")] = None,
) -> None:
    """Add the photos of a source to the gallery (resumable: stored photos are skipped)."""
    from lookalike.gallery.sources import sample_people
    from lookalike.usecases.ingest import build_gallery, resolve_source

    kind, items = resolve_source(source)
    items = sample_people(items, people, min_images, seed)
    if not as_json:
        err_console.print(f"[bold]{len(items)}[/] photos ({kind}) → {_gallery_path(gallery)}")
    rep = build_gallery(_gallery_path(gallery), items, index=index or ("milvus" if index_uri else None),
                        spec=_spec(pipeline, embedder, detector), workers=workers, progress=not as_json,
                        index_params={"uri": index_uri} if index_uri else None,
                        ray=(ray_address or "local") if ray or ray_address else None)
    summary = rep.summary()
    if as_json:
        print(json.dumps({**summary, "error_files": [{"path": p, "message": m} for p, m in rep.errors]}))
    else:
        console.print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in summary.items()))
        for path, msg in rep.errors[:10]:
            err_console.print(f"[yellow]skipped[/] {path}: {msg}")
        if len(rep.errors) > 10:
            err_console.print(f"[yellow]… and {len(rep.errors) - 10} more unreadable files[/]")
    if rep.interrupted:
        err_console.print("[yellow]interrupted — run the same command again to resume[/]")
        raise typer.Exit(130)


@app.command()
@user_errors
def search(
    photos: Annotated[list[Path], typer.Argument(
        help="Photos and folders to search with (folders: every image inside, recursively; every detected "
             "face of each photo is searched).")],
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=1000, help="Neighbours per face.")] = 10,
    gallery: GalleryOpt = None,
    exclude_self: Annotated[bool, typer.Option(help="Skip gallery faces from this very photo file.")] = False,
    as_json: JsonOpt = False,
    as_csv: Annotated[bool, typer.Option(
        "--csv", help="Print CSV: one row per photo × face × match (a photo that fails: one row with the error).")] = False,
) -> None:
    """Find the gallery faces most similar to each face in each PHOTO (files or folders).

    With several photos a photo without a face (or unreadable) is reported and the others go on; the
    exit status is 1 only when no photo could be searched."""
    if as_json and as_csv:
        raise LookalikeError("choose one of --json and --csv")
    if len(photos) == 1 and photos[0].is_file() and not as_csv:
        _search_one(photos[0], k, gallery, exclude_self, as_json)
        return
    _search_many(photos, k, gallery, exclude_self, as_json, as_csv)


def _search_one(photo: Path, k: int, gallery: Path | None, exclude_self: bool, as_json: bool) -> None:
    from lookalike.api import search as api_search

    matches = api_search(photo.resolve(), k=k, gallery=_gallery_path(gallery), exclude_self=exclude_self)
    if as_json:
        print(json.dumps({"faces": [m.as_dict() for m in matches]}))
        return
    _print_matches(matches)


def _print_matches(matches: list[Any], photo: Path | None = None) -> None:
    for m in matches:
        n, b = m.number, m.box
        where = f"{photo}: " if photo is not None else ""
        table = Table(title=f"{where}face {n} of {len(matches)} at ({b['left']}, {b['top']})–({b['right']}, "
                            f"{b['bottom']})", title_justify="left")
        table.add_column("rank", justify="right")
        table.add_column("person")
        table.add_column("distance", justify="right")
        table.add_column("similarity", justify="right")
        table.add_column("image", overflow="fold")
        for nb in m.neighbours:
            table.add_row(str(nb.rank), nb.person or "—", f"{nb.distance:.3f}", f"{nb.similarity:.0f}%", nb.image)
        console.print(table)


def _search_many(paths: list[Path], k: int, gallery: Path | None, exclude_self: bool, as_json: bool,
                 as_csv: bool) -> None:
    import csv

    from lookalike.api import open_gallery
    from lookalike.usecases.search_many import CSV_FIELDS, csv_rows, expand_photos, search_many

    photos = expand_photos(paths)
    searched = 0
    writer = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, lineterminator="\n") if as_csv else None
    if writer is not None:
        writer.writeheader()
    answers = []
    with open_gallery(_gallery_path(gallery), create=False) as g:
        for res in search_many(g, photos, k, exclude_self=exclude_self):
            searched += res.error is None
            if writer is not None:
                writer.writerows(csv_rows(res))
            elif as_json:
                answers.append(res.as_dict())
            elif res.error is not None:
                err_console.print(f"[bold red]{res.photo}:[/] {res.error}")
            else:
                assert res.matches is not None
                _print_matches(res.matches.faces, res.photo)
    if as_json:
        print(json.dumps({"photos": answers}))
    if not searched:
        raise typer.Exit(1)


@app.command()
@user_errors
def info(
    gallery: GalleryOpt = None,
    indexes: Annotated[bool, typer.Option("--indexes", help="List the vector indexes that can be used.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show what a gallery holds: people, photos, faces, model and index."""
    if indexes:
        from lookalike.index import available_indexes

        names = available_indexes()
        print(json.dumps({"indexes": names}) if as_json else "\n".join(names))
        return
    from lookalike.api import info as api_info

    data = api_info(_gallery_path(gallery))
    if as_json:
        print(json.dumps(data))
        return
    table = Table(show_header=False)
    for key, value in data.items():
        table.add_row(key.replace("_", " "), json.dumps(value) if isinstance(value, (dict, list)) else str(value))
    console.print(table)


@app.command()
@user_errors
def remove(
    face_ids: Annotated[list[int] | None, typer.Argument(help="Face ids to remove (see `search --json`).")] = None,
    person: Annotated[str | None, typer.Option(help="Remove every face of this person.")] = None,
    gallery: GalleryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove faces by id, or every face of a person, from the store and the index."""
    from lookalike.api import remove as api_remove

    gone = api_remove(face_ids, person, _gallery_path(gallery))
    missing = sorted(set(face_ids or []) - set(gone))
    if as_json:
        print(json.dumps({"removed": gone, "not_found": missing}))
        return
    console.print(f"removed {len(gone)} face(s)" + (f"; not found: {missing}" if missing else ""))


@app.command()
@user_errors
def fetch(
    dataset: Annotated[str, typer.Argument(help="Data set to download: lfw or celeba.")],
    dest: Annotated[Path | None, typer.Option(help="Target folder (default: the data-set cache).")] = None,
) -> None:
    """Download a public data set from its home (checksummed, cached, resumable)."""
    from tqdm import tqdm

    from lookalike.fetch import fetch as do_fetch
    from lookalike.settings import cache_dir

    bars: dict[str, tqdm] = {}

    def progress(name: str) -> Callable[[int, int | None], None]:
        def update(done: int, total: int | None) -> None:
            bar = bars.setdefault(name, tqdm(total=total, desc=name, unit="B", unit_scale=True))
            bar.update(done - bar.n)

        return update

    target = dest or cache_dir() / "datasets" / dataset
    try:
        path = do_fetch(dataset, target, progress)
    finally:
        for bar in bars.values():
            bar.close()
    console.print(f"ready: [bold]lookalike ingest {path}[/]")


AllowOpenOpt = Annotated[bool, typer.Option(
    "--allow-open", help="Listen beyond this machine without LOOKALIKE_API_TOKEN on purpose.")]
AllowedHostOpt = Annotated[list[str] | None, typer.Option(
    "--allowed-host", help="Host name the service answers to besides IP addresses and localhost (repeatable).")]


@app.command()
@user_errors
def serve(
    gallery: GalleryOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on (default: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the web page and REST API.")] = 8000,
    index_url: Annotated[str | None, typer.Option(
        help="Two-service mode: URL of a running `lookalike serve-index`.")] = None,
    allow_open: AllowOpenOpt = False,
    allowed_host: AllowedHostOpt = None,
    index_uri: IndexUriOpt = None,
) -> None:
    """Serve the look-alike web page and REST API (API docs at /docs)."""
    from lookalike.service.run import serve as run_serve

    if index_uri:  # point the gallery at this Milvus server (checked now: unreachable → one clear error)
        from lookalike.gallery.gallery import Gallery

        Gallery.open(_gallery_path(gallery), index="milvus", create=False, uri=index_uri).close()

    run_serve(_gallery_path(gallery), host=host, port=port, index_url=index_url, allow_open=allow_open,
              allowed_hosts=tuple(allowed_host or ()))


@app.command("serve-index")
@user_errors
def serve_index(
    gallery: GalleryOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on (default: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the index service.")] = 8001,
    allow_open: AllowOpenOpt = False,
    allowed_host: AllowedHostOpt = None,
) -> None:
    """Serve only the gallery's vector index (vectors in, ids and distances out) for two-service mode."""
    from lookalike.service.run import serve_index as run_serve_index

    run_serve_index(_gallery_path(gallery), host=host, port=port, allow_open=allow_open,
                    allowed_hosts=tuple(allowed_host or ()))


@app.command()
@user_errors
def identify(
    photo: Annotated[Path, typer.Argument(help="Photo whose faces to identify.")],
    gallery: GalleryOpt = None,
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=100, help="Neighbours that vote.")] = 5,
    threshold: Annotated[float | None, typer.Option(help="Same-person distance (default: the gallery's).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Who is each face in PHOTO — or "unknown" when nobody in the gallery is near enough."""
    from lookalike.api import identify as api_identify

    answer = api_identify(photo.resolve(), k=k, gallery=_gallery_path(gallery), threshold=threshold)
    if as_json:
        print(json.dumps(answer))
        return
    table = Table(title=f"threshold {answer['threshold']:.3f}", title_justify="left")
    for col in ("face", "box", "person", "distance", "similarity", "votes"):
        table.add_column(col)
    for f in answer["faces"]:
        b = f["box"]
        table.add_row(str(f["number"]), f"({b['left']}, {b['top']})–({b['right']}, {b['bottom']})",
                      f["person"] or "[yellow]unknown[/]", f"{f['distance']:.3f}", f"{f['similarity']:.0f}%",
                      str(f["votes"]))
    console.print(table)


@app.command()
@user_errors
def verify(
    photo_a: Annotated[Path, typer.Argument(help="First photo (its largest face).")],
    photo_b: Annotated[Path, typer.Argument(help="Second photo (its largest face).")],
    gallery: Annotated[Path | None, typer.Option("--gallery", "-g",
                                                    help="Use this gallery's model and calibrated threshold.")] = None,
    threshold: Annotated[float | None, typer.Option(help="Same-person distance (default: calibrated or 0.6).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Are the people in two photos the same person?"""
    from lookalike.api import verify as api_verify

    answer = api_verify(photo_a.resolve(), photo_b.resolve(), threshold=threshold, gallery=gallery)
    if as_json:
        print(json.dumps(answer))
        return
    verdict = "[green]same person[/]" if answer["same"] else "[red]different people[/]"
    console.print(f"{verdict}: distance {answer['distance']:.3f} (threshold {answer['threshold']:.3f}), "
                  f"similarity {answer['similarity']:.0f}%")


@app.command()
@user_errors
def calibrate(
    gallery: GalleryOpt = None,
    target_far: Annotated[float, typer.Option(help="False-accept rate to aim for.")] = 1e-3,
    lfw: Annotated[Path | None, typer.Option(help="Calibrate on LFW's pairs.txt in this folder instead "
                                                     "of the gallery's own labelled faces.")] = None,
    save: Annotated[bool, typer.Option(help="Store the threshold in the gallery.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Measure the same-person threshold for a target false-accept rate and store it with the gallery."""
    from lookalike.api import open_gallery
    from lookalike.usecases.calibrate import calibrate_gallery, calibrate_on_lfw

    with open_gallery(_gallery_path(gallery), create=False) as g:
        cal = (calibrate_gallery(g, target_far, save=save) if lfw is None
               else calibrate_on_lfw(g, lfw, target_far, save=save))
    answer = {**cal.as_dict(), "saved": save}
    if as_json:
        print(json.dumps(answer))
        return
    console.print(", ".join(f"{k}: {v}" for k, v in answer.items()))


@app.command()
@user_errors
def migrate(
    gallery: GalleryOpt = None,
    pipeline: PipelineOpt = None,
    workers: Annotated[int, typer.Option(help="Worker processes (0 = one per core).")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Re-embed a gallery's photos with today's default pipeline (or --pipeline): resumable; the old
    gallery is kept beside it until you delete it."""
    from lookalike.usecases.migrate import migrate as run_migrate

    result = run_migrate(_gallery_path(gallery), _spec(pipeline), workers=workers, progress=not as_json)
    if as_json:
        print(json.dumps(result.as_dict()))
    elif result.report is None:
        console.print(f"nothing to do: the gallery already uses pipeline {result.new_key}")
    elif result.kept_at is None:
        err_console.print("[yellow]interrupted — run the same command again to resume[/]")
        raise typer.Exit(130)
    else:
        console.print(f"migrated {result.old_key} → {result.new_key}; the old gallery is kept at {result.kept_at}")


@app.command("eval")
@user_errors
def evaluate(
    embedder: Annotated[str | None, typer.Option(help="Embedder key(s), comma-separated (default: the default "
                                                      "pipeline's); several give one comparison table.")] = None,
    index: Annotated[str, typer.Option(help="Index name(s), comma-separated.")] = "exact",
    protocols: Annotated[list[str] | None, typer.Option(
        "--protocol", "--dataset", help="Protocols to run (repeatable) (default: all; "
                                        "`lookalike eval --list` names them).")] = None,
    pipeline: PipelineOpt = None,
    out: Annotated[Path, typer.Option(help="Folder for the JSON + Markdown report and plots.")] = Path("eval-report"),
    list_protocols: Annotated[bool, typer.Option("--list", help="List the protocols and exit.")] = False,
) -> None:
    """Run the evaluation protocols (LFW 10-fold, retrieval, open set, features) on the default pipeline
    (or the one given) and write a report."""
    from lookalike.evaluation.protocols import available_protocols
    from lookalike.evaluation.report import run_eval

    if list_protocols:
        for name, summary in available_protocols().items():
            console.print(f"[bold]{name}[/]: {summary}")
        return
    keys = [e.strip() for e in embedder.split(",")] if embedder else [None]
    specs = [_spec(pipeline, key) or _default_spec() for key in keys]
    run_eval(specs, [i.strip() for i in index.split(",")], protocols, out)
    console.print(f"report written to [bold]{out}[/]")


def _default_spec() -> Any:
    from lookalike.faces.spec import default_spec

    return default_spec()


# ------------------------------------------------------------------------------------------ clusters
cluster_app = typer.Typer(help="Group the gallery's faces by person: cluster, browse, name, merge, split, undo.",
                          no_args_is_help=True)
app.add_typer(cluster_app, name="cluster")


def _clusters_out(rows: list[Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"clusters": [r.as_dict() for r in rows]}))
        return
    table = Table()
    for col in ("cluster", "name", "faces", "representative", "face ids"):
        table.add_column(col)
    for r in rows:
        shown = ", ".join(map(str, r.faces[:12])) + (" …" if r.size > len(r.faces[:12]) else "")
        table.add_row(str(r.cluster_id), r.name or "—", str(r.size), str(r.representative), shown)
    console.print(table)


@cluster_app.command("run")
@user_errors
def cluster_run(
    photos: Annotated[Path | None, typer.Argument(help="A folder of unlabelled photos to add first (every face).")] = None,
    gallery: GalleryOpt = None,
    full: Annotated[bool, typer.Option("--full", help="Re-cluster every face (names survive).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Cluster the gallery's faces not yet in a cluster (the first run, or --full, clusters them all)."""
    from lookalike.api import build_gallery, open_gallery
    from lookalike.gallery.sources import loose_photos
    from lookalike.usecases.cluster import cluster_faces

    if photos is not None:
        build_gallery(loose_photos(photos), _gallery_path(gallery), progress=not as_json)
    with open_gallery(_gallery_path(gallery), create=False) as g:
        run = cluster_faces(g, full=full)
    print(json.dumps(run.as_dict())) if as_json else console.print(
        ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in run.as_dict().items()))


@cluster_app.command("list")
@user_errors
def cluster_list(
    gallery: GalleryOpt = None,
    min_size: Annotated[int, typer.Option(help="Only clusters of at least this many faces.")] = 1,
    limit: Annotated[int, typer.Option(help="At most this many clusters.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Clusters, named first, then the largest first."""
    from lookalike.api import open_gallery
    from lookalike.usecases.cluster import list_clusters

    with open_gallery(_gallery_path(gallery), create=False) as g:
        _clusters_out(list_clusters(g, min_size, limit), as_json)


@cluster_app.command("show")
@user_errors
def cluster_show(cluster_id: int, gallery: GalleryOpt = None, as_json: JsonOpt = False) -> None:
    """One cluster with all its faces."""
    from lookalike.api import open_gallery
    from lookalike.usecases.cluster import show_cluster

    with open_gallery(_gallery_path(gallery), create=False) as g:
        _clusters_out([show_cluster(g, cluster_id)], as_json)


@cluster_app.command("name")
@user_errors
def cluster_name(cluster_id: int, name: str, gallery: GalleryOpt = None, as_json: JsonOpt = False) -> None:
    """Name a cluster: its faces become that person of the gallery."""
    from lookalike.api import open_gallery
    from lookalike.usecases.cluster import name_cluster

    with open_gallery(_gallery_path(gallery), create=False) as g:
        _clusters_out([name_cluster(g, cluster_id, name)], as_json)


@cluster_app.command("merge")
@user_errors
def cluster_merge(cluster_ids: list[int], gallery: GalleryOpt = None, as_json: JsonOpt = False) -> None:
    """Merge clusters into the first one (undo with `lookalike cluster undo`)."""
    from lookalike.api import open_gallery
    from lookalike.usecases.cluster import merge_clusters

    with open_gallery(_gallery_path(gallery), create=False) as g:
        _clusters_out([merge_clusters(g, cluster_ids)], as_json)


@cluster_app.command("split")
@user_errors
def cluster_split(face_ids: list[int], gallery: GalleryOpt = None, as_json: JsonOpt = False) -> None:
    """Move faces of one cluster into a new cluster of their own."""
    from lookalike.api import open_gallery
    from lookalike.usecases.cluster import split_faces

    with open_gallery(_gallery_path(gallery), create=False) as g:
        _clusters_out([split_faces(g, face_ids)], as_json)


@cluster_app.command("undo")
@user_errors
def cluster_undo(gallery: GalleryOpt = None, as_json: JsonOpt = False) -> None:
    """Undo the last merge."""
    from lookalike.api import open_gallery
    from lookalike.usecases.cluster import undo_merge

    with open_gallery(_gallery_path(gallery), create=False) as g:
        out = undo_merge(g)
    print(json.dumps(out)) if as_json else console.print(f"restored clusters {out['restored']} from {out['target']}")


@app.command()
@user_errors
def train(
    key: Annotated[str, typer.Argument(help="Key to save the model under (then --embedder KEY elsewhere).")],
    arch: Annotated[str, typer.Option(help="linear | mlp (heads on dlib descriptors), cnn (from scratch), "
                                           "resnet-ft (dlib ResNet, last stage fine-tuned).")] = "linear",
    dim: Annotated[int, typer.Option(help="Output dimensions (heads and cnn; resnet-ft keeps 128).")] = 32,
    loss: Annotated[str, typer.Option(help="contrastive, triplet-batch-hard, triplet-semihard, multi-similarity, "
                                           "arcface, cosface, subcenter-arcface, quadruplet.")] = "multi-similarity",
    epochs: Annotated[int, typer.Option(min=1)] = 12,
    p: Annotated[int, typer.Option("--p", help="Identities per batch (P).")] = 32,
    k: Annotated[int, typer.Option("--k", help="Photos per identity (K).")] = 4,
    lr: Annotated[float, typer.Option(help="Learning rate (AdamW).")] = 2e-3,
    seed: Annotated[int, typer.Option()] = 0,
    init: Annotated[str, typer.Option(help="random | pca (heads start as the PCA projection).")] = "pca",
    holdout: Annotated[int | None, typer.Option(help="LFW View 2 fold (0-9) kept out and scored; "
                                                       "-1 trains on all of LFW.")] = 0,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda.")] = "auto",
    resume: Annotated[bool, typer.Option(help="Continue from the last epoch's checkpoint.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Train a face-embedding model with metric learning on LFW and save it as an embedder."""
    from lookalike.evaluation.protocols.lfw_folds import LfwFoldScorer
    from lookalike.settings import datasets_dir
    from lookalike.training.loop import TrainConfig
    from lookalike.usecases.train import TrainRequest, train_model

    cfg = TrainConfig(arch=arch, dim=dim, loss=loss, epochs=epochs, p=p, k=k, lr=lr, seed=seed, device=device,
                      init=init if arch in ("linear", "mlp") else "random", flip=arch == "cnn")
    card = train_model(TrainRequest(key, cfg, None if holdout == -1 else holdout, resume), progress=not as_json,
                       scorer=LfwFoldScorer(datasets_dir() / "lfw"))
    if as_json:
        print(json.dumps(card))
        return
    fold = card["metrics"].get(f"lfw_fold_{holdout}")
    if fold:
        console.print(f"held-out fold {holdout}: accuracy {100 * fold['accuracy']:.2f}%, "
                      f"TAR@FAR=1e-3 {100 * fold['tar_at_far_1e-3']:.2f}%, rank-1 {100 * fold['rank1']:.2f}%, "
                      f"mAP {fold['map']:.4f}")
    console.print(f"saved [bold]{key}[/] ({card['architecture']['arch']}, {card['architecture']['dim']}-d) to "
                  f"{card['folder']}; curves: {card['curves']}")


# ------------------------------------------------------------------------------------------ compose
@app.command()
@user_errors
def compose(
    folder: Annotated[Path, typer.Argument(help="Folder of labelled photos (searched recursively).")],
    person: Annotated[str | None, typer.Option(help="Like this person (a label of the folder).")] = None,
    attribute: Annotated[list[str] | None, typer.Option(
        "--attribute", "-a", help="KIND=VALUE, e.g. expression=happy (repeatable, one per kind).")] = None,
    plus: Annotated[list[Path] | None, typer.Option(help="Photo whose face vectors are added (repeatable).")] = None,
    minus: Annotated[list[Path] | None, typer.Option(help="Photo whose face vectors are subtracted (repeatable).")] = None,
    labels_regex: Annotated[str | None, typer.Option(
        help="Regex with named groups over each photo's path in FOLDER: (?P<person>…) required, every other "
             "named group an attribute kind, e.g. '(?P<person>[^/.]+)\\.(?P<expression>[a-z]+)\\.'.")] = None,
    labels_csv: Annotated[Path | None, typer.Option(
        help="CSV with path, person and one column per attribute kind (paths relative to FOLDER).")] = None,
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=1000, help="Photos to return.")] = 10,
    index: Annotated[str, typer.Option(help="Index to search with (hnsw, ngt, exact, …).")] = "hnsw",
    rule: Annotated[str, typer.Option(help="Prototype rule: median (the source's) or mean.")] = "median",
    as_json: JsonOpt = False,
) -> None:
    """Photos of a labelled folder like PERSON but with an attribute value ("like P, but happy")."""
    from lookalike.gallery.labels import read_labels
    from lookalike.usecases.compose import ComposeQuery, ComposeSpace, parse_attributes
    from lookalike.usecases.compose import compose as run_compose

    labels = read_labels(folder, labels_regex, labels_csv)
    query = ComposeQuery(person, parse_attributes(attribute or []), [str(p) for p in plus or []],
                         [str(p) for p in minus or []], k, index)
    answer = run_compose(ComposeSpace(labels, rule=rule), query)
    if as_json:
        print(json.dumps(answer))
        return
    q = answer["query"]
    title = f"like {q['person'] or 'the plus photos'}" + "".join(f", {kk}={v}" for kk, v in q["attributes"].items())
    table = Table(title=f"{title} (weights {q['weights']}, index {q['index']})", title_justify="left")
    for col in ("rank", "person", "attributes", "distance", "image"):
        table.add_column(col, justify="right" if col in ("rank", "distance") else "left",
                         overflow="fold" if col == "image" else "ellipsis")
    for n in answer["neighbours"]:
        attrs = ", ".join(f"{kk}={v}" for kk, v in n["attributes"].items())
        table.add_row(str(n["rank"]), n["person"], attrs, f"{n['distance']:.3f}", n["image"])
    console.print(table)


def main() -> None:  # pragma: no cover - console-script entry point
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()

