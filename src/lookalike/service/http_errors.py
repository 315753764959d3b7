"""One error shape for every HTTP answer: ``{"error": {"type", "message"}}``, as the CLI's ``--json``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from lookalike import errors as E
from lookalike.service.security import security_headers

log = logging.getLogger("lookalike.service")

#: typed error → HTTP status (the first matching class in this order wins)
STATUS: list[tuple[type[Exception], int]] = [
    (E.AuthorizationError, 401),
    (E.ForbiddenRequestError, 403),
    (E.RequestTooLargeError, 413),
    (E.GalleryBusyError, 503),
    (E.ImageTooLargeError, 413),
    (E.UnreadableImageError, 415),
    (E.NoFaceError, 422),
    (E.IndexMismatchError, 400),
    (E.ServiceUnavailableError, 503),
    (E.CorruptFileError, 500),
    (E.GalleryNotFoundError, 500),
    (E.MissingDependencyError, 500),
    (E.LookalikeError, 400),
]


class NotFoundError(E.LookalikeError):
    """The face, person or page asked for does not exist."""


STATUS.insert(0, (NotFoundError, 404))


def error_body(kind: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"type": kind, "message": message}}


def status_of(exc: Exception) -> int:
    for cls, code in STATUS:
        if isinstance(exc, cls):
            return code
    return 500


def install(app: FastAPI) -> None:
    """Register the handlers that turn errors into the common shape."""

    @app.exception_handler(E.LookalikeError)
    async def _lookalike(_: Request, exc: E.LookalikeError) -> JSONResponse:
        code = status_of(exc)
        headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
        return JSONResponse(error_body(type(exc).__name__, str(exc)), status_code=code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors():
            where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            parts.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
        return JSONResponse(
            error_body("ValidationError", "; ".join(parts) or "invalid request"), status_code=422
        )

    @app.exception_handler(ClientDisconnect)
    async def _gone(_: Request, exc: ClientDisconnect) -> Response:
        # the client left (or was cut off by a deadline) mid-request: nobody reads this answer
        return Response(status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette sends this answer itself, outside every middleware: it carries the headers here
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(
            error_body("InternalError", "the server could not answer this request"),
            status_code=500,
            headers=security_headers(request.url.path),
        )

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        kind = {404: "NotFoundError", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
        return JSONResponse(
            error_body(kind, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
