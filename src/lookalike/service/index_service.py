"""The index service: holds a gallery's vector index and answers vector queries over HTTP.

``POST /search`` takes ``{"vectors": [[float, ...], ...], "k": 10}`` and answers
``{"distances": [[...]], "ids": [[...]], "count": n}`` (``null`` distance and id -1 where the index
has fewer than k vectors). The web service maps ids to people.

The gallery's store is the single source of truth and the index service follows it: before each
search it catches up with what any process committed (the CLI's ingest, the web service's enrol and
delete), a cheap generation check when nothing changed. Its write endpoints (``POST /vectors``,
``POST /vectors/remove``) are notices from the web service that it has just committed a change; the
index service checks them against the store and refuses a vector under an id the store does not
hold with that vector, and the removal of a face the store still holds. They need the API token
when one is configured, and always when the service listens beyond loopback. The index is never
written back: on restart it is loaded again from the gallery folder and replayed from the store.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field, ValidationError

from lookalike.errors import ForbiddenRequestError, IndexMismatchError, LookalikeError
from lookalike.gallery.gallery import Gallery
from lookalike.index.base import Index
from lookalike.service import http_errors
from lookalike.service.config import TOKEN_ENV, check_token, token_from_env
from lookalike.service.json_body import read_json
from lookalike.service.origin import OriginGuardMiddleware
from lookalike.service.security import BodyLimitMiddleware, SecurityHeadersMiddleware, check_write_token
from lookalike.service.vectors import check_vector_range

#: queries per request, neighbours per query, and neighbours per request (queries × k)
MAX_QUERIES = 100
MAX_K = 1000
MAX_RESULTS = 10_000
#: request bodies: a search of 100 × 128 floats is < 0.3 MB; a write batch of 1,000 vectors < 3 MB
MAX_SEARCH_BODY = 1024 * 1024
MAX_WRITE_BODY = 4 * 1024 * 1024
MAX_WRITE_VECTORS = 1000
MAX_BODY = MAX_WRITE_BODY
Id = Annotated[int, Field(ge=0, le=2**63 - 1)]


class SearchRequest(BaseModel):
    vectors: list[list[float]] = Field(..., min_length=1, max_length=MAX_QUERIES)
    k: int = Field(10, ge=1, le=MAX_K)


class SearchResult(BaseModel):
    distances: list[list[float | None]]
    ids: list[list[int]]
    count: int


class AddRequest(BaseModel):
    vectors: list[list[float]] = Field(..., min_length=1, max_length=MAX_WRITE_VECTORS)
    ids: list[Id] = Field(..., min_length=1, max_length=MAX_WRITE_VECTORS)


class RemoveRequest(BaseModel):
    ids: list[Id] = Field(..., min_length=1, max_length=10 * MAX_WRITE_VECTORS)


class Count(BaseModel):
    count: int


class IndexHolder:
    """The gallery (store and index) this service follows; one lock serialises writes against searches."""

    def __init__(self, gallery: Gallery) -> None:
        self.gallery = gallery
        self.embedder = gallery.embedder_name
        self.name = gallery.index_name
        self.lock = threading.Lock()

    @property
    def index(self) -> Index:
        return self.gallery.index

    @classmethod
    def load(cls, gallery_path: str | Path, index: str | None = None) -> IndexHolder:
        """Load (or rebuild) the index of a gallery folder; the store stays open to follow it."""
        return cls(Gallery.open(gallery_path, index=index, create=False))

    def close(self) -> None:
        self.gallery.close()

    def matrix(self, rows: list[list[float]], what: str) -> np.ndarray:
        try:
            arr = np.asarray(rows, dtype=np.float32)
        except ValueError as exc:  # ragged lists
            raise IndexMismatchError(f"{what} must be lists of {self.index.dim} numbers each") from exc
        if arr.ndim != 2 or arr.shape[1] != self.index.dim:
            raise IndexMismatchError(f"{what} must have {self.index.dim} numbers each, got shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise LookalikeError(f"{what} contain NaN or infinity")
        check_vector_range(arr)
        return arr


def get_holder(request: Request) -> IndexHolder:
    """FastAPI dependency: the app's index."""
    return request.app.state.holder  # type: ignore[no-any-return]


def require_writer(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    """Writes need the API token when one is configured, and are refused without one beyond loopback."""
    if request.app.state.token is None and request.app.state.public:
        raise ForbiddenRequestError(
            "this index service listens beyond this machine without a token, so it accepts no writes; "
            f"start it with {TOKEN_ENV} set"
        )
    check_write_token(request.app.state.token, authorization)


class ConflictError(LookalikeError):
    """A write that disagrees with the gallery's store."""


http_errors.STATUS.insert(0, (ConflictError, 409))


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
    body = await read_json(request, MAX_SEARCH_BODY)
    k = body.get("k", 10) if isinstance(body, dict) else None
    rows = body.get("vectors") if isinstance(body, dict) else None
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise LookalikeError(f"k must be an integer from 1 to {MAX_K}")
    if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_QUERIES:
        raise LookalikeError(f"vectors must be a list of 1 to {MAX_QUERIES} vectors")
    if len(rows) * k > MAX_RESULTS:
        raise LookalikeError(f"ask for at most {MAX_RESULTS:,} neighbours per request (vectors × k)")
    q = h.matrix(rows, "vectors")
    with h.lock:
        h.gallery.sync()
        dist, ids = h.index.search(q, k)
        count = len(h.index)
    if not np.isfinite(dist[ids >= 0]).all():
        raise LookalikeError("the query is out of range: its distances are not finite numbers")
    d = [[x if math.isfinite(x) else None for x in row] for row in dist.astype(np.float64).tolist()]
    return Response(
        json.dumps({"distances": d, "ids": ids.tolist(), "count": count}), media_type="application/json"
    )


def _body(model: type[BaseModel], raw: Any) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}
    }


@router.post(
    "/vectors", response_model=Count, dependencies=[Depends(require_writer)], openapi_extra=_json_body(AddRequest)
)
async def add(request: Request, h: Holder) -> dict[str, int]:
    """Notice of faces just stored (the web service calls this when it enrols): the index catches up
    with the store; an id the store does not hold, or holds with another vector, is refused (409)."""
    req: AddRequest = _body(AddRequest, await read_json(request, MAX_WRITE_BODY))
    v = h.matrix(req.vectors, "vectors")
    if len(req.ids) != len(v):
        raise LookalikeError(f"got {len(req.ids)} ids for {len(v)} vectors")
    with h.lock:
        h.gallery.sync()
        ids, stored = h.gallery.store.embeddings_of(req.ids)
        have = dict(zip(ids.tolist(), stored))
        for i, vec in zip(req.ids, v):
            if i not in have:
                raise ConflictError(f"face {i} is not in the gallery's store; store faces first")
            if not np.array_equal(have[i], vec):
                raise ConflictError(f"face {i} is stored with another vector; ids are never reused")
        return {"count": len(h.index)}


@router.post(
    "/vectors/remove",
    response_model=Count,
    dependencies=[Depends(require_writer)],
    openapi_extra=_json_body(RemoveRequest),
)
async def remove(request: Request, h: Holder) -> dict[str, int]:
    """Notice of faces just deleted: the index catches up with the store; removing a face the store
    still holds is refused (409). Unknown ids are ignored."""
    req: RemoveRequest = _body(RemoveRequest, await read_json(request, MAX_SEARCH_BODY))
    with h.lock:
        h.gallery.sync()
        still = h.gallery.store.embeddings_of(req.ids)[0]
        if len(still):
            raise ConflictError(f"face {int(still[0])} is still in the gallery's store; delete it there first")
        return {"count": len(h.index)}


def create_index_app(
    gallery_path: str | Path | None = None,
    index: str | None = None,
    token: str | None = None,
    holder: IndexHolder | None = None,
    public: bool = False,
    allowed_hosts: tuple[str, ...] = (),
) -> FastAPI:
    """The index service's ASGI app for a gallery folder (or an already-loaded ``holder``).

    ``token``: the write token (default: ``LOOKALIKE_API_TOKEN``; ``""`` means none). ``public``: it
    listens beyond loopback, so writes are refused unless a token is configured.
    """
    token = check_token(token) if token is not None else token_from_env()
    if holder is None:
        if gallery_path is None:
            raise LookalikeError("create_index_app needs a gallery folder")
        holder = IndexHolder.load(gallery_path, index)
    own = holder

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        own.close()

    app = FastAPIOffline(  # /docs from packaged assets, no CDN
        static_url="/docs-assets",
        title="lookalike index service",
        version="1",
        summary="Vector search over a gallery's index.",
        lifespan=lifespan,
    )
    app.state.holder = holder
    app.state.token = token
    app.state.public = public
    http_errors.install(app)
    app.add_middleware(BodyLimitMiddleware, max_body=MAX_BODY)
    app.add_middleware(OriginGuardMiddleware, allowed_hosts=allowed_hosts)
    app.add_middleware(SecurityHeadersMiddleware)
    app.include_router(router)
    return app
