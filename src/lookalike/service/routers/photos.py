"""Photo endpoints: search (look-alikes), identify (who is it?), verify (same person?)."""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from lookalike.errors import LookalikeError
from lookalike.faces.pipeline import Timings, parse_selection
from lookalike.service.config import DEFAULT_K, MAX_K
from lookalike.service.json_body import read_json
from lookalike.service.schemas import (
    IdentifyOut,
    SearchOut,
    VectorQuery,
    VerifyOut,
    neighbour_out,
)
from lookalike.service.state import ServiceState, get_state
from lookalike.service.uploads import read_upload
from lookalike.service.vectors import MAX_VECTOR_JSON, check_vector_range
from lookalike.usecases.identify import DEFAULT_VOTERS, PhotoIdentities, identify_photo
from lookalike.usecases.search import PhotoMatches, search_photo
from lookalike.usecases.verify import verify_photos

router = APIRouter(prefix="/api", tags=["photos"])
State = Annotated[ServiceState, Depends(get_state)]


class SearchForm(BaseModel):
    k: int = Field(DEFAULT_K, ge=1, le=MAX_K)
    face: str = "all"


_SEARCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "the photo"},
                        "k": {"type": "integer", "default": DEFAULT_K, "minimum": 1, "maximum": MAX_K},
                        "face": {
                            "type": "string",
                            "default": "all",
                            "description": "'all', 'largest', 'center' or a face number (1 = largest)",
                        },
                    },
                }
            },
            "application/json": {"schema": VectorQuery.model_json_schema()},
        },
    }
}


def _caps(state: ServiceState) -> dict[str, int]:
    c = state.config
    return {"max_bytes": c.max_bytes, "max_pixels": c.max_pixels, "max_faces": c.max_faces}


def _form_model(form: Any) -> SearchForm:
    raw = {key: form.get(key) for key in ("k", "face") if form.get(key) not in (None, "")}
    try:
        return SearchForm.model_validate(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


@router.post("/search", response_model=SearchOut, openapi_extra=_SEARCH_BODY)
async def search(request: Request, response: Response, state: State) -> dict[str, Any]:
    """The k most similar gallery faces for every face of a photo (multipart ``file``), or for
    embeddings sent as JSON (``{"vector": [...], "k": 10}``). Faces are numbered largest first."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        return await _search_vectors(request, state)
    if ctype != "multipart/form-data":
        raise HTTPException(415, "send a photo as multipart/form-data (field 'file') or vectors as JSON")
    async with request.form(max_files=1, max_fields=8) as form:
        params = _form_model(form)
        data = await read_upload(form.get("file"), state.config.max_bytes)  # type: ignore[arg-type]

    def work() -> tuple[PhotoMatches, Timings]:
        t = Timings()
        res = search_photo(state.gallery, data, params.k, select=parse_selection(params.face), timings=t,
                           **_caps(state))
        return res, t

    res, t = await state.run(work)
    response.headers["Server-Timing"] = t.header()
    return {
        "width": res.width,
        "height": res.height,
        "face_count": res.face_count,
        "faces": [{"number": f.number, "box": f.box, "neighbours": [neighbour_out(n) for n in f.neighbours]}
                  for f in res.faces],
    }


async def _search_vectors(request: Request, state: ServiceState) -> dict[str, Any]:
    raw = await read_json(request, MAX_VECTOR_JSON)
    try:
        q = VectorQuery.model_validate(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    vecs = q.vectors if q.vectors is not None else ([q.vector] if q.vector is not None else None)
    if not vecs:
        raise LookalikeError("send 'vector' (one embedding) or 'vectors' (a list of embeddings)")
    arr = np.asarray(vecs, dtype=np.float32) if len({len(v) for v in vecs}) == 1 else None
    if arr is None or arr.ndim != 2 or not np.isfinite(arr).all():
        raise LookalikeError("vectors must be lists of finite numbers, all of the gallery's dimension")
    check_vector_range(arr)
    rows = await state.run(state.gallery.search_vectors, arr, q.k)
    return {
        "face_count": len(rows),
        "faces": [
            {"number": None, "box": None, "neighbours": [neighbour_out(n) for n in row]} for row in rows
        ],
    }


@router.post("/identify", response_model=IdentifyOut)
async def identify(
    response: Response,
    state: State,
    file: Annotated[UploadFile, File(description="the photo")],
    face: Annotated[str, Form(description="'all', 'largest', 'center' or a face number")] = "all",
    k: Annotated[int, Form(ge=1, le=MAX_K, description="neighbours that vote")] = DEFAULT_VOTERS,
) -> dict[str, Any]:
    """Who is each face? A k-nearest-neighbour vote within the same-person threshold, else unknown."""
    data = await read_upload(file, state.config.max_bytes)

    def work() -> tuple[PhotoIdentities, Timings]:
        t = Timings()
        res = identify_photo(state.gallery, data, k, select=parse_selection(face), timings=t, **_caps(state))
        return res, t

    res, t = await state.run(work)
    response.headers["Server-Timing"] = t.header()
    faces = []
    for f in res.faces:
        who = f.identity
        faces.append(
            {
                "number": f.number,
                "box": f.box,
                "person": who.person,
                "known": who.person is not None,
                "distance": round(who.distance, 6) if math.isfinite(who.distance) else None,
                "similarity": round(who.similarity, 2),
                "votes": who.votes,
                "neighbours": [neighbour_out(n) for n in who.neighbours],
            }
        )
    return {"width": res.width, "height": res.height, "face_count": res.face_count, "threshold": res.threshold,
            "faces": faces}


@router.post("/verify", response_model=VerifyOut)
async def verify(
    response: Response,
    state: State,
    file_a: Annotated[UploadFile, File(description="first photo")],
    file_b: Annotated[UploadFile, File(description="second photo")],
    face_a: Annotated[
        str, Form(description="face of the first photo: 'largest', 'center' or a number")
    ] = "largest",
    face_b: Annotated[str, Form(description="face of the second photo")] = "largest",
) -> dict[str, Any]:
    """Are the faces of two photos the same person? Euclidean distance against the gallery's threshold."""
    data_a = await read_upload(file_a, state.config.max_bytes, "file_a")
    data_b = await read_upload(file_b, state.config.max_bytes, "file_b")
    for sel in (face_a, face_b):
        if parse_selection(sel) == "all":
            raise LookalikeError(
                "verify compares one face of each photo: face must be 'largest', 'center' or a number"
            )

    def work() -> tuple[dict[str, Any], Timings]:
        t = Timings()
        c = state.config
        answer = verify_photos(state.pipeline, data_a, data_b, state.gallery.threshold,
                               select_a=parse_selection(face_a), select_b=parse_selection(face_b), timings=t,
                               max_bytes=c.max_bytes, max_pixels=c.max_pixels)
        return answer, t

    answer, t = await state.run(work)
    response.headers["Server-Timing"] = t.header()
    return {**answer, "distance": round(answer["distance"], 6), "similarity": round(answer["similarity"], 2)}
