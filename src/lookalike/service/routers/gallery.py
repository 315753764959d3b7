"""Gallery endpoints: enrol photos of a person, delete a face, list people, face thumbnails and photos."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, File, Form, Header, Path, Query, Response, UploadFile

from lookalike.errors import LookalikeError
from lookalike.gallery.browse import cover_faces
from lookalike.service.config import MAX_ENROL_FILES
from lookalike.service.http_errors import NotFoundError
from lookalike.service.schemas import EnrolOut, PeopleOut, RemovedOut
from lookalike.service.security import check_write_token
from lookalike.service.state import ServiceState, get_state
from lookalike.service.uploads import read_upload
from lookalike.usecases.enrol import MAX_NAME, clean_name
from lookalike.usecases.enrol import enrol as enrol_photos

router = APIRouter(prefix="/api/gallery", tags=["gallery"])
State = Annotated[ServiceState, Depends(get_state)]
FaceId = Annotated[int, Path(ge=1, le=2**62, description="a face id from a search answer")]
#: browsers may keep gallery pictures for an hour (a face id's picture changes only if it is deleted)
PICTURE_CACHE = "private, max-age=3600"


def require_writer(state: State, authorization: Annotated[str | None, Header()] = None) -> None:
    """Dependency of write endpoints: the API token when one is configured."""
    check_write_token(state.config.token, authorization)


@router.post("/faces", response_model=EnrolOut, status_code=201, dependencies=[Depends(require_writer)])
async def enrol(
    response: Response,
    state: State,
    person: Annotated[str, Form(description="the person's name")],
    files: Annotated[
        list[UploadFile], File(description="photos of the person (the face nearest the centre is kept)")
    ],
) -> dict[str, Any]:
    """Add photos of a person to the gallery. Each photo gives the face nearest its centre; photos
    already in the gallery (same content) are skipped. Needs the API token when one is configured."""
    if len(files) > MAX_ENROL_FILES:
        raise LookalikeError(f"send at most {MAX_ENROL_FILES} photos per request")
    name = clean_name(person)
    datas = [
        (f.filename or f"photo {i + 1}", await read_upload(f, state.config.max_bytes))
        for i, f in enumerate(files)
    ]
    c = state.config
    result = await state.run(lambda: enrol_photos(state.gallery, name, datas, max_bytes=c.max_bytes,
                                                  max_pixels=c.max_pixels))
    if not result.added and result.failures:
        raise result.failures[0]
    if not result.added:
        response.status_code = 200
    return result.as_dict()


@router.delete("/faces/{face_id}", response_model=RemovedOut, dependencies=[Depends(require_writer)])
async def delete_face(face_id: FaceId, state: State) -> dict[str, list[Any]]:
    """Remove one face from the store and the index, with what only it used: its photo once no
    face of it is left, and its person once they have no face left (listed in ``people_removed``).
    Face ids are never reused. Needs the API token when one is configured."""
    r = await state.run(state.gallery.delete_faces, [face_id])
    if not r.face_ids:
        raise NotFoundError(f"there is no face {face_id} in the gallery")
    return {"removed": r.face_ids, "people_removed": r.people}


@router.get("/people", response_model=PeopleOut)
async def people(
    state: State,
    q: Annotated[str | None, Query(max_length=MAX_NAME, description="only names containing this")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """People in the gallery with their numbers of photos and faces and one face id (for a thumbnail), by name."""
    rows = await anyio.to_thread.run_sync(state.gallery.store.people)
    covers = await anyio.to_thread.run_sync(cover_faces, state.gallery.store)
    if q:
        needle = q.casefold()
        rows = [r for r in rows if needle in r[0].casefold()]
    page = rows[offset : offset + limit]
    return {
        "total": len(rows),
        "offset": offset,
        "people": [{"name": n, "images": i, "faces": f, "face_id": covers.get(n)} for n, i, f in page],
    }


@router.get(
    "/faces/{face_id}/thumbnail", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}}
)
async def thumbnail(face_id: FaceId, state: State) -> Response:
    """The gallery face's aligned 150×150 chip (JPEG)."""
    data = await anyio.to_thread.run_sync(state.pictures.thumbnail, face_id)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": PICTURE_CACHE})


@router.get(
    "/faces/{face_id}/image", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}}
)
async def image(face_id: FaceId, state: State) -> Response:
    """The whole gallery photo the face comes from (JPEG, longest side at most 1280 px)."""
    data = await anyio.to_thread.run_sync(state.pictures.photo, face_id)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": PICTURE_CACHE})
