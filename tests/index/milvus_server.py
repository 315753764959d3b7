"""A real Milvus standalone server for tests, from PyPI's ``milvus`` package, on 127.0.0.1.

Started on free ports in a temporary folder, killed by pid when a test wants a crash, restarted on
the same folder and port, and stopped and deleted at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SESSION_TTL_S = 10  # Milvus exits when its etcd lease lapses: not too short on a loaded machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bind_reusing(port: int) -> socket.socket | None:
    """The launcher's port probe, with SO_REUSEADDR (as the server itself listens)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen()
    except OSError:
        sock.close()
        return None
    return sock


def installed() -> bool:
    try:
        import milvus  # noqa: F401
    except ImportError:
        return False
    return True


class MilvusServerProcess:
    """One ``milvus run standalone`` process (embedded etcd, local storage) in ``base``."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port: int | None = None
        self._server: Any = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return int(self._server.server_proc.pid)

    def start(self, timeout_s: float = 120) -> None:
        """Start (or restart, on the same folder and port) and wait until it answers."""
        from milvus import MilvusServer, MilvusServerConfig

        if self.port is None:
            self.port = free_port()
        # every other port: free ones the launcher finds from these starting points
        config = MilvusServerConfig(proxy_port=self.port)
        srv = MilvusServer(config)
        srv.set_base_dir(str(self.base))
        for key in list(srv.config.configurable_items):
            if key.endswith("_port") and key != "proxy_port":
                srv.config.configurable_items[key][1] = free_port()
        srv.webservice_port = free_port()
        srv.config.try_bind_port = _bind_reusing  # a restart finds its port in TIME_WAIT
        # a restart after a kill waits for the dead server's etcd session to expire (30 s by default)
        srv.config.set("common.session.ttl", SESSION_TTL_S)
        self._server = srv
        start = time.monotonic()
        srv.start()
        from pymilvus import MilvusClient

        while True:  # healthz answers before the proxy does
            try:
                MilvusClient(uri=self.uri, timeout=5).close()
                return
            except Exception:
                if time.monotonic() - start > timeout_s:
                    raise
                time.sleep(0.5)

    def check_alive(self) -> None:
        """Fail with the end of the server's log if the process has died."""
        proc = self._server.server_proc if self._server is not None else None
        if proc is None or proc.poll() is not None:
            logs = sorted((self.base / "logs").glob("*.log")) if (self.base / "logs").is_dir() else []
            tail = "".join(p.read_text(errors="replace")[-1500:] for p in logs[-2:])
            pytest.fail(f"the test Milvus server is not running (exit {proc and proc.returncode}):\n{tail}")

    def kill(self) -> None:
        """SIGKILL by pid: no shutdown of any kind."""
        os.kill(self.pid, signal.SIGKILL)
        self._server.server_proc.wait(timeout=30)
        self._server.server_proc = None
        self._server.stop()  # closes its log files

    def stop(self) -> None:
        if self._server is not None:
            proc = self._server.server_proc
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except Exception:  # noqa: BLE001
                    proc.kill()
                    proc.wait(timeout=10)
                self._server.server_proc = None
            self._server.stop()
            self._server = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="session")
def milvus_server() -> Iterator[MilvusServerProcess]:
    """One real Milvus server for the session (registered in tests/conftest.py)."""
    if not installed():
        pytest.skip("PyPI's milvus package (the server) is not installed: pip install 'lookalike[scale]'")
    import tempfile

    srv = MilvusServerProcess(Path(tempfile.mkdtemp(prefix="lookalike-milvus-server-")))
    try:
        srv.start()
        yield srv
    finally:
        srv.cleanup()


def index_case(case: str, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """``"milvus@server"`` → ("milvus", {"uri": the test server}); any other name → (name, {})."""
    if case.endswith("@server"):
        srv = request.getfixturevalue("milvus_server")
        srv.check_alive()
        return case.split("@")[0], {"uri": srv.uri, "collection": f"t_{os.getpid()}_{next(_SEQ)}"}
    return case, {}


_SEQ = iter(range(10**9))
