"""Helpers of the page's browser tests (a plain module): viewports, a page with console-error capture,
screenshots at desktop and phone size, the axe-core accessibility check, holding back an answer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
#: axe-core impacts that fail a test
SERIOUS = ("serious", "critical")


@contextmanager
def open_page(browser: Any, url: str, viewport: dict[str, int] = DESKTOP, **context: Any) -> Iterator[Any]:
    """A fresh page at ``url``; fails the test on a script error or CSP violation (HTTP 4xx answers are
    expected ones)."""
    ctx = browser.new_context(viewport=viewport, device_scale_factor=1, **context)
    errors: list[str] = []
    page = ctx.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(url)
        yield page
    finally:
        ctx.close()
    assert [e for e in errors if "status of 4" not in e] == []


def serious_violations(page: Any) -> list[str]:
    """axe-core (the copy axe-playwright-python ships) on the page as it is: serious or critical
    violations, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    res = Axe().run(page).response
    return [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
            for v in res["violations"] if v["impact"] in SERIOUS]


def shots(page: Any, artifacts: Path, name: str) -> list[Path]:
    """Full-page screenshots at desktop and phone size (the phone one with no sideways scrolling);
    checks axe at both sizes. The paths are printed so a run shows where they are."""
    out = []
    for label, vp in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(vp)
        page.wait_for_timeout(150)  # the resize redraw
        if label == "phone":
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "sideways scrolling"
        bad = serious_violations(page)
        assert bad == [], f"{name} at {label} size: {bad}"
        path = artifacts / f"view-{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        print("screenshot:", path)
        out.append(path)
    page.set_viewport_size(DESKTOP)
    return out


class Held:
    """Holds back requests to a URL pattern in the browser: the next ``hold``-ed request is kept until
    :meth:`release` (then the browser sends it and gets the server's answer, after any request made
    meanwhile); other requests go through."""

    def __init__(self, page: Any, pattern: str) -> None:
        self.page = page
        self.holding = 0
        self.held: list[Any] = []
        page.route(pattern, self._handle)

    def hold(self, n: int = 1) -> None:
        self.holding += n

    def _handle(self, route: Any) -> None:
        if self.holding:
            self.holding -= 1
            self.held.append(route)
        else:
            route.continue_()

    def release(self) -> int:
        """Let the held requests go and wait for their answers (a request the page has cancelled
        meanwhile gets none); how many answers arrived."""
        delivered = 0
        for route in self.held:
            try:
                route.continue_()
            except PlaywrightError:  # the page aborted it: nothing to deliver
                continue
            delivered += route.request.response() is not None
        self.held.clear()
        self.page.wait_for_timeout(500)  # time to render what arrived
        return delivered
