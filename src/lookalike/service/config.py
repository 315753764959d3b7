"""Settings of the web service and the index service, validated once at start-up."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

from lookalike.errors import LookalikeError
from lookalike.faces.image import MAX_BYTES, MAX_PIXELS

#: environment variable holding the write token (enrol, delete; index-service writes)
TOKEN_ENV = "LOOKALIKE_API_TOKEN"
#: a token shorter than this is refused: it could be guessed
MIN_TOKEN_LENGTH = 16
_PLACEHOLDERS = {"changeme", "change-me", "changethis", "secret", "password", "token", "example"}

#: default page size and hard cap for neighbours per face
DEFAULT_K = 10
MAX_K = 100
#: most faces of one photo that are embedded (a crowd photo is cut to its largest faces)
MAX_FACES = 20
#: most photos per enrol request
MAX_ENROL_FILES = 20


def check_token(token: str | None) -> str | None:
    """Return the token, or None when unset; refuse short and placeholder tokens."""
    if token is None or token == "":
        return None
    if bad := sorted({repr(ch) for ch in token if not 33 <= ord(ch) <= 126}):
        # a header value loses its outer spaces on the way, and non-ASCII is not sent as typed:
        # such a token would be accepted here and then refuse every write
        raise LookalikeError(
            f"{TOKEN_ENV} may hold only visible ASCII characters (no spaces, tabs, newlines or "
            f"non-ASCII letters); it contains {', '.join(bad[:5])}"
        )
    if token.strip().lower() in _PLACEHOLDERS or len(token) < MIN_TOKEN_LENGTH:
        raise LookalikeError(
            f"{TOKEN_ENV} must be a random string of at least {MIN_TOKEN_LENGTH} characters "
            '(for example: python -c "import secrets; print(secrets.token_urlsafe(32))")'
        )
    return token


def token_from_env() -> str | None:
    """The write token from ``LOOKALIKE_API_TOKEN`` (validated), or None."""
    return check_token(os.environ.get(TOKEN_ENV))


def is_loopback(host: str) -> bool:
    """True for 127.0.0.1, ::1 and localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServiceConfig:
    """Limits and secrets of the web service."""

    token: str | None = None
    #: per uploaded file
    max_bytes: int = MAX_BYTES
    max_pixels: int = MAX_PIXELS
    #: seconds a request may wait for and use the CPU before it is answered 503
    request_timeout: float = 60.0
    #: photo analyses running at once (each holds the models' locks for a while)
    cpu_workers: int = 2
    max_faces: int = MAX_FACES
    #: Host names served besides IP addresses and localhost (see service/origin.py)
    allowed_hosts: tuple[str, ...] = ()

    @property
    def max_body(self) -> int:
        """Whole request body cap: two photos (verify) plus form overhead."""
        return 2 * self.max_bytes + 1024 * 1024

    def __post_init__(self) -> None:
        check_token(self.token)
        if self.max_bytes < 1 or self.max_pixels < 1 or self.request_timeout <= 0 or self.cpu_workers < 1:
            raise LookalikeError("service limits must be positive")
