"""JSON request bodies read within a byte cap before they are parsed, and refused when nested deeply.

A 50 MB vector list parsed on the event loop stalls every other request, and a 2 KB body nested
1,000 levels deep makes ``json.loads`` raise ``RecursionError``; both get a typed 4xx here instead.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from lookalike.errors import LookalikeError, RequestTooLargeError

#: the deepest nesting any endpoint's body needs is 3 (an object of lists of lists); leave room
MAX_DEPTH = 8


async def read_json(request: Request, max_bytes: int) -> Any:
    """The request's JSON body, refusing more than ``max_bytes`` before reading (declared) or while
    reading (streamed), bodies that are not JSON and bodies nested deeper than ``MAX_DEPTH``."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
        raise RequestTooLargeError(_too_large(max_bytes))
    chunks: list[bytes] = []
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > max_bytes:
            raise RequestTooLargeError(_too_large(max_bytes))
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks))
    except RecursionError:
        raise LookalikeError(f"the JSON body is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise LookalikeError("the body is not valid JSON") from None
    if too_deep(body, MAX_DEPTH):
        raise LookalikeError(f"the JSON body is nested deeper than {MAX_DEPTH} levels")
    return body


def too_deep(value: Any, limit: int) -> bool:
    """True when lists/objects nest deeper than ``limit`` (iterative: no recursion on hostile input)."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, (list, dict)):
            if depth > limit:
                return True
            items = v.values() if isinstance(v, dict) else v
            stack.extend((x, depth + 1) for x in items if isinstance(x, (list, dict)))
    return False


def _too_large(max_bytes: int) -> str:
    size = f"{max_bytes / 2**20:.1f} MiB" if max_bytes >= 2**20 else f"{max_bytes / 1024:.0f} KiB"
    return f"the JSON body is larger than {size}, the most this endpoint accepts"
