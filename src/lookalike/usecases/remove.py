"""Remove faces from a gallery: by id, or every face of a person."""

from __future__ import annotations

from lookalike.errors import LookalikeError
from lookalike.gallery.gallery import Gallery


def check_request(face_ids: list[int] | None, person: str | None) -> None:
    """Refuse a removal that names nothing (before any gallery is opened)."""
    if not face_ids and not person:
        raise LookalikeError("say what to remove: face ids, or a person's name (--person NAME)")


def remove(gallery: Gallery, face_ids: list[int] | None = None, person: str | None = None) -> list[int]:
    """Remove faces by id and/or every face of a person from the store and the index; returns the removed ids."""
    check_request(face_ids, person)
    gone = gallery.remove_faces(list(face_ids or []))
    if person:
        gone += gallery.remove_person(person)
    return gone
