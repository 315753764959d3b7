"""HTTP client of the index service, used by the web service in two-service mode.

Vectors travel as JSON float lists. float32 → JSON → float32 is exact (Python writes the shortest
repr of the float64 value), so two-service answers equal one-process answers bit for bit.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import numpy as np

from lookalike.errors import IndexMismatchError, LookalikeError, ServiceUnavailableError

log = logging.getLogger("lookalike.service")

#: seconds to open a connection and to wait for an answer
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 10.0


class IndexClient:
    """Talks to ``lookalike serve-index``. Thread-safe (one pooled, keep-alive ``httpx.Client``)."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout: float = READ_TIMEOUT,
        http: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if http is None:
            http = httpx.Client(
                base_url=self.url,
                timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT),
                limits=httpx.Limits(max_keepalive_connections=8, max_connections=16),
            )
        http.headers.update(headers)
        self._http = http

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, json: Any = None) -> dict[str, Any]:
        # messages go to web clients: they name no internal address (the log does)
        try:
            resp = self._http.request(method, path, json=json)
        except httpx.TimeoutException as exc:
            log.warning("the index service at %s did not answer in time", self.url)
            raise ServiceUnavailableError("the index service did not answer in time") from exc
        except httpx.TransportError as exc:
            log.warning("the index service at %s is unreachable: %s", self.url, exc)
            raise ServiceUnavailableError("the index service is unreachable") from exc
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if resp.status_code >= 400:
            err = body.get("error", {}) if isinstance(body, dict) else {}
            msg = f"index service: {err.get('message') or resp.reason_phrase}"
            if resp.status_code >= 500:
                raise ServiceUnavailableError(msg)
            if err.get("type") == "IndexMismatchError":
                raise IndexMismatchError(msg)
            raise LookalikeError(msg)
        return body

    def health(self) -> dict[str, Any]:
        """``{"status", "count", "dim", "embedder", "index"}``."""
        return self._call("GET", "/health")

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, int]:
        """``(distances, ids, live count)`` like :meth:`Index.search`; ``inf``/``-1`` where fewer than k."""
        q = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        body = self._call("POST", "/search", {"vectors": q.tolist(), "k": int(k)})
        dist = np.array(
            [[np.inf if d is None else d for d in row] for row in body["distances"]], dtype=np.float32
        )
        ids = np.array(body["ids"], dtype=np.int64)
        return dist.reshape(len(q), k), ids.reshape(len(q), k), int(body["count"])

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> int:
        """Add vectors under ids; returns the new live count."""
        v = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        body = self._call("POST", "/vectors", {"vectors": v.tolist(), "ids": np.asarray(ids).tolist()})
        return int(body["count"])

    def remove(self, ids: np.ndarray) -> int:
        """Remove ids (unknown ones are ignored); returns the new live count."""
        body = self._call("POST", "/vectors/remove", {"ids": np.asarray(ids).reshape(-1).tolist()})
        return int(body["count"])
