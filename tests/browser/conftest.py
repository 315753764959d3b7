"""Browser-test fixtures: Debian's chromium (installed with apt when missing), the live web service."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lookalike.faces.pipeline import FacePipeline
from lookalike.service.app import create_app
from tests.service.live import live_server

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"  # git-ignored


def find_chromium() -> str:
    """The chromium executable; installs Debian's package with apt when missing and running as root."""
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=False, env=env, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "chromium"], check=False, env=env, capture_output=True
        )
        if path := shutil.which("chromium"):
            return path
    pytest.fail(
        "the browser tests need Chromium: `apt-get install -y chromium` (or deselect with -m 'not browser')"
    )


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    exe = find_chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=exe,
            args=["--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"],
        )
        yield b
        b.close()


@pytest.fixture(scope="module")
def server_url(base_gallery: Path, pipeline: FacePipeline) -> Iterator[str]:
    with live_server(create_app(base_gallery, token="", pipeline=pipeline)) as url:
        yield url
