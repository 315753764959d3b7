"""The small real gallery the service, browser and reliability tests share (a plain module, not a conftest)."""

from __future__ import annotations

from pathlib import Path

from lookalike.gallery import SourceItem, lfw

#: Joseph Biden is in the gallery with his LFW photos; queries are other photos of him
PEOPLE = [
    "Joseph_Biden",
    "Aaron_Peirsol",
    "Abdullah_Gul",
    "Adrien_Brody",
    "Alejandro_Toledo",
    "Ali_Naimi",
    "Amelie_Mauresmo",
    "Andre_Agassi",
    "Angelina_Jolie",
    "Ann_Veneman",
]
PER_PERSON = 5


def gallery_items(lfw_root: Path) -> list[SourceItem]:
    """A few dozen LFW photos: at most five of each of ten people."""
    seen: dict[str, int] = {}
    out = []
    for it in lfw(lfw_root):
        if it.person in PEOPLE and seen.get(it.person, 0) < PER_PERSON:
            seen[it.person] = seen.get(it.person, 0) + 1
            out.append(it)
    return out
