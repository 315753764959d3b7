"""The people page in headless Chromium on a real gallery (ten LFW people): cluster, name, merge, undo,
split. Screenshots go to tests/artifacts/ (git-ignored)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from lookalike.faces.pipeline import FacePipeline
from lookalike.service.app import create_app
from tests.service.live import live_server

pytestmark = pytest.mark.browser


@pytest.fixture
def people_url(base_gallery: Path, pipeline: FacePipeline, tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "gallery"
    shutil.copytree(base_gallery, root)
    with live_server(create_app(root, token="", pipeline=pipeline)) as url:
        yield url


def cluster_cards(page: Any) -> list[dict[str, Any]]:
    return page.evaluate("""() => [...document.querySelectorAll('#clusters li.cluster')].map((el) => ({
        id: Number(el.dataset.cluster), faces: el.querySelectorAll('.faces button').length,
        name: el.querySelector('input.name').value }))""")


def test_cluster_name_merge_undo_split(browser: Any, people_url: str, artifacts: Path) -> None:
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page = ctx.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(people_url + "/clusters")
        expect(page.locator("#status")).to_contain_text("not grouped yet", timeout=60_000)
        page.click("#run")
        page.wait_for_selector("#clusters li.cluster", timeout=60_000)
        before = cluster_cards(page)
        assert len(before) >= 5 and all(c["faces"] >= 2 for c in before)  # groups of one are hidden
        # every thumbnail is a real picture
        assert page.evaluate("[...document.querySelectorAll('.faces img')].every((i) => i.complete)") is not None
        page.screenshot(path=str(artifacts / "clusters-page.png"), full_page=True)

        # name the largest group: it becomes a person of the gallery
        first = before[0]
        card = page.locator(f"li.cluster[data-cluster='{first['id']}']")
        card.locator("input.name").fill("Test Person")
        card.locator("button.save-name").click()
        expect(page.locator("#status")).to_contain_text("is now Test Person", timeout=60_000)
        people = httpx.get(people_url + "/api/gallery/people").json()["people"]
        assert any(p["name"] == "Test Person" and p["faces"] == first["faces"] for p in people)

        # merge the next two groups, then undo
        a, b = before[1], before[2]
        page.check(f"li.cluster[data-cluster='{a['id']}'] input.pick")
        page.check(f"li.cluster[data-cluster='{b['id']}'] input.pick")
        page.click("#merge")
        expect(page.locator("#status")).to_contain_text("Merged 2 groups", timeout=60_000)
        after = {c["id"]: c for c in cluster_cards(page)}
        assert b["id"] not in after and after[a["id"]]["faces"] == a["faces"] + b["faces"]
        page.click("#undo")
        expect(page.locator("#status")).to_contain_text("Undone", timeout=60_000)
        again = {c["id"]: c for c in cluster_cards(page)}
        assert again[a["id"]]["faces"] == a["faces"] and again[b["id"]]["faces"] == b["faces"]

        # split two faces off the named group
        card = page.locator(f"li.cluster[data-cluster='{first['id']}']")
        buttons = card.locator(".faces button")
        buttons.nth(0).click()
        buttons.nth(1).click()
        card.locator("button.split").click()
        expect(page.locator("#status")).to_contain_text("moved to the new group", timeout=60_000)
        final = {c["id"]: c for c in cluster_cards(page)}
        assert final[first["id"]]["faces"] == first["faces"] - 2 and final[first["id"]]["name"] == "Test Person"
        new = [c for c in final.values() if c["id"] not in {x["id"] for x in before}]
        assert len(new) == 1 and new[0]["faces"] == 2 and new[0]["name"] == ""
        page.screenshot(path=str(artifacts / "clusters-page-after.png"), full_page=True)
    finally:
        ctx.close()
    assert [e for e in errors if "status of 4" not in e] == []
