"""Migrate: re-embed a gallery's stored photos under another pipeline spec (by default today's default).

The new gallery is built beside the old one (``<gallery>.migrating``) by the ordinary ingest —
resumable, with progress, reusing cached vectors — from the photos and names the old store records
(enrolled photos are copied along from ``uploads/``). When it is complete the two folders are
swapped: the old gallery stays as ``<gallery>.before-<old key>`` until the user deletes it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from lookalike.errors import LookalikeError
from lookalike.faces.spec import PipelineSpec, default_spec
from lookalike.gallery.gallery import Gallery
from lookalike.gallery.ingest import IngestReport, ingest
from lookalike.gallery.sources import SourceItem
from lookalike.usecases.enrol import UPLOADS_DIR


@dataclass
class Migration:
    old_key: str
    new_key: str
    kept_at: Path | None  # where the old gallery now is (None when nothing needed doing)
    report: IngestReport | None

    def as_dict(self) -> dict[str, object]:
        rep = self.report.summary() if self.report else None
        return {"old_pipeline": self.old_key, "new_pipeline": self.new_key,
                "old_gallery_kept_at": str(self.kept_at) if self.kept_at else None, "ingest": rep}


def migrate(root: str | Path, spec: PipelineSpec | None = None, workers: int = 0, progress: bool = True) -> Migration:
    """Re-embed the gallery at ``root`` under ``spec``; see the module docstring."""
    root = Path(root).expanduser()
    target = spec or default_spec()
    with Gallery.open(root, create=False) as old:
        if old.spec.key == target.key:
            return Migration(old.spec.key, target.key, None, None)
        old_key = old.spec.key
        people = {path: person for path, person in _photos(old)}
        index = old.index_name
    work = root.with_name(root.name + ".migrating")
    uploads = root / UPLOADS_DIR
    if uploads.is_dir():
        shutil.copytree(uploads, work / UPLOADS_DIR, dirs_exist_ok=True)
    items = [SourceItem(_moved(Path(p), root, work), person) for p, person in people.items()]
    with Gallery.open(work, index=index, spec=target) as new:
        report = ingest(new, items, workers=workers, progress=progress)
    if report.interrupted:
        return Migration(old_key, target.key, None, report)  # run again to resume
    kept = root.with_name(f"{root.name}.before-{old_key}")
    if kept.exists():
        raise LookalikeError(f"{kept} exists; move it away and run the migration again")
    root.rename(kept)
    work.rename(root)
    with Gallery.open(root, create=False) as new, new.store.transaction() as db:  # enrolled photos moved too
        db.execute("UPDATE images SET path = ? || substr(path, ?) WHERE path LIKE ?",
                   (str(root), len(str(work)) + 1, f"{work}/%"))
    return Migration(old_key, target.key, kept, report)


def _photos(gallery: Gallery) -> list[tuple[str, str | None]]:
    """(path, person) of every stored photo, whether or not a face was found in it."""
    with gallery.store.transaction() as db:
        rows = db.execute("SELECT i.path, p.name FROM images i LEFT JOIN people p ON p.id = i.person_id").fetchall()
    return [(str(path), name) for path, name in rows]


def _moved(path: Path, old_root: Path, new_root: Path) -> Path:
    """Enrolled photos live inside the gallery folder: they move with the migration."""
    try:
        return new_root / path.relative_to(old_root)
    except ValueError:
        return path
