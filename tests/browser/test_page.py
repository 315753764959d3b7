"""The page in headless Chromium: upload a real photo, see numbered boxes and the person in the top 5;
a non-image, a photo without a face and a webcam snapshot give clear messages. Screenshots go to
tests/artifacts/ (git-ignored)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1200, "height": 900}
SELECTED = (255, 59, 107)  # the selected face's box colour in app.js


@pytest.fixture
def page_at(browser: Any, server_url: str) -> Iterator[Any]:
    contexts = []
    console_errors: list[str] = []

    def open_page(viewport: dict[str, int]) -> Any:
        ctx = browser.new_context(viewport=viewport, device_scale_factor=2, permissions=["camera"])
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.goto(server_url + "/")
        return page

    yield open_page
    for ctx in contexts:
        ctx.close()
    # a CSP violation or a script error shows up here; HTTP error answers (4xx) are expected ones
    assert [e for e in console_errors if "status of 4" not in e] == []


def box_pixel(page: Any, i: int = 0) -> tuple[int, ...]:
    """Colour of the canvas on the left edge of face box ``i``, halfway down."""
    return tuple(
        page.evaluate(
            """(i) => { const c = document.getElementById('photo'); const b = JSON.parse(c.dataset.boxes)[i];
        const r = c.width / parseFloat(c.style.width);
        const x = Math.round(b.x * r), y = Math.round((b.y + b.h / 2) * r);
        const p = c.getContext('2d').getImageData(x, y, 1, 1).data;
        return [p[0], p[1], p[2]]; }""",
            i,
        )
    )


def test_upload_shows_boxes_and_the_person_in_the_top_5(
    page_at: Any, photos: dict[str, Path], artifacts: Path
) -> None:
    page = page_at(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling
    page.set_input_files("#file", str(photos["biden"]))
    page.wait_for_selector("#grid li", timeout=60_000)
    boxes = page.evaluate("JSON.parse(document.getElementById('photo').dataset.boxes)")
    assert len(boxes) == 1 and boxes[0]["number"] == 1 and boxes[0]["w"] > 20
    px = box_pixel(page)
    assert all(abs(a - b) < 40 for a, b in zip(px, SELECTED)), px  # the box is really drawn
    cards = page.locator("#grid li")
    assert cards.count() == 10
    top5 = cards.evaluate_all("els => els.slice(0, 5).map(e => e.dataset.person)")
    assert "Joseph_Biden" in top5
    first = cards.first
    assert "Joseph Biden" in first.inner_text() and "#1" in first.inner_text() and "%" in first.inner_text()
    page.wait_for_function("() => document.querySelector('#grid li img').naturalWidth > 0")
    href = first.locator("a").evaluate("a => a.href")  # absolute URL of the whole photo
    full = page.request.get(href)
    assert full.status == 200 and full.headers["content-type"] == "image/jpeg"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(artifacts / "browser-search-phone.png"), full_page=True)


def test_several_faces_can_be_selected(page_at: Any, photos: dict[str, Path], artifacts: Path) -> None:
    page = page_at(DESKTOP)
    page.set_input_files("#file", str(photos["obama_and_biden"]))
    page.wait_for_selector("#grid li", timeout=60_000)
    buttons = page.locator("#faces button")
    assert buttons.count() >= 2
    assert page.inner_text("#matches-title") == "Face 1 looks like"
    first_grid = page.locator("#grid li").evaluate_all("els => els.map(e => e.dataset.person)")
    buttons.nth(1).click()
    assert page.inner_text("#matches-title") == "Face 2 looks like"
    assert buttons.nth(1).get_attribute("aria-pressed") == "true"
    assert page.locator("#grid li").evaluate_all("els => els.map(e => e.dataset.person)") != first_grid
    assert all(abs(a - b) < 40 for a, b in zip(box_pixel(page, 1), SELECTED))
    page.screenshot(path=str(artifacts / "browser-two-faces.png"), full_page=True)


def test_non_image_and_no_face_show_errors(page_at: Any, photos: dict[str, Path], artifacts: Path) -> None:
    page = page_at(PHONE)
    page.set_input_files(
        "#file",
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"these are notes, not a photo"}],
    )
    err = page.locator("#error")
    err.wait_for(state="visible", timeout=30_000)
    assert "could not be read as a photo" in err.inner_text()
    assert page.locator("#matches").is_hidden()
    page.screenshot(path=str(artifacts / "browser-not-an-image.png"), full_page=True)

    page.set_input_files("#file", str(photos["dogs"]))
    page.wait_for_function(
        "() => document.getElementById('error').textContent.startsWith('No face found')", timeout=60_000
    )
    page.screenshot(path=str(artifacts / "browser-no-face.png"), full_page=True)


def test_webcam_snapshot_is_sent(page_at: Any, artifacts: Path) -> None:
    """Chromium's fake camera shows a test pattern: the snapshot is analysed and has no face."""
    page = page_at(DESKTOP)
    page.click("#camera")
    page.wait_for_function("() => document.getElementById('video').videoWidth > 0", timeout=30_000)
    assert page.locator("#webcam").is_visible()
    page.click("#snap")
    page.wait_for_function(
        "() => document.getElementById('error').textContent.startsWith('No face found')", timeout=60_000
    )
    assert page.locator("#webcam").is_hidden()
    page.screenshot(path=str(artifacts / "browser-webcam.png"), full_page=True)
