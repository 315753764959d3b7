"""Photo endpoints: search (look-alikes), identify (who is it?), verify (same person?)."""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from lookalike.errors import ImageTooLargeError, LookalikeError, NoFaceError, UnreadableImageError
from lookalike.recognition import DEFAULT_VOTERS, identify_vectors, verify_vectors
from lookalike.service.analysis import Analysis, Timings, analyze, parse_selection
from lookalike.service.config import DEFAULT_K, MAX_K
from lookalike.service.schemas import (
    IdentifyOut,
    SearchOut,
    VectorQuery,
    VerifyOut,
    neighbour_out,
)
from lookalike.service.state import ServiceState, get_state
from lookalike.service.uploads import read_upload

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


def _analyze(state: ServiceState, data: bytes, select: Any, t: Timings) -> Analysis:
    c = state.config
    return analyze(state.pipeline, data, parse_selection(select), c.max_bytes, c.max_pixels, c.max_faces, t)


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

    def work() -> tuple[Analysis, list[Any], Timings]:
        t = Timings()
        a = _analyze(state, data, params.face, t)
        with t.stage("search"):
            rows = state.gallery.search_vectors(a.vectors(), params.k)
        return a, rows, t

    a, rows, t = await state.run(work)
    response.headers["Server-Timing"] = t.header()
    return {
        "width": a.width,
        "height": a.height,
        "face_count": a.face_count,
        "faces": [
            {"number": f.number, "box": f.box.as_dict(), "neighbours": [neighbour_out(n) for n in row]}
            for f, row in zip(a.faces, rows)
        ],
    }


async def _search_vectors(request: Request, state: ServiceState) -> dict[str, Any]:
    try:
        raw = await request.json()
    except ValueError:
        raise LookalikeError("the body is not valid JSON") from None
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

    def work() -> tuple[Analysis, list[Any], Timings]:
        t = Timings()
        a = _analyze(state, data, face, t)
        with t.stage("search"):
            ids = identify_vectors(state.gallery, a.vectors(), k=k)
        return a, ids, t

    a, ids, t = await state.run(work)
    response.headers["Server-Timing"] = t.header()
    faces = []
    for f, who in zip(a.faces, ids):
        faces.append(
            {
                "number": f.number,
                "box": f.box.as_dict(),
                "person": who.person,
                "known": who.person is not None,
                "distance": round(who.distance, 6) if math.isfinite(who.distance) else None,
                "similarity": round(who.similarity, 2),
                "votes": who.votes,
                "neighbours": [neighbour_out(n) for n in who.neighbours],
            }
        )
    return {
        "width": a.width,
        "height": a.height,
        "face_count": a.face_count,
        "threshold": state.gallery.threshold,
        "faces": faces,
    }


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

    def work() -> tuple[Analysis, Analysis, Timings]:
        t = Timings()
        out = []
        for name, data, sel in (("first", data_a, face_a), ("second", data_b, face_b)):
            try:
                out.append(_analyze(state, data, sel, t))
            except (UnreadableImageError, ImageTooLargeError, NoFaceError) as exc:
                raise type(exc)(f"{name} photo: {exc}") from exc
        return out[0], out[1], t

    a, b, t = await state.run(work)
    response.headers["Server-Timing"] = t.header()
    v = verify_vectors(a.faces[0].embedding, b.faces[0].embedding, state.gallery.threshold)
    return {
        "same": v.same,
        "distance": round(v.distance, 6),
        "threshold": v.threshold,
        "similarity": round(v.similarity, 2),
        "box_a": a.faces[0].box.as_dict(),
        "box_b": b.faces[0].box.as_dict(),
    }
