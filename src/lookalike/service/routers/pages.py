"""The web page at ``/``: drop a photo, see numbered boxes and each face's look-alikes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from lookalike import __version__
from lookalike.service.config import DEFAULT_K, MAX_K
from lookalike.service.state import ServiceState, get_state

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))
router = APIRouter(tags=["page"])


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index(request: Request, state: Annotated[ServiceState, Depends(get_state)]) -> HTMLResponse:
    counts = state.gallery.store.counts()
    return TEMPLATES.TemplateResponse(
        request,
        "index.html",
        {
            "people": counts["people"],
            "faces": counts["faces"],
            "k": DEFAULT_K,
            "max_k": MAX_K,
            "max_mb": round(state.config.max_bytes / 2**20),
            "max_bytes": state.config.max_bytes,
            "version": __version__,
        },
    )
