"""Start the services with uvicorn: ``serve`` (page + REST API) and ``serve_index`` (vector index only).

These are the functions behind ``lookalike serve`` and ``lookalike serve-index``.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from lookalike.errors import LookalikeError, MissingDependencyError
from lookalike.service.config import TOKEN_ENV, ServiceConfig, check_token, is_loopback, token_from_env
from lookalike.service.connections import KEEP_ALIVE_S, MAX_CONNECTIONS, uvicorn_config
from lookalike.service.threads import single_blas_thread

log = logging.getLogger("lookalike.service")

__all__ = ["KEEP_ALIVE_S", "MAX_CONNECTIONS", "serve", "serve_index"]


def _uvicorn():  # type: ignore[no-untyped-def]
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - part of the service extra
        raise MissingDependencyError("uvicorn", "service", "the web service") from exc
    return uvicorn


def check_exposure(host: str, token: str | None, what: str, allow_open: bool) -> None:
    """Refuse to listen beyond loopback without a token, unless ``allow_open`` says so on purpose."""
    if is_loopback(host) or token is not None:
        return
    if not allow_open:
        raise LookalikeError(
            f"{what} would listen on {host} without a write token: anyone who reaches it could change "
            f"the gallery. Set {TOKEN_ENV} (see --help), listen on 127.0.0.1, or pass --allow-open "
            "to serve without a token on purpose"
        )
    log.warning("%s listens on %s without %s (--allow-open)", what, host, TOKEN_ENV)


def serve(
    gallery: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    index_url: str | None = None,
    token: str | None = None,
    config: ServiceConfig | None = None,
    log_level: str = "info",
    allow_open: bool = False,
    allowed_hosts: tuple[str, ...] = (),
) -> None:
    """Serve the page and the REST API for ``gallery`` until interrupted (blocks).

    ``index_url`` switches to two-service mode (start ``serve_index`` first). The write token comes
    from ``token`` or ``LOOKALIKE_API_TOKEN``. Open ``http://{host}:{port}/`` for the page and
    ``/docs`` for the API. Beyond loopback it needs a token unless ``allow_open``; ``allowed_hosts``:
    host names it answers to besides IP addresses and localhost.
    """
    from lookalike.service.app import create_app

    uvicorn = _uvicorn()
    single_blas_thread()
    token = check_token(token) if token is not None else token_from_env()
    check_exposure(host, token, "the web service", allow_open)
    if allowed_hosts:
        config = dataclasses.replace(config or ServiceConfig(), allowed_hosts=tuple(allowed_hosts))
    app = create_app(gallery, index_url=index_url, token=token, config=config)
    print(
        f"lookalike: open http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/ "
        f"(API docs at /docs; {'index at ' + index_url if index_url else 'one process'})",
        flush=True,
    )
    _run(uvicorn, app, host, port, log_level)


def _run(uvicorn: Any, app: Any, host: str, port: int, log_level: str) -> None:
    """uvicorn with the service's limits (timeouts, connection cap, no server header)."""
    uvicorn.Server(uvicorn_config(app, host, port, log_level)).run()


def serve_index(
    gallery: str | Path,
    host: str = "127.0.0.1",
    port: int = 8001,
    index: str | None = None,
    token: str | None = None,
    log_level: str = "warning",
    allow_open: bool = False,
    allowed_hosts: tuple[str, ...] = (),
) -> None:
    """Serve the vector index of ``gallery`` (vectors in, ids and distances out) until interrupted.

    Beyond loopback it needs a token unless ``allow_open``, and then accepts no writes at all."""
    from lookalike.service.index_service import create_index_app

    uvicorn = _uvicorn()
    single_blas_thread()
    token = check_token(token) if token is not None else token_from_env()
    check_exposure(host, token, "the index service", allow_open)
    app = create_index_app(
        gallery, index=index, token=token or "", public=not is_loopback(host), allowed_hosts=allowed_hosts
    )
    print(
        f"lookalike index service: http://{host}:{port} "
        f"({len(app.state.holder.index)} vectors); start the web service with --index-url http://{host}:{port}",
        flush=True,
    )
    _run(uvicorn, app, host, port, log_level)
