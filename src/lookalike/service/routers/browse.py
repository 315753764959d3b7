"""Endpoints the page needs to show things: a preview of an uploaded photo in a format every browser
shows (TIFF, PGM, … decoded by the server's own reader) and a person's faces."""

from __future__ import annotations

import io
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, File, Path, Response, UploadFile
from PIL import Image

from lookalike.faces.image import decode_image
from lookalike.gallery.browse import person_faces
from lookalike.service.http_errors import NotFoundError
from lookalike.service.schemas import PersonFacesOut
from lookalike.service.state import ServiceState, get_state
from lookalike.service.uploads import read_upload
from lookalike.usecases.enrol import MAX_NAME

router = APIRouter(prefix="/api", tags=["page"])
State = Annotated[ServiceState, Depends(get_state)]
#: longest side of a preview; the page scales boxes by the original size sent in the headers
PREVIEW_MAX_SIDE = 1280


def preview_jpeg(data: bytes, max_bytes: int, max_pixels: int) -> tuple[bytes, int, int]:
    """The photo decoded like every search decodes it (EXIF rotation applied), as a JPEG whose longest
    side is at most :data:`PREVIEW_MAX_SIDE`, with the decoded photo's width and height."""
    image = decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    h, w = image.shape[:2]
    img = Image.fromarray(image)
    img.thumbnail((PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return buf.getvalue(), w, h


@router.post(
    "/preview",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "the preview; X-Image-Width/Height: the photo's size"}},
)
async def preview(state: State, file: Annotated[UploadFile, File(description="the photo")]) -> Response:
    """A JPEG preview of an uploaded photo (for formats browsers cannot show, such as TIFF or PGM).
    Headers ``X-Image-Width`` and ``X-Image-Height`` give the decoded photo's size, in which search
    answers give face boxes. Nothing is kept."""
    data = await read_upload(file, state.config.max_bytes)
    c = state.config
    jpeg, w, h = await state.run(preview_jpeg, data, c.max_bytes, c.max_pixels)
    return Response(jpeg, media_type="image/jpeg",
                    headers={"X-Image-Width": str(w), "X-Image-Height": str(h), "Cache-Control": "no-store"})


@router.get("/gallery/people/{name:path}/faces", response_model=PersonFacesOut, tags=["gallery"])
async def faces_of_person(
    state: State, name: Annotated[str, Path(max_length=MAX_NAME, description="the person's name")]
) -> dict[str, Any]:
    """The faces of one person, in the order they were added, with their thumbnails."""
    rows = await anyio.to_thread.run_sync(person_faces, state.gallery.store, name)
    if rows is None:
        raise NotFoundError(f"there is no person called {name!r} in the gallery")
    return {
        "name": name,
        "faces": [
            {
                "face_id": r.face_id,
                "image": r.image,
                "box": dict(zip(("left", "top", "right", "bottom"), r.box)),
                "thumbnail_url": f"/api/gallery/faces/{r.face_id}/thumbnail",
                "image_url": f"/api/gallery/faces/{r.face_id}/image",
            }
            for r in rows
        ],
    }
