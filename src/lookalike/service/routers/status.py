"""``GET /api/health``: is the service up, what gallery and index does it serve."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Response

from lookalike.errors import LookalikeError
from lookalike.service.remote import RemoteIndex
from lookalike.service.schemas import HealthOut
from lookalike.service.state import ServiceState, get_state

router = APIRouter(prefix="/api", tags=["status"])
State = Annotated[ServiceState, Depends(get_state)]


@router.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def health(response: Response, state: State) -> dict[str, Any]:
    """``status`` is "ok", or "degraded" (HTTP 503) when the index service does not answer."""
    g = state.gallery

    def probe() -> dict[str, Any]:
        g.sync()  # count what other processes committed too
        counts = g.store.counts()
        out = {
            "status": "ok",
            "mode": state.mode,
            "people": counts["people"],
            "faces": counts["faces"],
            "indexed": len(g.index),
            "embedder": g.embedder_name,
            "index": "remote" if isinstance(g.index, RemoteIndex) else g.index_name,  # no internal address
            "threshold": g.threshold,
        }
        if isinstance(g.index, RemoteIndex):
            try:
                out["indexed"] = int(g.index.refresh()["count"])
            except LookalikeError as exc:
                out.update(status="degraded", indexed=None, detail=str(exc))
        return out

    out = await anyio.to_thread.run_sync(probe)
    if out["status"] != "ok":
        response.status_code = 503
    return out
