"""The index service: holds only a gallery's vector index and answers vector queries over HTTP.

``POST /search`` takes ``{"vectors": [[float, ...], ...], "k": 10}`` and answers
``{"distances": [[...]], "ids": [[...]], "count": n}`` (``null`` distance and id -1 where the index
has fewer than k vectors). It never reads the store after start-up: the web service maps ids to
people. Writes (``POST /vectors``, ``POST /vectors/remove``) come from the web service when it
enrols or deletes faces; they need the API token when one is configured. The index is loaded from
the gallery folder (replayed from the store when it lags) and never written back: on restart it is
loaded again from the store, which is the single source of truth.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from pydantic import BaseModel, Field

from lookalike.errors import IndexMismatchError, LookalikeError
from lookalike.gallery.gallery import Gallery
from lookalike.index.base import Index
from lookalike.service import http_errors
from lookalike.service.config import check_token, token_from_env
from lookalike.service.security import BodyLimitMiddleware, SecurityHeadersMiddleware, check_write_token

MAX_QUERIES = 1000
MAX_K = 1000
#: a write batch of 10,000 128-d vectors is about 25 MB of JSON
MAX_BODY = 64 * 1024 * 1024


class SearchRequest(BaseModel):
    vectors: list[list[float]] = Field(..., min_length=1, max_length=MAX_QUERIES)
    k: int = Field(10, ge=1, le=MAX_K)


class SearchResult(BaseModel):
    distances: list[list[float | None]]
    ids: list[list[int]]
    count: int


class AddRequest(BaseModel):
    vectors: list[list[float]] = Field(..., min_length=1)
    ids: list[int] = Field(..., min_length=1)


class RemoveRequest(BaseModel):
    ids: list[int] = Field(..., min_length=1)


class Count(BaseModel):
    count: int


class IndexHolder:
    """The index and what it was built from; one lock serialises writes against searches."""

    def __init__(self, index: Index, embedder: str | None, name: str, gallery: str) -> None:
        self.index = index
        self.embedder = embedder
        self.name = name
        self.gallery = gallery
        self.lock = threading.Lock()

    @classmethod
    def load(cls, gallery_path: str | Path, index: str | None = None) -> IndexHolder:
        """Load (or rebuild) the index of a gallery folder, then let the store go."""
        g = Gallery.open(gallery_path, index=index, create=False)
        try:
            return cls(g.index, g.embedder_name, g.index_name, str(g.root))
        finally:
            g.close()

    def matrix(self, rows: list[list[float]], what: str) -> np.ndarray:
        try:
            arr = np.asarray(rows, dtype=np.float32)
        except ValueError as exc:  # ragged lists
            raise IndexMismatchError(f"{what} must be lists of {self.index.dim} numbers each") from exc
        if arr.ndim != 2 or arr.shape[1] != self.index.dim:
            raise IndexMismatchError(f"{what} must have {self.index.dim} numbers each, got shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise LookalikeError(f"{what} contain NaN or infinity")
        return arr


def get_holder(request: Request) -> IndexHolder:
    """FastAPI dependency: the app's index."""
    return request.app.state.holder  # type: ignore[no-any-return]


def require_writer(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    """Writes need the API token when one is configured."""
    check_write_token(request.app.state.token, authorization)


Holder = Annotated[IndexHolder, Depends(get_holder)]
router = APIRouter()


@router.get("/health")
def health(h: Holder) -> dict[str, Any]:
    """Liveness and what is loaded."""
    return {
        "status": "ok",
        "count": len(h.index),
        "dim": h.index.dim,
        "embedder": h.embedder,
        "index": h.name,
        "params": h.index.params,
    }


@router.post(
    "/search",
    response_model=SearchResult,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SearchRequest.model_json_schema()}},
        }
    },
)
async def search(request: Request, h: Holder) -> Response:
    """The k nearest ids of each query vector, nearest first, with Euclidean distances.

    The hot path of two-service mode: the body is parsed straight into NumPy and the search (well
    under a millisecond for an LFW-sized gallery) runs on the event loop, skipping the thread hop.
    """
    try:
        body = json.loads(await request.body())
        k = body.get("k", 10) if isinstance(body, dict) else None
        rows = body.get("vectors") if isinstance(body, dict) else None
    except ValueError:
        raise LookalikeError("the body is not valid JSON") from None
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise LookalikeError(f"k must be an integer from 1 to {MAX_K}")
    if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_QUERIES:
        raise LookalikeError(f"vectors must be a list of 1 to {MAX_QUERIES} vectors")
    q = h.matrix(rows, "vectors")
    with h.lock:
        dist, ids = h.index.search(q, k)
        count = len(h.index)
    d = [[x if math.isfinite(x) else None for x in row] for row in dist.astype(np.float64).tolist()]
    return Response(
        json.dumps({"distances": d, "ids": ids.tolist(), "count": count}), media_type="application/json"
    )


@router.post("/vectors", response_model=Count, dependencies=[Depends(require_writer)])
def add(req: AddRequest, h: Holder) -> dict[str, int]:
    """Add vectors under new ids (the web service calls this when it enrols faces)."""
    v = h.matrix(req.vectors, "vectors")
    if len(req.ids) != len(v):
        raise LookalikeError(f"got {len(req.ids)} ids for {len(v)} vectors")
    with h.lock:
        try:
            h.index.add(v, np.asarray(req.ids, dtype=np.int64))
        except ValueError as exc:
            raise LookalikeError(str(exc)) from exc
        return {"count": len(h.index)}


@router.post("/vectors/remove", response_model=Count, dependencies=[Depends(require_writer)])
def remove(req: RemoveRequest, h: Holder) -> dict[str, int]:
    """Remove ids; unknown ids are ignored."""
    with h.lock:
        h.index.remove(np.asarray(req.ids, dtype=np.int64))
        return {"count": len(h.index)}


def create_index_app(
    gallery_path: str | Path | None = None,
    index: str | None = None,
    token: str | None = None,
    holder: IndexHolder | None = None,
) -> FastAPI:
    """The index service's ASGI app for a gallery folder (or an already-loaded ``holder``).

    ``token``: the write token (default: ``LOOKALIKE_API_TOKEN``; ``""`` means none).
    """
    token = check_token(token) if token is not None else token_from_env()
    if holder is None:
        if gallery_path is None:
            raise LookalikeError("create_index_app needs a gallery folder")
        holder = IndexHolder.load(gallery_path, index)
    app = FastAPI(
        title="lookalike index service", version="1", summary="Vector search over a gallery's index."
    )
    app.state.holder = holder
    app.state.token = token
    http_errors.install(app)
    app.add_middleware(BodyLimitMiddleware, max_body=MAX_BODY)
    app.add_middleware(SecurityHeadersMiddleware)
    app.include_router(router)
    return app
