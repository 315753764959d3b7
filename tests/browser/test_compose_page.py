"""The /compose page in headless Chromium: read a folder's labels by a pattern, pick a person and an
expression, see the nearest photos (thumbnails load); an unknown-person error is shown. Screenshot
goes to tests/artifacts/ (git-ignored)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from lookalike.faces.pipeline import FacePipeline
from lookalike.gallery import Gallery
from lookalike.service.app import create_app
from tests.service.live import live_server

pytestmark = pytest.mark.browser
YALE6 = r"(?P<person>subject0[1-6])\.(?P<expression>happy|normal|sad|sleepy|surprised|wink)\.gif$"


@pytest.fixture
def compose_url(datasets: Path, pipeline: FacePipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                ) -> Iterator[str]:
    monkeypatch.setenv("LOOKALIKE_COMPOSE_ROOT", str(datasets))
    Gallery.open(tmp_path / "g", create=True).close()
    with live_server(create_app(tmp_path / "g", token="", pipeline=pipeline)) as url:
        yield url


def test_compose_page(browser: Any, compose_url: str, artifacts: Path) -> None:
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page = ctx.new_page()
    failed: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "Failed to load" not in m.text else None)
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        page.goto(compose_url + "/compose")
        page.fill("#folder", "yale_faces")
        page.fill("#regex", "(?P<who>x)")
        page.click("#load")
        expect(page.locator("#error")).to_contain_text("(?P<person>…)", timeout=30_000)
        page.fill("#regex", YALE6)
        page.click("#load")
        expect(page.locator("#labels-status")).to_contain_text("36 photos, 6 people", timeout=30_000)
        page.select_option("#person", "subject04")
        page.select_option("select[data-kind=expression]", "happy")
        page.fill("#k", "6")
        page.click("#go")
        page.wait_for_selector("#results li", timeout=120_000)
        captions = page.locator("#results li div").all_inner_texts()
        assert len(captions) == 6 and captions[0].startswith("1. subject04 · expression=happy")
        assert page.locator("#results li.hit").count() == 1  # the asked-for photo is marked
        page.wait_for_function("[...document.querySelectorAll('#results img')].every((i) => i.complete && i.naturalWidth > 0)",
                               timeout=30_000)
        page.screenshot(path=str(artifacts / "compose-page.png"), full_page=True)
        assert not errors, errors
        unexpected = [f for f in failed if "favicon" not in f and not f.startswith("400 ") or "/photo" in f]
        assert not unexpected, unexpected  # only the bad pattern's 400 (and a missing favicon)
        assert any(f.startswith("400 ") and f.endswith("/api/compose/labels") for f in failed)
    finally:
        ctx.close()
