"""Issue 18's defects of the look-alike page, each reproduced in headless Chromium on real photos (each
of these failed on the page before the fix): stale results after an error, an older answer overwriting
a newer one (the first answer is held back in the browser), TIFF/PGM previews, /docs with no network,
the byte-exact size message, a below-threshold percentage, the file input's tab stop and focus,
HEAD /, and faces past the first 20."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser._helpers import DESKTOP, Held, open_page

pytestmark = pytest.mark.browser
GREY = (229, 232, 239)  # the canvas's fill where no picture is drawn


def boxes(page: Any) -> list[dict[str, Any]]:
    return page.evaluate("JSON.parse(document.getElementById('photo').dataset.boxes || '[]')")


def face_buttons(page: Any) -> int:
    return page.locator("#faces button").count()


def test_an_error_clears_the_previous_result(browser: Any, server_url: str, photos: dict[str, Path]) -> None:
    with open_page(browser, server_url + "/") as page:
        page.set_input_files("#file", str(photos["obama_and_biden"]))
        page.wait_for_selector("#grid li", timeout=60_000)
        assert face_buttons(page) >= 2
        page.set_input_files("#file", str(photos["dogs"]))
        expect(page.locator("#error")).to_contain_text("No face found", timeout=60_000)
        assert face_buttons(page) == 0 and page.locator("#matches").is_hidden()
        page.set_viewport_size({"width": 1000, "height": 800})  # a resize redraws what is shown
        page.wait_for_timeout(300)
        assert boxes(page) == []  # the dogs, not the previous photo's boxes

        page.set_viewport_size(DESKTOP)
        page.set_input_files("#file", str(photos["obama_and_biden"]))
        page.wait_for_selector("#grid li", timeout=60_000)
        page.set_input_files(
            "#file", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a photo"}]
        )
        expect(page.locator("#error")).to_contain_text("could not be read as a photo", timeout=30_000)
        page.set_viewport_size({"width": 1000, "height": 800})
        page.wait_for_timeout(300)
        assert face_buttons(page) == 0 and boxes(page) == []
        assert page.locator("#result").is_hidden() and page.locator("#matches").is_hidden()


def test_an_older_answer_never_overwrites_a_newer_one(
    browser: Any, server_url: str, photos: dict[str, Path]
) -> None:
    with open_page(browser, server_url + "/") as page:
        search = Held(page, "**/api/search")
        search.hold()  # the group photo's answer comes last
        page.set_input_files("#file", str(photos["group"]))
        page.wait_for_function("() => document.getElementById('status').textContent.startsWith('Looking')")
        page.set_input_files("#file", str(photos["biden"]))
        expect(page.locator("#status")).to_contain_text("1 face found", timeout=60_000)
        search.release()
        assert page.inner_text("#status").startswith("1 face found")
        assert face_buttons(page) == 1 and len(boxes(page)) == 1


def test_an_older_show_n_answer_never_overwrites_a_newer_one(
    browser: Any, server_url: str, photos: dict[str, Path]
) -> None:
    """The same with "Show N": the answer for 5 arrives after the one for 20."""
    with open_page(browser, server_url + "/") as page:
        page.set_input_files("#file", str(photos["biden"]))
        page.wait_for_selector("#grid li", timeout=60_000)
        search = Held(page, "**/api/search")
        search.hold()
        page.select_option("#k", "5")
        page.wait_for_timeout(300)
        with page.expect_response("**/api/search", timeout=60_000):
            page.select_option("#k", "20")
        page.wait_for_function("() => document.querySelectorAll('#grid > li').length > 5", timeout=30_000)
        shown = page.locator("#grid > li").count()
        search.release()
        assert shown == page.locator("#grid > li").count() > 5


def _pixels(page: Any) -> list[tuple[int, int, int]]:
    """A 5×5 grid of the canvas's pixels."""
    return [tuple(p) for p in page.evaluate("""() => { const c = document.getElementById('photo');
        const ctx = c.getContext('2d'); const out = [];
        for (let i = 1; i <= 5; i++) for (let j = 1; j <= 5; j++) {
          const d = ctx.getImageData(Math.floor(c.width * i / 6), Math.floor(c.height * j / 6), 1, 1).data;
          out.push([d[0], d[1], d[2]]); }
        return out; }""")]


@pytest.mark.parametrize("fmt", ["TIFF", "PGM"])
def test_tiff_and_pgm_show_a_preview(
    browser: Any, server_url: str, photos: dict[str, Path], datasets: Path, tmp_path: Path, fmt: str
) -> None:
    if fmt == "TIFF":
        path = tmp_path / "biden.tif"
        Image.open(photos["biden"]).save(path, format="TIFF")
    else:
        path = datasets / "orl_att_faces" / "s1" / "1.pgm"
    with open_page(browser, server_url + "/") as page:
        page.set_input_files("#file", str(path))
        page.wait_for_function("() => !document.getElementById('result').hidden && "
                               "document.getElementById('photo').width > 0", timeout=60_000)
        px = _pixels(page)
        grey = sum(all(abs(a - b) < 6 for a, b in zip(p, GREY)) for p in px)
        assert grey < 5, f"{grey} of 25 pixels are the empty canvas's grey"
        assert len(set(px)) > 10  # a picture, not a flat fill


def test_docs_work_with_no_network(browser: Any, server_url: str) -> None:
    ctx = browser.new_context()
    outside: list[str] = []

    def only_the_service(route: Any) -> None:
        if route.request.url.startswith(server_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    try:
        page = ctx.new_page()
        page.route("**/*", only_the_service)
        page.goto(server_url + "/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("lookalike", timeout=30_000)
        expect(page.locator(".opblock-summary-path").first).to_be_visible()
        assert "/api/search" in page.inner_text(".swagger-ui")
        assert outside == []
    finally:
        ctx.close()


def test_one_byte_over_the_cap_says_so_exactly(browser: Any, server_url: str, tmp_path: Path) -> None:
    with open_page(browser, server_url + "/") as page:
        cap = int(page.evaluate("document.querySelector('[data-max-bytes]').dataset.maxBytes"))
        big = tmp_path / "big.jpg"
        with big.open("wb") as f:
            f.truncate(cap + 1)
        page.set_input_files("#file", str(big))
        expect(page.locator("#error")).to_be_visible(timeout=30_000)
        text = page.inner_text("#error")
        assert f"{cap + 1:,} bytes" in text and f"{cap:,} bytes" in text, text


def test_a_percentage_below_the_threshold_never_reads_as_the_threshold(
    browser: Any, server_url: str, photos: dict[str, Path]
) -> None:
    """The server's real answer (asked by the test), with the first look-alike's similarity set to 49.69 %."""
    with photos["biden"].open("rb") as f:
        answer = httpx.post(server_url + "/api/search", files={"file": f}, data={"k": "50"}, timeout=60).json()
    answer["faces"][0]["neighbours"][0]["similarity"] = 49.69
    with open_page(browser, server_url + "/") as page:
        page.route("**/api/search", lambda route: route.fulfill(json=answer))
        page.set_input_files("#file", str(photos["biden"]))
        page.wait_for_selector("#grid li", timeout=60_000)
        first = page.locator("#grid > li").first.inner_text()
        assert "49 %" in first and "50 %" not in first, first


def _focus_walk(page: Any, steps: int) -> list[dict[str, Any]]:
    out = []
    page.locator("body").focus()
    for _ in range(steps):
        page.keyboard.press("Tab")
        out.append(page.evaluate("""() => { const e = document.activeElement; const s = getComputedStyle(e);
            return {id: e.id, tag: e.tagName, text: (e.innerText || e.value || '').trim().slice(0, 30),
                    outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2}; }"""))
    return out


def test_the_file_input_is_no_second_tab_stop_and_focus_is_visible(browser: Any, server_url: str) -> None:
    with open_page(browser, server_url + "/") as page:
        walk = _focus_walk(page, 12)
        ids = [w["id"] for w in walk]
        assert "file" not in ids, walk
        assert ids.index("drop") < ids.index("camera") < ids.index("k"), walk
        assert all(w["outline"] for w in walk), [w for w in walk if not w["outline"]]


def test_head_answers_200(browser: Any, server_url: str) -> None:
    with open_page(browser, server_url + "/") as page:
        for path in ("/", "/identify", "/verify", "/gallery"):
            assert page.request.fetch(server_url + path, method="HEAD").status == 200, path


def test_every_face_of_a_crowd_is_reachable(browser: Any, server_url: str, group_photos: Path) -> None:
    """retinaface_img3.jpg: 23 faces, more than the 20 one answer searches."""
    with open_page(browser, server_url + "/") as page:
        page.set_input_files("#file", str(group_photos / "retinaface_img3.jpg"))
        page.wait_for_selector("#grid li", timeout=60_000)
        count = int(page.inner_text("#status").split()[0])
        assert count > 20
        assert face_buttons(page) == count
        page.locator("#faces button", has_text=f"Face {count}").click()
        expect(page.locator("#matches-title")).to_have_text(f"Face {count} looks like", timeout=60_000)
        assert page.locator("#grid > li").count() > 0
        assert count in [b["number"] for b in boxes(page)]

