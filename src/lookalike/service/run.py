"""Start the services with uvicorn: ``serve`` (page + REST API) and ``serve_index`` (vector index only).

These are the functions behind ``lookalike serve`` and ``lookalike serve-index``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lookalike.errors import MissingDependencyError
from lookalike.service.config import ServiceConfig, is_loopback, token_from_env
from lookalike.service.threads import single_blas_thread

log = logging.getLogger("lookalike.service")

#: seconds an idle keep-alive connection is kept; connections beyond the limit get 503
KEEP_ALIVE_S = 5
MAX_CONNECTIONS = 64


def _uvicorn():  # type: ignore[no-untyped-def]
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - part of the service extra
        raise MissingDependencyError("uvicorn", "service", "the web service") from exc
    return uvicorn


def _warn_open(host: str, token: str | None, what: str) -> None:
    if not is_loopback(host) and token is None:
        log.warning(
            "%s listens on %s without LOOKALIKE_API_TOKEN: anyone who reaches it can change the gallery",
            what,
            host,
        )


def serve(
    gallery: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    index_url: str | None = None,
    token: str | None = None,
    config: ServiceConfig | None = None,
    log_level: str = "info",
) -> None:
    """Serve the page and the REST API for ``gallery`` until interrupted (blocks).

    ``index_url`` switches to two-service mode (start ``serve_index`` first). The write token comes
    from ``token`` or ``LOOKALIKE_API_TOKEN``. Open ``http://{host}:{port}/`` for the page and
    ``/docs`` for the API.
    """
    from lookalike.service.app import create_app

    uvicorn = _uvicorn()
    single_blas_thread()
    token = token if token is not None else token_from_env()
    _warn_open(host, token, "the web service")
    app = create_app(gallery, index_url=index_url, token=token, config=config)
    print(
        f"lookalike: open http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/ "
        f"(API docs at /docs; {'index at ' + index_url if index_url else 'one process'})",
        flush=True,
    )
    _run(uvicorn, app, host, port, log_level)


def _run(uvicorn: Any, app: Any, host: str, port: int, log_level: str) -> None:
    """uvicorn with the service's limits (keep-alive, connection cap, no server header)."""
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_keep_alive=KEEP_ALIVE_S,
                limit_concurrency=MAX_CONNECTIONS, server_header=False)


def serve_index(
    gallery: str | Path,
    host: str = "127.0.0.1",
    port: int = 8001,
    index: str | None = None,
    token: str | None = None,
    log_level: str = "warning",
) -> None:
    """Serve the vector index of ``gallery`` (vectors in, ids and distances out) until interrupted."""
    from lookalike.service.index_service import create_index_app

    uvicorn = _uvicorn()
    single_blas_thread()
    token = token if token is not None else token_from_env()
    _warn_open(host, token, "the index service")
    app = create_index_app(gallery, index=index, token=token)
    print(
        f"lookalike index service: http://{host}:{port} "
        f"({len(app.state.holder.index)} vectors); start the web service with --index-url http://{host}:{port}",
        flush=True,
    )
    _run(uvicorn, app, host, port, log_level)
