"""Labelled folders with attributes: ``(person, attribute…)`` labels from file names or a CSV.

Two ways to label a folder of photos, nothing specific to one data set:

* a regular expression with named groups, searched in each photo's path relative to the folder
  (``/`` separators): the ``person`` group is required, every other named group is an attribute
  kind, e.g. ``(?P<person>[^/.]+)\\.(?P<expression>[a-z]+)\\.gif$``. A group that did not take part
  in the match leaves that attribute unset for the photo;
* a CSV with a header: a ``path`` column (relative to the CSV's folder or the folder given, or
  absolute), a ``person`` column, and one column per attribute kind (empty cell = unset).

Photos the pattern does not match are left out (and counted); a pattern that matches nothing, has no
``person`` group or does not compile is a :class:`~lookalike.errors.LabelPatternError`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lookalike.errors import LabelPatternError, UnknownLabelError
from lookalike.gallery.sources import IMAGE_SUFFIXES


@dataclass(frozen=True)
class LabelledPhoto:
    """One photo with its person and the attribute values it has (kind → value)."""

    path: Path
    person: str
    attributes: dict[str, str] = field(default_factory=dict, hash=False)


@dataclass
class LabelledSet:
    """The labelled photos of a folder, in path order, and how many photos no label matched."""

    photos: list[LabelledPhoto]
    unmatched: int = 0
    root: Path | None = None

    def __len__(self) -> int:
        return len(self.photos)

    @property
    def paths(self) -> list[str]:
        return [str(p.path) for p in self.photos]

    @property
    def people(self) -> list[str]:
        """The people, sorted."""
        return sorted({p.person for p in self.photos})

    @property
    def kinds(self) -> list[str]:
        """The attribute kinds some photo has, sorted."""
        return sorted({k for p in self.photos for k in p.attributes})

    def values(self, kind: str) -> list[str]:
        """The values of one attribute kind, sorted (an unknown kind is an :class:`UnknownLabelError`)."""
        self.check_kind(kind)
        return sorted({p.attributes[kind] for p in self.photos if kind in p.attributes})

    def check_person(self, person: str) -> None:
        if person not in {p.person for p in self.photos}:
            raise UnknownLabelError(f"no person {person!r} in the labelled folder; people: {_listing(self.people)}")

    def check_kind(self, kind: str) -> None:
        if kind not in self.kinds:
            raise UnknownLabelError(f"no attribute kind {kind!r} in the labelled folder; kinds: "
                                    f"{_listing(self.kinds) if self.kinds else '(none: the labels name people only)'}")

    def check_value(self, kind: str, value: str) -> None:
        values = self.values(kind)
        if value not in values:
            raise UnknownLabelError(f"no {kind} {value!r} in the labelled folder; {kind} values: {_listing(values)}")

    def with_kind(self, kind: str) -> LabelledSet:
        """Only the photos that have a value for ``kind``."""
        self.check_kind(kind)
        return LabelledSet([p for p in self.photos if kind in p.attributes], self.unmatched, self.root)

    def summary(self) -> dict[str, object]:
        return {"photos": len(self.photos), "unmatched": self.unmatched, "people": len(self.people),
                "attributes": {k: self.values(k) for k in self.kinds}}


def _listing(names: list[str], limit: int = 40) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The label pattern compiled; it must have a ``person`` named group."""
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise LabelPatternError(f"the label pattern {pattern!r} is not a valid regular expression: {e}") from None
    if "person" not in rx.groupindex:
        groups = ", ".join(rx.groupindex) or "none"
        raise LabelPatternError(f"the label pattern {pattern!r} needs a named group (?P<person>…) for the person "
                                f"(its named groups: {groups})")
    return rx


def _images(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def labels_from_names(root: str | Path, pattern: str) -> LabelledSet:
    """Labels of every photo under ``root`` whose relative path the pattern matches (``re.search``)."""
    rx = compile_pattern(pattern)
    root = Path(root).resolve()
    if not root.is_dir():
        raise LabelPatternError(f"no folder {root}")
    photos, unmatched = [], 0
    files = _images(root)
    for f in files:
        m = rx.search(f.relative_to(root).as_posix())
        if m is None or not m.group("person"):
            unmatched += 1
            continue
        attrs = {k: v for k, v in m.groupdict().items() if k != "person" and v}
        photos.append(LabelledPhoto(f, m.group("person"), attrs))
    if not photos:
        example = files[0].relative_to(root).as_posix() if files else "(no photos there)"
        raise LabelPatternError(f"the label pattern {pattern!r} matched none of the {len(files)} photos in {root} "
                                f"(e.g. {example!r}; the pattern is searched in the path relative to the folder)")
    return LabelledSet(photos, unmatched, root)


def labels_from_csv(csv_path: str | Path, root: str | Path | None = None) -> LabelledSet:
    """Labels from a CSV with ``path`` and ``person`` columns; every other column is an attribute kind."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise LabelPatternError(f"no label file {csv_path}")
    base = Path(root).resolve() if root else csv_path.resolve().parent
    with csv_path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        cols = [c.strip() for c in (reader.fieldnames or [])]
        missing = [c for c in ("path", "person") if c not in cols]
        if missing:
            raise LabelPatternError(f"{csv_path} needs the columns 'path' and 'person' (missing: {', '.join(missing)}; "
                                    f"columns found: {', '.join(cols) or 'none'})")
        photos = []
        for n, row in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            if not row["path"] or not row["person"]:
                raise LabelPatternError(f"{csv_path} line {n}: empty path or person")
            p = Path(row["path"])
            p = p if p.is_absolute() else base / p
            if not p.is_file():
                raise LabelPatternError(f"{csv_path} line {n}: no photo {p}")
            attrs = {k: v for k, v in row.items() if k not in ("path", "person") and k and v}
            photos.append(LabelledPhoto(p.resolve(), row["person"], attrs))
    if not photos:
        raise LabelPatternError(f"{csv_path} lists no photos")
    return LabelledSet(photos, 0, base)


def read_labels(root: str | Path | None = None, regex: str | None = None, csv_path: str | Path | None = None
                ) -> LabelledSet:
    """A labelled folder from exactly one of ``regex`` (with ``root``) or ``csv_path``."""
    if (regex is None) == (csv_path is None):
        raise LabelPatternError("give exactly one of a label pattern (--labels-regex) or a label file (--labels-csv)")
    if regex is not None:
        if root is None:
            raise LabelPatternError("a label pattern needs the folder of photos it labels")
        return labels_from_names(root, regex)
    return labels_from_csv(csv_path, root)  # type: ignore[arg-type]


def select(labels: LabelledSet, person: str | None = None, attributes: Iterable[tuple[str, str]] = ()
           ) -> list[int]:
    """Positions of the photos of ``person`` (any, if None) that have every ``(kind, value)``; names are
    checked first, so an unknown person, kind or value is an :class:`UnknownLabelError` listing what exists."""
    attributes = list(attributes)
    if person is not None:
        labels.check_person(person)
    for kind, value in attributes:
        labels.check_value(kind, value)
    return [i for i, p in enumerate(labels.photos)
            if (person is None or p.person == person) and all(p.attributes.get(k) == v for k, v in attributes)]
