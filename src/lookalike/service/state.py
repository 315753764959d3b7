"""What the web service holds for its whole life: the gallery, the models (loaded once), the limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Request

from lookalike.errors import ServiceUnavailableError
from lookalike.faces.pipeline import FacePipeline
from lookalike.gallery.gallery import Gallery
from lookalike.service.config import ServiceConfig
from lookalike.service.thumbnails import GalleryPictures

T = TypeVar("T")


@dataclass
class ServiceState:
    """Shared by every request; the gallery and the models are thread-safe (they lock internally)."""

    gallery: Gallery
    pipeline: FacePipeline
    pictures: GalleryPictures
    config: ServiceConfig
    mode: str  # "one-process" | "two-service"
    limiter: anyio.CapacityLimiter

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run CPU work in the thread pool (never on the event loop), within the request timeout.

        At most ``config.cpu_workers`` such jobs run at once; a request that waits and works longer
        than ``config.request_timeout`` seconds is answered 503 (its thread finishes unobserved).
        """
        with anyio.move_on_after(self.config.request_timeout) as scope:
            return await anyio.to_thread.run_sync(fn, *args, abandon_on_cancel=True, limiter=self.limiter)
        if scope.cancelled_caught:
            raise ServiceUnavailableError(
                f"the server is busy: the request took more than {self.config.request_timeout:g} s; try again"
            )
        raise AssertionError("unreachable")  # pragma: no cover


def get_state(request: Request) -> ServiceState:
    """FastAPI dependency: the app's state."""
    return request.app.state.service  # type: ignore[no-any-return]
