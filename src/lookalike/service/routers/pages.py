"""The web pages: look-alikes at ``/``, identify, same person? and the gallery (each a plain template
with its own script module; the navigation bar is ``templates/_nav.html``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from lookalike import __version__
from lookalike.service.config import DEFAULT_K, MAX_K
from lookalike.service.state import ServiceState, get_state

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))
router = APIRouter(tags=["page"])
State = Annotated[ServiceState, Depends(get_state)]


def _context(state: ServiceState) -> dict[str, Any]:
    counts = state.gallery.store.counts()
    return {
        "people": counts["people"],
        "faces": counts["faces"],
        "k": DEFAULT_K,
        "max_k": MAX_K,
        "max_mb": round(state.config.max_bytes / 2**20),
        "max_bytes": state.config.max_bytes,
        "threshold": state.gallery.threshold,
        "version": __version__,
    }


def _page(request: Request, state: ServiceState, template: str) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, template, _context(state))


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse, include_in_schema=False)
async def index(request: Request, state: State) -> HTMLResponse:
    return _page(request, state, "index.html")


@router.api_route("/identify", methods=["GET", "HEAD"], response_class=HTMLResponse, include_in_schema=False)
async def identify_page(request: Request, state: State) -> HTMLResponse:
    return _page(request, state, "identify.html")


@router.api_route("/verify", methods=["GET", "HEAD"], response_class=HTMLResponse, include_in_schema=False)
async def verify_page(request: Request, state: State) -> HTMLResponse:
    return _page(request, state, "verify.html")


@router.api_route("/gallery", methods=["GET", "HEAD"], response_class=HTMLResponse, include_in_schema=False)
async def gallery_page(request: Request, state: State) -> HTMLResponse:
    return _page(request, state, "gallery.html")
