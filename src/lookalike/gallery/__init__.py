"""Galleries: a SQLite store of faces and a vector index kept in step with it."""

from lookalike.gallery.gallery import Gallery, Neighbour
from lookalike.gallery.sources import (
    SourceItem,
    celeba,
    detect_source,
    folder_per_person,
    lfw,
    loose_photos,
    sample_people,
)

__all__ = [
    "Gallery", "Neighbour", "SourceItem", "celeba", "detect_source", "folder_per_person", "lfw",
    "loose_photos", "sample_people",
]
