"""uvicorn as both services run it: connection caps and timeouts for heads, bodies and idle sockets.

uvicorn times out an idle keep-alive connection but never a request that arrives slowly: a client
that sends its headers a byte at a time, trickles its body, or connects and says nothing holds a
connection for as long as it likes, and a few dozen of them filled the 64-connection cap so that real
clients got 503. Here every connection must deliver a request's head within ``HEAD_TIMEOUT`` seconds
of connecting (or of the request's first byte) and its body within ``BODY_TIMEOUT`` seconds of the
head; otherwise it is answered 408 and closed. The connection cap is well above what slow clients can
hold within those windows (``tests/reliability/test_slow_clients.py``).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from lookalike.errors import LookalikeError

HEAD_TIMEOUT_ENV = "LOOKALIKE_HEAD_TIMEOUT"
BODY_TIMEOUT_ENV = "LOOKALIKE_BODY_TIMEOUT"

#: seconds from connecting (or from a request's first byte) to the end of its head
HEAD_TIMEOUT = 10.0
#: seconds from the end of a request's head to the end of its body (a 50 MB upload at 1 MB/s fits)
BODY_TIMEOUT = 60.0
#: seconds an idle keep-alive connection is kept
KEEP_ALIVE_S = 5
#: connections (and running requests) before new requests are answered 503
MAX_CONNECTIONS = 512

_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"x-content-type-options: nosniff\r\ncontent-length: %d\r\n\r\n%s"
)


def _timeout_body(what: str) -> bytes:
    msg = f'{{"error": {{"type": "RequestTimeout", "message": "the request {what} took too long"}}}}'
    return _408 % (len(msg), msg.encode())


class TimedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each request's head and body."""

    head_timeout = HEAD_TIMEOUT
    body_timeout = BODY_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire, what)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self, what: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(_timeout_body(what))
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.head_timeout, "head")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:
            self._arm(self.head_timeout, "head")

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_timeout, "body")

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()


def _seconds(env: str, default: float) -> float:
    raw = os.environ.get(env, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise LookalikeError(f"{env} must be a number of seconds, not {raw!r}") from None
    if not 0 < value <= 3600:
        raise LookalikeError(f"{env} must be between 0 and 3600 seconds")
    return value


def uvicorn_config(app: Any, host: str, port: int, log_level: str = "warning", **kwargs: Any) -> Any:
    """The uvicorn configuration both services run with (``kwargs`` passed on).

    ``LOOKALIKE_HEAD_TIMEOUT`` and ``LOOKALIKE_BODY_TIMEOUT`` (seconds) override the two deadlines."""
    import uvicorn

    protocol = type(
        "TimedHttpToolsProtocol",
        (TimedHttpToolsProtocol,),
        {
            "head_timeout": _seconds(HEAD_TIMEOUT_ENV, HEAD_TIMEOUT),
            "body_timeout": _seconds(BODY_TIMEOUT_ENV, BODY_TIMEOUT),
        },
    )
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http=protocol,
        timeout_keep_alive=KEEP_ALIVE_S,
        limit_concurrency=MAX_CONNECTIONS,
        server_header=False,
        **kwargs,
    )
