"""Starting the services as a user does: `python -m lookalike.service [index]` (run.serve, serve_index)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from .._env import child_env
from .live import free_port


def start(*args: str) -> subprocess.Popen[str]:
    env = child_env()
    env.pop("LOOKALIKE_API_TOKEN", None)
    return subprocess.Popen(
        [sys.executable, "-m", "lookalike.service", *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def wait_json(url: str, proc: subprocess.Popen[str], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            return httpx.get(url, timeout=5).json()
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def test_two_services_from_the_command_line(base_gallery: Path) -> None:
    pi, pw = free_port(), free_port()
    index = start("index", "--gallery", str(base_gallery), "--port", str(pi))
    web = start("--gallery", str(base_gallery), "--port", str(pw), "--index-url", f"http://127.0.0.1:{pi}")
    try:
        assert wait_json(f"http://127.0.0.1:{pi}/health", index)["count"] > 0
        h = wait_json(f"http://127.0.0.1:{pw}/api/health", web)
        assert h["status"] == "ok" and h["mode"] == "two-service" and h["indexed"] == h["faces"]
    finally:
        for p in (web, index):
            p.terminate()
        outs = [p.communicate(timeout=20)[0] for p in (web, index)]
    assert f"open http://127.0.0.1:{pw}/" in outs[0]  # says where to open the page


def test_missing_gallery_exits_with_a_message(tmp_path: Path) -> None:
    p = start("--gallery", str(tmp_path / "none"), "--port", str(free_port()))
    out, _ = p.communicate(timeout=60)
    assert p.returncode == 1 and "no gallery" in out
