"""Issue 15 in Chromium: defect 1 (a cached thumbnail shows another face after a delete) and defect 2
(any web page can enrol faces; DNS rebinding). Loopback only: the "attacker" is a page served from
another port of 127.0.0.1, and the rebinding name is mapped to 127.0.0.1 inside the browser."""

from __future__ import annotations

import functools
import http.server
import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from lookalike.faces.pipeline import FacePipeline
from lookalike.service.app import create_app
from tests.browser.conftest import find_chromium
from tests.service.live import free_port, live_server

pytestmark = pytest.mark.browser

EVIL_PAGE = """<!doctype html><meta charset="utf-8"><title>cute cats</title><script>
window.attack = async (target) => {
  const photo = await (await fetch('/face.jpg')).blob();
  const form = new FormData();
  form.append('person', 'Planted By Another Site');
  form.append('files', photo, 'face.jpg');
  try { await fetch(target + '/api/gallery/faces', {method: 'POST', mode: 'no-cors', body: form}); }
  catch (e) { return 'blocked: ' + e; }
  return 'sent';
};
</script>"""


@pytest.fixture
def service(gallery_copy: Path, pipeline: FacePipeline) -> Iterator[str]:
    with live_server(create_app(gallery_copy, token="", pipeline=pipeline)) as url:
        yield url


@pytest.fixture
def attacker_site(tmp_path: Path, photos: dict[str, Path]) -> Iterator[str]:
    """Another origin (another port on 127.0.0.1) serving a page that posts to the gallery."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "evil.html").write_text(EVIL_PAGE)
    (site / "face.jpg").write_bytes(photos["obama_enrol"].read_bytes())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def people(url: str) -> list[str]:
    return [p["name"] for p in httpx.get(url + "/api/gallery/people", params={"limit": 1000}).json()["people"]]


def test_another_site_cannot_enrol(browser: Any, service: str, attacker_site: str) -> None:
    """Defect 2: a page on another origin posts FormData with mode 'no-cors' to the gallery: refused."""
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        statuses: list[int] = []
        page.on("response", lambda r: statuses.append(r.status) if "/api/gallery/faces" in r.url else None)
        page.goto(attacker_site + "/evil.html")
        assert page.evaluate("(t) => window.attack(t)", service) == "sent"  # the browser did send it
        page.wait_for_timeout(500)
    finally:
        ctx.close()
    assert "Planted By Another Site" not in people(service)
    assert statuses in ([], [403]), statuses  # (an opaque answer may not be reported)


def test_the_page_still_works_and_dns_rebinding_is_refused(browser: Any, service: str, photos: dict[str, Path]) -> None:
    """Defect 2, DNS rebinding: a hostile name resolved to 127.0.0.1 gets 403 for the page and the API,
    while the service's own page at 127.0.0.1 still searches (its writes are same-origin)."""
    port = service.rsplit(":", 1)[1]
    rebinding = browser.browser_type.launch(
        executable_path=find_chromium(),
        args=["--no-sandbox", "--host-resolver-rules=MAP rebind.attacker.test 127.0.0.1"],
    )
    try:
        page = rebinding.new_page()
        resp = page.goto(f"http://rebind.attacker.test:{port}/")
        assert resp is not None and resp.status == 403
        api = page.evaluate("async () => (await fetch('/api/gallery/people')).status")
        assert api == 403
    finally:
        rebinding.close()
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        page.goto(service + "/")
        page.set_input_files("#file", str(photos["biden"]))
        page.wait_for_selector("#grid li", timeout=60_000)
        assert page.locator("#grid li").count() > 0
        # a same-origin write from the page itself is accepted
        status = page.evaluate("""async () => {
            const photo = await (await fetch('/api/gallery/faces/1/image')).blob();
            const form = new FormData(); form.append('person', 'Enrolled From The Page');
            form.append('files', photo, 'p.jpg');
            return (await fetch('/api/gallery/faces', {method: 'POST', body: form})).status; }""")
        assert status in (200, 201)  # 200: that photo is already in the gallery (same content)
    finally:
        ctx.close()


def shown_pixels(page: Any, src: str) -> np.ndarray:
    """The picture at ``src`` as the browser shows it (its HTTP cache included), as an RGB array."""
    rgba = page.evaluate(
        """async (src) => { const img = new Image(); img.src = src; await img.decode();
        const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
        const g = c.getContext('2d'); g.drawImage(img, 0, 0);
        return Array.from(g.getImageData(0, 0, c.width, c.height).data); }""",
        src,
    )
    side = round((len(rgba) // 4) ** 0.5)
    return np.array(rgba, dtype=np.float32).reshape(side, side, 4)[..., :3]


def served_pixels(url: str) -> np.ndarray:
    data = httpx.get(url, headers={"Cache-Control": "no-cache"}).content
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float32)


def test_a_cached_thumbnail_never_shows_another_face(browser: Any, service: str, photos: dict[str, Path]) -> None:
    """Defect 1: the browser caches A's thumbnail; A is deleted and B enrolled. B's thumbnail, as the
    browser shows it, is B's face (B never gets A's id, so no cached picture can stand for it)."""

    def enrol(person: str, photo: Path) -> dict[str, Any]:
        r = httpx.post(service + "/api/gallery/faces", data={"person": person},
                       files=[("files", (photo.name, photo.read_bytes(), "image/jpeg"))], timeout=60)
        assert r.status_code == 201, r.text
        return r.json()["added"][0]  # type: ignore[no-any-return]

    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        page.goto(service + "/")
        a = enrol("Person A", photos["obama_enrol"])
        a_url = f"/api/gallery/faces/{a['face_id']}/thumbnail"
        a_pixels = shown_pixels(page, a_url)  # now in the browser's cache (Cache-Control: max-age)
        assert httpx.delete(f"{service}/api/gallery/faces/{a['face_id']}").status_code == 200
        b = enrol("Person B", photos["biden_small"])
        b_url = f"/api/gallery/faces/{b['face_id']}/thumbnail"
        shown = shown_pixels(page, b_url)
        truth = served_pixels(service + b_url)
        assert b["face_id"] != a["face_id"]
        assert np.abs(shown - truth).mean() < 3, "the browser shows another picture than B's face"
        assert np.abs(shown - a_pixels).mean() > 10
    finally:
        ctx.close()
