"""Issue 15, defect 8: slow and idle connections are timed out, and 64 of them cannot starve real clients.

The index service runs as a user starts it (``python -m lookalike.service index``, the uvicorn
configuration both services share), with its head and body deadlines shortened through the
environment so that the test sees them fire within seconds. 64 hostile sockets (idle, headers a byte
at a time, body a byte at a time) are opened first; real clients are then answered 200, and every
hostile socket is closed by the server within its deadline. Loopback only, bounded (< 20 s).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from lookalike.gallery import Gallery
from tests._env import child_env
from tests.service.live import free_port

pytestmark = pytest.mark.reliability

HEAD_S, BODY_S = 3.0, 5.0
SLOW = 64


def wait_up(url: str, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not start")


class Slow:
    """One hostile connection: idle, dripping its head, or dripping its body; records when it was closed."""

    def __init__(self, port: int, kind: str) -> None:
        self.kind = kind
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setblocking(False)
        self.closed_at: float | None = None
        self.opened = time.monotonic()
        if kind == "body":
            self.sock.sendall(b"POST /search HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                              b"content-length: 100000\r\n\r\n{")
        elif kind == "head":
            self.sock.sendall(b"GET /health HTTP/1.1\r\n")

    def tick(self) -> None:
        """Send one more byte (heads and bodies) and notice whether the server closed the socket."""
        if self.closed_at is not None:
            return
        try:
            data = self.sock.recv(4096)
            if data == b"" or b"408" in data:
                self.closed_at = time.monotonic()
                return
        except BlockingIOError:
            pass
        except OSError:
            self.closed_at = time.monotonic()
            return
        try:
            if self.kind == "head":
                self.sock.send(b"X")
            elif self.kind == "body":
                self.sock.send(b" ")
        except OSError:
            self.closed_at = time.monotonic()


@pytest.mark.slow
def test_64_slow_clients_cannot_starve_real_ones(base_gallery: Path, tmp_path: Path) -> None:
    with Gallery.open(base_gallery, create=False) as g:
        _, vecs = g.store.embeddings()
    port = free_port()
    env = {**child_env(), "LOOKALIKE_HEAD_TIMEOUT": str(HEAD_S), "LOOKALIKE_BODY_TIMEOUT": str(BODY_S)}
    env.pop("LOOKALIKE_API_TOKEN", None)
    log = (tmp_path / "server.log").open("w")  # a file, not a pipe nobody reads: the server never blocks
    proc = subprocess.Popen(
        [sys.executable, "-m", "lookalike.service", "index", "--gallery", str(base_gallery), "--port", str(port)],
        env=env, text=True, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    slow: list[Slow] = []
    stop = threading.Event()
    try:
        wait_up(f"{url}/health", proc)
        kinds = ["idle", "head", "body"]
        slow = [Slow(port, kinds[i % 3]) for i in range(SLOW)]

        def drip() -> None:
            while not stop.is_set():
                for s in slow:
                    s.tick()
                stop.wait(0.5)

        dripper = threading.Thread(target=drip, daemon=True)
        dripper.start()
        time.sleep(0.5)
        # real clients, while all 64 hostile sockets are held open
        latencies, codes = [], []
        with httpx.Client(base_url=url, timeout=10) as http:
            for i in range(20):
                t = time.monotonic()
                r = http.get("/health") if i % 2 else http.post(
                    "/search", json={"vectors": vecs[i : i + 1].tolist(), "k": 3})
                latencies.append(time.monotonic() - t)
                codes.append(r.status_code)
        assert codes == [200] * 20, codes
        assert max(latencies) < 1.0, latencies
        # every hostile socket is closed by the server within its deadline (+ slack for a busy machine)
        deadline = time.monotonic() + BODY_S + HEAD_S + 4
        while time.monotonic() < deadline and any(s.closed_at is None for s in slow):
            time.sleep(0.2)
        open_ = [s.kind for s in slow if s.closed_at is None]
        assert open_ == [], f"{len(open_)} slow connections still open: {sorted(set(open_))}"
        held = {k: max(s.closed_at - s.opened for s in slow if s.kind == k) for k in kinds}  # type: ignore[operator]
        assert held["idle"] < HEAD_S + 2 and held["head"] < HEAD_S + 2 and held["body"] < HEAD_S + BODY_S + 2, held
        assert httpx.get(f"{url}/health", timeout=5).status_code == 200
    finally:
        stop.set()
        for s in slow:
            s.sock.close()
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
