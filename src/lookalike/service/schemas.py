"""Public answer shapes of the REST API (also the OpenAPI schema at /docs).

The search answer keeps the CLI's ``--json`` shape (``faces[].box``, ``faces[].neighbours[]`` with
rank, face_id, person, distance, similarity, image) and adds what a browser needs: the face's number
as drawn on the page and URLs of the gallery face's thumbnail and photo. ``image`` is the photo's
file name only: server paths are not shown to web clients.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from pydantic import BaseModel, Field

from lookalike.gallery.gallery import Neighbour


class BoxOut(BaseModel):
    left: int
    top: int
    right: int
    bottom: int


class NeighbourOut(BaseModel):
    rank: int
    face_id: int
    person: str | None
    distance: float
    similarity: float = Field(description="percent; 50 at the gallery's same-person threshold")
    image: str = Field(description="file name of the gallery photo")
    thumbnail_url: str
    image_url: str


class FaceOut(BaseModel):
    number: int | None = Field(description="1 = largest face of the photo, as numbered on the page")
    box: BoxOut | None
    neighbours: list[NeighbourOut]


class SearchOut(BaseModel):
    width: int | None = None
    height: int | None = None
    face_count: int = Field(description="faces detected in the photo (all of them, selected or not)")
    faces: list[FaceOut]


class IdentityOut(BaseModel):
    number: int
    box: BoxOut
    person: str | None = Field(description="null when nobody in the gallery is near enough")
    known: bool
    distance: float | None = Field(description="to the nearest gallery face; null for an empty gallery")
    similarity: float
    votes: int
    neighbours: list[NeighbourOut]


class IdentifyOut(BaseModel):
    width: int
    height: int
    face_count: int
    threshold: float
    faces: list[IdentityOut]


class VerifyOut(BaseModel):
    same: bool
    distance: float
    threshold: float
    similarity: float
    box_a: BoxOut
    box_b: BoxOut


class EnrolledFace(BaseModel):
    file: str
    face_id: int
    box: BoxOut


class SkippedFile(BaseModel):
    file: str
    reason: str


class EnrolOut(BaseModel):
    person: str
    added: list[EnrolledFace]
    skipped: list[SkippedFile]


class RemovedOut(BaseModel):
    removed: list[int]
    people_removed: list[str] = Field(
        default_factory=list, description="people deleted because they have no face left"
    )


class PersonOut(BaseModel):
    name: str
    images: int
    faces: int
    face_id: int | None = Field(None, description="one of the person's faces, for a thumbnail")


class PersonFaceOut(BaseModel):
    face_id: int
    image: str
    box: BoxOut
    thumbnail_url: str
    image_url: str


class PersonFacesOut(BaseModel):
    name: str
    faces: list[PersonFaceOut]


class PeopleOut(BaseModel):
    total: int
    offset: int
    people: list[PersonOut]


class HealthOut(BaseModel):
    status: str
    mode: str
    people: int
    faces: int
    indexed: int | None
    embedder: str | None
    index: str
    threshold: float
    detail: str | None = None


class VectorQuery(BaseModel):
    """JSON body of ``POST /api/search``: one vector or several, from the gallery's embedder."""

    vector: list[float] | None = None
    vectors: list[list[float]] | None = Field(None, max_length=100)
    k: int = Field(10, ge=1, le=100)


def neighbour_out(n: Neighbour) -> dict[str, Any]:
    """A gallery neighbour as the web sees it."""
    return {
        "rank": n.rank,
        "face_id": n.face_id,
        "person": n.person,
        "distance": round(n.distance, 6),
        "similarity": round(n.similarity, 2),
        "image": PurePath(n.image).name,
        "thumbnail_url": f"/api/gallery/faces/{n.face_id}/thumbnail",
        "image_url": f"/api/gallery/faces/{n.face_id}/image",
    }
