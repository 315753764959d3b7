"""Who may talk to the services: Host names they serve (DNS rebinding) and same-origin browser writes.

A web page on any site can make the visitor's browser send a request to ``http://127.0.0.1:8000``
(binding to loopback does not stop a browser), and a hostile DNS name can be re-pointed at 127.0.0.1
so that its pages become "same-origin" with the service. Two checks close both doors:

- **Host**: the request's ``Host`` must be an IP address, ``localhost`` (or a ``*.localhost`` name, which
  browsers resolve to loopback themselves), or a name given with ``--allowed-host`` /
  ``LOOKALIKE_ALLOWED_HOSTS``. A rebinding attack needs its own DNS name in ``Host``; it gets 403.
- **Browser writes** (POST, PUT, PATCH, DELETE): a browser tells where a request comes from
  (``Origin``, ``Sec-Fetch-Site``) and a page cannot forge either. A request whose ``Origin`` is not the
  service's own, or whose ``Sec-Fetch-Site`` is ``cross-site``/``same-site``, gets 403 — ``no-cors``
  form posts included. Scripts (curl, httpx, the index client) send neither header and are unaffected.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from lookalike.service.security import send_error

#: environment variable with extra Host names to serve, comma-separated
ALLOWED_HOSTS_ENV = "LOOKALIKE_ALLOWED_HOSTS"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def allowed_hosts_from_env() -> frozenset[str]:
    """Host names from ``LOOKALIKE_ALLOWED_HOSTS`` (lower case)."""
    raw = os.environ.get(ALLOWED_HOSTS_ENV, "")
    return frozenset(h.strip().lower().rstrip(".") for h in raw.split(",") if h.strip())


def split_host(value: str) -> tuple[str, int | None]:
    """``("example.org", 8000)`` from ``example.org:8000``; IPv6 in brackets; lower case."""
    value = value.strip().lower()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = value.partition(":") if value.count(":") == 1 else (value, "", "")
    try:
        return host.rstrip("."), int(port) if port else None
    except ValueError:
        return host.rstrip("."), -1


def host_allowed(host: str, extra: Iterable[str] = ()) -> bool:
    """True for IP literals, localhost names and the configured names."""
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost") or host in extra:
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k == name:
            return v.decode("latin-1")
    return None


def cross_origin_reason(scope: Scope) -> str | None:
    """Why an unsafe request from a browser must be refused, or None when it is same-origin or no browser's."""
    site = _header(scope, b"sec-fetch-site")
    if site is not None and site.strip().lower() not in ("same-origin", "none"):
        return f"a write from another site (Sec-Fetch-Site: {site.strip()})"
    origin = _header(scope, b"origin")
    if origin is None:
        return None
    if origin.strip().lower() == "null":
        return "a write from an opaque origin (Origin: null)"
    parts = urlsplit(origin.strip())
    scheme = scope.get("scheme", "http")
    default = 443 if scheme == "https" else 80
    own_host, own_port = split_host(_header(scope, b"host") or "")
    try:
        their = (parts.scheme, (parts.hostname or "").rstrip("."), parts.port or default)
    except ValueError:
        return "a write with a malformed Origin"
    if their != (scheme, own_host, own_port or default):
        return f"a write from another origin ({origin.strip()})"
    return None


class OriginGuardMiddleware:
    """Answers 403 to requests for a Host the service does not serve, and to cross-origin browser writes."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed = frozenset(h.lower().rstrip(".") for h in allowed_hosts) | allowed_hosts_from_env()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host_header = _header(scope, b"host")
            reason = None
            if host_header is not None and not host_allowed(split_host(host_header)[0], self.allowed):
                reason = (
                    f"this service does not serve the host name {split_host(host_header)[0]!r} "
                    f"(add it with --allowed-host or {ALLOWED_HOSTS_ENV})"
                )
            elif scope["method"] in UNSAFE_METHODS and (why := cross_origin_reason(scope)):
                reason = f"refused {why}: writes are accepted from this service's own page or from scripts"
            if reason:
                await _forbidden(send, reason)
                return
        await self.app(scope, receive, send)


async def _forbidden(send: Send, message: str) -> None:
    await send_error(send, 403, "ForbiddenRequestError", message, [(b"vary", b"Origin, Sec-Fetch-Site")])
