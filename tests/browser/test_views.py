"""The page's views in headless Chromium with real photos: look-alikes (one card per person, your face
beside each match, results beside the photo, busy state, downloads), Identify, Same person?, the
Gallery (browse, search, enrol and remove with the token) and dark mode. Each view is checked with
axe-core and screenshotted at desktop and 390×844 phone size into tests/artifacts/ (git-ignored)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from lookalike.faces.pipeline import FacePipeline
from lookalike.service.app import create_app
from tests.browser._helpers import DESKTOP, Held, open_page, serious_violations, shots
from tests.service.live import live_server

pytestmark = pytest.mark.browser
VIEWS = ["Look-alikes", "Identify", "Same person?", "Gallery", "Clusters", "Compose"]
TOKEN = "browser-test-token"


def test_lookalikes_one_card_per_person_beside_the_photo(
    browser: Any, server_url: str, photos: dict[str, Path], artifacts: Path, tmp_path: Path
) -> None:
    with open_page(browser, server_url + "/", accept_downloads=True) as page:
        nav = page.locator("nav.topnav ul a")
        assert nav.all_inner_texts() == VIEWS
        assert page.locator("nav a[aria-current=page]").inner_text() == "Look-alikes"
        page.set_input_files("#file", str(photos["biden"]))
        page.wait_for_selector("#grid li", timeout=60_000)
        cards = page.locator("#grid > li")
        people = cards.evaluate_all("els => els.map(e => e.dataset.person)")
        assert len(people) == 10 and len(set(people)) == 10  # ten distinct people, best face each
        first = cards.first
        assert first.get_attribute("data-person") == "Joseph_Biden"
        # your face next to the match, the similarity in words, the distance visible
        assert first.locator("img.you").get_attribute("alt") == "your face 1"
        page.wait_for_function("() => document.querySelector('#grid img.you').naturalWidth > 0")
        assert first.locator(".badge").inner_text().lower() == "same person"
        assert "distance 0." in first.inner_text()
        assert cards.nth(9).locator(".badge").inner_text().lower() == "look-alike"
        # the gallery holds five photos of him: the other four behind "more photos of"
        more = first.locator("button.more")
        assert more.inner_text() == "More photos of Joseph Biden (4)"
        more.click()
        assert more.get_attribute("aria-expanded") == "true"
        assert first.locator(".other-face").count() == 4
        # every face, not one per person: five Biden faces lead
        page.uncheck("#distinct")
        page.wait_for_function("() => document.querySelectorAll('#grid > li').length === 10 && "
                               "!document.getElementById('result').classList.contains('busy')", timeout=60_000)
        raw = cards.evaluate_all("els => els.map(e => e.dataset.person)")
        assert raw[:2] == ["Joseph_Biden", "Joseph_Biden"]
        page.check("#distinct")
        page.wait_for_function("() => new Set([...document.querySelectorAll('#grid > li')]"
                               ".map(e => e.dataset.person)).size === 10", timeout=60_000)
        # the results sit beside the photo on a desktop
        photo, results = page.locator("#canvas-wrap").bounding_box(), page.locator("#matches").bounding_box()
        assert results["x"] >= photo["x"] + photo["width"] and results["y"] < 400

        # downloads: the annotated photo (PNG) and the answer (JSON)
        with page.expect_download() as dl:
            page.click("#dl-photo")
        png = tmp_path / "annotated.png"
        dl.value.save_as(png)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and dl.value.suggested_filename.endswith(".png")
        with page.expect_download() as dl:
            page.click("#dl-json")
        answer = json.loads(Path(dl.value.path()).read_text())
        assert answer["face_count"] == 1 and answer["faces"][0]["neighbours"][0]["person"] == "Joseph_Biden"
        shots(page, artifacts, "lookalikes")

        # busy: while the next photo is analysed the old result is dimmed and its controls disabled
        held = Held(page, "**/api/search")
        held.hold()
        page.set_input_files("#file", str(photos["obama_and_biden"]))
        expect(page.locator("#result")).to_have_class("dims busy")
        assert page.locator("#matches").get_attribute("aria-busy") == "true"
        assert page.locator("#camera").is_disabled() and page.locator("#dl-json").is_disabled()
        assert page.locator("#faces button").first.is_disabled()
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(artifacts / "view-lookalikes-busy.png"))
        held.release()
        expect(page.locator("#result")).not_to_have_class("dims busy", timeout=60_000)
        assert page.locator("#faces button").count() >= 2 and page.locator("#camera").is_enabled()


def test_identify_names_a_known_face_and_not_a_stranger(
    browser: Any, server_url: str, photos: dict[str, Path], artifacts: Path
) -> None:
    with open_page(browser, server_url + "/identify") as page:
        assert page.locator("nav a[aria-current=page]").inner_text() == "Identify"
        page.set_input_files("#file", str(photos["biden"]))
        card = page.locator("#people-found > li").first
        expect(card).to_be_visible(timeout=60_000)
        assert card.get_attribute("data-person") == "Joseph_Biden"
        assert card.locator("h3").inner_text() == "Face 1: Joseph Biden"
        assert card.locator(".badge").inner_text().lower() == "same person"
        assert "distance 0." in card.inner_text() and "same person ≤ 0." in card.inner_text()
        assert card.locator(".near img").count() == 5 and card.locator("img.you").get_attribute("alt")
        assert len(json.loads(page.get_attribute("#photo", "data-boxes"))) == 1
        shots(page, artifacts, "identify")

        page.set_input_files("#file", str(photos["stranger"]))  # George W. Bush is not in the gallery
        expect(page.locator("#people-found > li h3")).to_have_text("Face 1: unknown", timeout=60_000)
        assert "Nobody in the gallery" in page.inner_text("#people-found")


def test_same_person_side_by_side(browser: Any, server_url: str, photos: dict[str, Path], artifacts: Path) -> None:
    with open_page(browser, server_url + "/verify") as page:
        assert page.locator("nav a[aria-current=page]").inner_text() == "Same person?"
        page.set_input_files("#file-a", str(photos["biden"]))
        expect(page.locator("#status")).to_contain_text("second photo", timeout=30_000)
        page.set_input_files("#file-b", str(photos["biden_small"]))
        expect(page.locator("#verdict-title")).to_have_text("Same person", timeout=60_000)
        detail = page.inner_text("#verdict-detail")
        assert "within the same-person threshold 0." in detail and "distance" in detail.lower()
        a, b = page.locator("#photo-a").bounding_box(), page.locator("#photo-b").bounding_box()
        assert b["x"] > a["x"] + a["width"] - 1 and abs(a["y"] - b["y"]) < 5  # side by side
        assert len(json.loads(page.get_attribute("#photo-a", "data-boxes"))) == 1
        shots(page, artifacts, "verify")

        page.set_input_files("#file-b", str(photos["obama"]))
        expect(page.locator("#verdict-title")).to_have_text("Different people", timeout=60_000)
        assert "beyond the same-person threshold" in page.inner_text("#verdict-detail")
        assert page.locator("#verdict .badge").inner_text().lower() == "look-alike"


@pytest.fixture
def writable_url(gallery_copy: Path, pipeline: FacePipeline) -> Iterator[str]:
    with live_server(create_app(gallery_copy, token=TOKEN, pipeline=pipeline)) as url:
        yield url


def test_gallery_browse_enrol_and_remove_with_the_token(
    browser: Any, writable_url: str, photos: dict[str, Path], artifacts: Path
) -> None:
    with open_page(browser, writable_url + "/gallery") as page:
        people = page.locator("#people > li")
        expect(people).to_have_count(10, timeout=30_000)
        page.wait_for_function("() => [...document.querySelectorAll('#people img')].every(i => i.naturalWidth > 0)")
        page.fill("#q", "jol")
        expect(people).to_have_count(1, timeout=10_000)
        people.first.locator("button").click()
        expect(page.locator("#person-title")).to_have_text("Angelina Jolie — 5 faces", timeout=10_000)
        assert page.locator("#person-faces img").count() == 5
        assert all(page.locator("#person-faces img").evaluate_all("els => els.map(e => e.alt.length > 0)"))
        shots(page, artifacts, "gallery")

        # enrol two photos of a new person: refused without the token, done with it
        page.fill("#enrol-name", "Barack Obama")
        page.set_input_files("#enrol-files", [str(photos["obama_enrol"]), str(photos["obama_enrol2"])])
        page.click("#enrol-go")
        expect(page.locator("#error")).to_contain_text("API token", timeout=60_000)
        page.fill("#token", TOKEN)
        page.set_input_files("#enrol-files", [str(photos["obama_enrol"]), str(photos["obama_enrol2"])])
        page.click("#enrol-go")
        expect(page.locator("#status")).to_contain_text("Added 2 faces of Barack Obama", timeout=60_000)
        expect(page.locator("#person-title")).to_have_text("Barack Obama — 2 faces")
        listed = httpx.get(writable_url + "/api/gallery/people", params={"q": "obama"}).json()["people"]
        assert [(p["name"], p["faces"]) for p in listed] == [("Barack Obama", 2)]

        # remove one of his faces
        face_id = page.locator("#person-faces > li").first.get_attribute("data-face-id")
        page.locator("#person-faces button.remove").first.click()
        expect(page.locator("#status")).to_contain_text(f"Removed face {face_id}", timeout=30_000)
        expect(page.locator("#person-title")).to_have_text("Barack Obama — 1 face")
        left = httpx.get(writable_url + "/api/gallery/people/Barack Obama/faces").json()["faces"]
        assert [f["face_id"] for f in left] != [int(face_id)] and len(left) == 1


def test_dark_mode_follows_the_system(browser: Any, server_url: str, photos: dict[str, Path], artifacts: Path) -> None:
    with open_page(browser, server_url + "/", color_scheme="dark") as page:
        page.set_input_files("#file", str(photos["obama_and_biden"]))
        page.wait_for_selector("#grid li", timeout=60_000)
        rgb = page.evaluate("getComputedStyle(document.body).backgroundColor")
        r, g, b = (int(x) for x in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])
        assert max(r, g, b) < 60, rgb
        assert serious_violations(page) == []
        page.screenshot(path=str(artifacts / "view-lookalikes-dark-desktop.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(150)
        page.screenshot(path=str(artifacts / "view-lookalikes-dark-phone.png"), full_page=True)
        page.set_viewport_size(DESKTOP)


def test_every_view_is_keyboard_reachable_in_order(browser: Any, server_url: str) -> None:
    """Tab from the top of each view: the skip link, the views in order, then the view's own
    controls, each with a visible focus ring; no file input is a tab stop of its own. axe-core finds
    nothing serious on the empty views either."""
    first_control = {"/": "drop", "/identify": "drop", "/verify": "drop-a", "/gallery": "q"}
    for path, control in first_control.items():
        with open_page(browser, server_url + path) as page:
            assert serious_violations(page) == [], path  # the empty view too
            page.locator("body").focus()
            seen = []
            for _ in range(len(VIEWS) + 4):
                page.keyboard.press("Tab")
                seen.append(page.evaluate("""() => { const e = document.activeElement, s = getComputedStyle(e);
                    return [e.id || e.textContent.trim(), s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2,
                            e.type === 'file']; }"""))
            names = [s[0] for s in seen]
            assert names[:len(VIEWS) + 2] == ["Skip to the content", "lookalike", *VIEWS], (path, names)
            assert names[len(VIEWS) + 2] == control, (path, names)
            assert all(s[1] for s in seen), (path, seen)
            assert not any(s[2] for s in seen if s[0] != "enrol-files"), (path, seen)
