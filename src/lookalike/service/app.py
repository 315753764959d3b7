"""The web service: the look-alike page at ``/`` and the REST API under ``/api`` (docs at ``/docs``).

One process by default: the gallery's store and index live here. With ``index_url`` the vector index
stays in the index service (``lookalike serve-index``) and this process decodes, detects, aligns,
embeds, asks the index service for the nearest ids and renders the answer from the store.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from lookalike import __version__
from lookalike.faces.pipeline import FacePipeline
from lookalike.gallery.gallery import Gallery
from lookalike.service import http_errors
from lookalike.service.client import IndexClient
from lookalike.service.config import ServiceConfig, check_token, token_from_env
from lookalike.service.origin import OriginGuardMiddleware
from lookalike.service.remote import RemoteGallery
from lookalike.service.routers import browse, clusters, compose, gallery, pages, photos, status
from lookalike.service.security import BodyLimitMiddleware, SecurityHeadersMiddleware
from lookalike.service.state import ServiceState
from lookalike.service.thumbnails import GalleryPictures

log = logging.getLogger("lookalike.service")
STATIC_DIR = Path(__file__).resolve().parent / "static"


def open_gallery(
    gallery_path: str | Path, index_url: str | None, token: str | None, client: IndexClient | None = None
) -> Gallery:
    """The gallery in one-process mode, or its store with a remote index in two-service mode."""
    if index_url is None and client is None:
        return Gallery.open(gallery_path, create=False)
    client = client or IndexClient(index_url or "", token=token)
    return RemoteGallery.connect(gallery_path, client)


def create_app(
    gallery_path: str | Path,
    index_url: str | None = None,
    token: str | None = None,
    *,
    config: ServiceConfig | None = None,
    pipeline: FacePipeline | None = None,
    index_client: IndexClient | None = None,
) -> FastAPI:
    """Build the web service for the gallery in ``gallery_path``.

    ``index_url``: two-service mode, the index service's base URL. ``token``: the write token
    (default: ``LOOKALIKE_API_TOKEN``; when set, enrol and delete need ``Authorization: Bearer``).
    ``pipeline``: an already-loaded face pipeline to share; by default the gallery's embedder is
    loaded once here. ``index_client``: a ready client (tests), instead of ``index_url``.
    """
    token = check_token(token) if token is not None else token_from_env()
    cfg = config or ServiceConfig()
    if cfg.token is None and token is not None:
        cfg = dataclasses.replace(cfg, token=token)
    g = open_gallery(gallery_path, index_url, cfg.token, index_client)
    try:
        if pipeline is not None:
            g.use_pipeline(pipeline)  # refuses a pipeline that makes other vectors than the gallery's
        pipe = g.pipeline()
    except BaseException:
        g.close()
        raise
    mode = "two-service" if isinstance(g, RemoteGallery) else "one-process"
    state = ServiceState(
        gallery=g,
        pipeline=pipe,
        config=cfg,
        mode=mode,
        pictures=GalleryPictures(g.store, pipe, cfg.max_pixels),
        limiter=anyio.CapacityLimiter(cfg.cpu_workers),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        log.info("serving %s (%s, %d faces)", g.root, mode, len(g.index))
        yield
        if isinstance(g, RemoteGallery):
            g.client.close()
        g.close()

    app = FastAPIOffline(  # /docs and /redoc from the assets fastapi-offline ships: they work with no network
        static_url="/docs-assets",
        title="lookalike",
        version=__version__,
        summary="Which celebrities does this face look like? Search, identify, verify, manage a gallery.",
        lifespan=lifespan,
    )
    app.state.service = state
    http_errors.install(app)
    app.add_middleware(BodyLimitMiddleware, max_body=cfg.max_body)
    app.add_middleware(OriginGuardMiddleware, allowed_hosts=cfg.allowed_hosts)
    app.add_middleware(SecurityHeadersMiddleware)
    for r in (pages.router, clusters.page_router, compose.page_router, photos.router, gallery.router, browse.router,
              clusters.router, compose.router, status.router):
        app.include_router(r)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
