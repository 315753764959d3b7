"""What the page's views need from the service: the views themselves (GET and HEAD), a preview of a
photo browsers cannot show, a person's faces, a thumbnail face per person, and /docs from packaged
assets (no CDN)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from lookalike.faces.pipeline import FacePipeline
from lookalike.service.app import create_app
from tests._galleries import PEOPLE, PER_PERSON

from .live import TestClient


@pytest.fixture(scope="module")
def client(base_gallery: Path, pipeline: FacePipeline) -> Iterator[TestClient]:
    with TestClient(create_app(base_gallery, token="", pipeline=pipeline)) as c:
        yield c


@pytest.mark.parametrize("path", ["/", "/identify", "/verify", "/gallery", "/clusters"])
def test_views_have_the_nav(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    for href in ("/", "/identify", "/verify", "/gallery", "/clusters"):
        assert f'href="{href}"' in page.text
    assert 'aria-current="page"' in page.text


@pytest.mark.parametrize("path", ["/", "/identify", "/verify", "/gallery"])
def test_views_answer_head(client: TestClient, path: str) -> None:
    head = client.head(path)
    assert head.status_code == 200 and head.content == b""


def test_preview_of_a_tiff_and_a_pgm(client: TestClient, photos: dict[str, Path], datasets: Path) -> None:
    buf = io.BytesIO()
    src = Image.open(photos["biden"])
    src.save(buf, format="TIFF")
    r = client.post("/api/preview", files={"file": ("b.tif", buf.getvalue(), "image/tiff")})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert (int(r.headers["x-image-width"]), int(r.headers["x-image-height"])) == src.size
    prev = Image.open(io.BytesIO(r.content))
    assert prev.format == "JPEG" and max(prev.size) <= 1280
    pgm = (datasets / "orl_att_faces" / "s1" / "1.pgm").read_bytes()
    r = client.post("/api/preview", files={"file": ("1.pgm", pgm, "image/x-portable-graymap")})
    assert r.status_code == 200 and (r.headers["x-image-width"], r.headers["x-image-height"]) == ("92", "112")


def test_preview_refuses_what_is_not_a_photo(client: TestClient) -> None:
    r = client.post("/api/preview", files={"file": ("notes.txt", b"not a photo", "text/plain")})
    assert r.status_code == 415 and r.json()["error"]["type"] == "UnreadableImageError"  # as /api/search answers


def test_people_have_a_thumbnail_face_and_a_list_of_faces(client: TestClient) -> None:
    people = client.get("/api/gallery/people").json()["people"]
    assert len(people) == len(PEOPLE) and all(p["face_id"] for p in people)
    jolie = next(p for p in people if p["name"] == "Angelina_Jolie")
    faces = client.get("/api/gallery/people/Angelina_Jolie/faces").json()
    assert faces["name"] == "Angelina_Jolie" and len(faces["faces"]) == jolie["faces"] == PER_PERSON
    assert faces["faces"][0]["face_id"] == jolie["face_id"]  # the cover is the first face
    assert all(f["image"].startswith("Angelina_Jolie_") for f in faces["faces"])
    thumb = client.get(faces["faces"][0]["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    missing = client.get("/api/gallery/people/Nobody%20At%20All/faces")
    assert missing.status_code == 404 and "Nobody At All" in missing.json()["error"]["message"]


def test_docs_come_from_packaged_assets(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200 and "cdn." not in page.text and "/docs-assets/" in page.text
        assert "cdn." not in page.headers["content-security-policy"]
    js = client.get("/docs-assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
    assert client.get("/docs-assets/swagger-ui.css").status_code == 200


def test_a_name_with_a_slash_has_its_faces(gallery_copy: Path, pipeline: FacePipeline, photos: dict[str, Path]) -> None:
    with TestClient(create_app(gallery_copy, token="", pipeline=pipeline)) as c:
        r = c.post("/api/gallery/faces", data={"person": "AC/DC"},
                   files={"files": ("a.jpg", photos["obama_enrol"].read_bytes(), "image/jpeg")})
        assert r.status_code == 201, r.text
        faces = c.get("/api/gallery/people/AC%2FDC/faces").json()
        assert faces["name"] == "AC/DC" and [f["face_id"] for f in faces["faces"]] == [r.json()["added"][0]["face_id"]]
