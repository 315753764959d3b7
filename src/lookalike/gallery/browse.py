"""Read-only views of the gallery for browsing it: one face per person (a cover picture) and a
person's faces."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from lookalike.gallery.store import Store


@dataclass(frozen=True)
class PersonFace:
    """One stored face of a person: its id, the photo it comes from and its box in that photo."""

    face_id: int
    image: str
    box: tuple[int, int, int, int]


def cover_faces(store: Store) -> dict[str, int]:
    """The first (lowest-id) face of each person who has one, by name."""
    rows = store.query(
        "SELECT p.name, MIN(f.id) FROM faces f JOIN people p ON p.id = f.person_id GROUP BY p.id"
    )
    return {name: int(fid) for name, fid in rows}


def person_faces(store: Store, name: str) -> list[PersonFace] | None:
    """The faces of the person called ``name`` in id order, or None when there is no such person."""
    if not store.query("SELECT 1 FROM people WHERE name = ?", (name,)):
        return None
    rows = store.query(
        "SELECT f.id, i.path, f.left, f.top, f.right, f.bottom FROM faces f JOIN people p ON p.id = f.person_id "
        "JOIN images i ON i.id = f.image_id WHERE p.name = ? ORDER BY f.id",
        (name,),
    )
    return [PersonFace(int(fid), PurePath(path).name, (left, top, right, bottom))
            for fid, path, left, top, right, bottom in rows]
