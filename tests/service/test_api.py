"""REST API on a real gallery of LFW photos: every endpoint, with good and bad input."""

from __future__ import annotations

import io
import itertools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from lookalike.errors import LookalikeError
from lookalike.faces.pipeline import FacePipeline
from lookalike.gallery import Gallery
from lookalike.gallery.gallery import DEFAULT_INDEX
from lookalike.service.app import create_app
from lookalike.service.config import ServiceConfig
from tests._galleries import PEOPLE

from .live import TestClient, live_server

STAGES = ["decode", "detect", "align", "embed", "search"]


@pytest.fixture(scope="module")
def client(base_gallery: Path, pipeline: FacePipeline) -> Iterator[TestClient]:
    with TestClient(create_app(base_gallery, token="", pipeline=pipeline)) as c:
        yield c


def upload(path: Path | bytes, name: str = "photo.jpg", field: str = "file") -> dict:
    data = path if isinstance(path, bytes) else path.read_bytes()
    return {field: (name, data, "application/octet-stream")}


def error(resp: httpx.Response, status: int, kind: str) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()["error"]
    assert body["type"] == kind, body
    return body["message"]


def server_timing(resp: httpx.Response) -> dict[str, float]:
    out = {}
    for part in resp.headers["server-timing"].split(","):
        name, dur = part.strip().split(";dur=")
        out[name] = float(dur)
    return out


# the page and the docs -------------------------------------------------------------------------
def test_page_static_and_security_headers(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="drop"' in page.text and 'id="camera"' in page.text and f"{len(PEOPLE)} people" in page.text
    for resp in (page, client.get("/static/app.js"), client.get("/api/health")):
        h = resp.headers
        assert h["x-content-type-options"] == "nosniff"
        assert h["x-frame-options"] == "DENY"
        assert h["referrer-policy"] == "no-referrer"
        assert "script-src 'self'" in h["content-security-policy"]
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert "unsafe-inline" not in h["content-security-policy"]
    assert (
        client.get("/static/app.js")
        .headers["content-type"]
        .startswith(("text/javascript", "application/javascript"))
    )
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/%2e%2e/app.py").status_code == 404


def test_openapi_lists_every_endpoint(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path, method in [
        ("/api/search", "post"),
        ("/api/verify", "post"),
        ("/api/identify", "post"),
        ("/api/gallery/faces", "post"),
        ("/api/gallery/faces/{face_id}", "delete"),
        ("/api/gallery/people", "get"),
        ("/api/gallery/faces/{face_id}/thumbnail", "get"),
        ("/api/gallery/faces/{face_id}/image", "get"),
        ("/api/health", "get"),
    ]:
        assert method in paths[path], path
    body = paths["/api/search"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} <= set(body)
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_health(client: TestClient) -> None:
    h = client.get("/api/health").json()
    assert h["status"] == "ok" and h["mode"] == "one-process"
    assert h["people"] == len(PEOPLE) and h["faces"] == h["indexed"] > 0
    assert h["embedder"] == "dlib-resnet-v1" and h["index"] == DEFAULT_INDEX and h["threshold"] > 0


# search -----------------------------------------------------------------------------------------
def test_search_photo_finds_the_person(client: TestClient, photos: dict[str, Path]) -> None:
    resp = client.post("/api/search", files=upload(photos["biden"]), data={"k": "5"})
    assert resp.status_code == 200, resp.text
    ans = resp.json()
    with Image.open(photos["biden"]) as im:
        assert (ans["width"], ans["height"]) == im.size
    assert ans["face_count"] == len(ans["faces"]) == 1
    [face] = ans["faces"]
    assert face["number"] == 1 and face["box"]["right"] > face["box"]["left"]
    nb = face["neighbours"]
    assert [n["rank"] for n in nb] == [1, 2, 3, 4, 5]
    assert nb[0]["person"] == "Joseph_Biden"
    assert all(a["distance"] <= b["distance"] for a, b in itertools.pairwise(nb))
    assert 100 >= nb[0]["similarity"] >= nb[-1]["similarity"] >= 0
    assert "/" not in nb[0]["image"] and nb[0]["image"].startswith("Joseph_Biden_")  # no server path
    timing = server_timing(resp)
    assert list(timing) == STAGES and all(v >= 0 for v in timing.values())

    thumb = client.get(nb[0]["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumb.content)).size == (150, 150)
    full = client.get(nb[0]["image_url"])
    assert full.status_code == 200 and full.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(full.content)).size == (250, 250)  # the LFW photo


def test_search_face_selection(client: TestClient, photos: dict[str, Path]) -> None:
    everyone = client.post("/api/search", files=upload(photos["obama_and_biden"]), data={"k": "3"}).json()
    n = everyone["face_count"]
    assert n >= 2 and [f["number"] for f in everyone["faces"]] == list(range(1, n + 1))
    areas = [
        (f["box"]["right"] - f["box"]["left"]) * (f["box"]["bottom"] - f["box"]["top"])
        for f in everyone["faces"]
    ]
    assert areas == sorted(areas, reverse=True)
    assert "Joseph_Biden" in [f["neighbours"][0]["person"] for f in everyone["faces"][:2]]
    for number in (2, "largest"):
        one = client.post(
            "/api/search", files=upload(photos["obama_and_biden"]), data={"k": "3", "face": str(number)}
        )
        assert one.status_code == 200
        [face] = one.json()["faces"]
        want = everyone["faces"][(number if isinstance(number, int) else 1) - 1]
        assert face["box"] == want["box"] and one.json()["face_count"] == n
        assert [x["face_id"] for x in face["neighbours"]] == [x["face_id"] for x in want["neighbours"]]
        # one query or a batch of several: BLAS may round the last digit differently
        assert np.allclose(
            [x["distance"] for x in face["neighbours"]],
            [x["distance"] for x in want["neighbours"]],
            atol=1e-5,
        )
    msg = error(
        client.post("/api/search", files=upload(photos["obama_and_biden"]), data={"face": "99"}),
        400,
        "LookalikeError",
    )
    assert f"{n} face" in msg
    error(
        client.post("/api/search", files=upload(photos["biden"]), data={"face": "nobody"}),
        400,
        "LookalikeError",
    )
    error(
        client.post("/api/search", files=upload(photos["biden"]), data={"face": "0"}), 400, "LookalikeError"
    )


@pytest.mark.parametrize("k", ["0", "101", "ten"])
def test_search_bad_k(client: TestClient, photos: dict[str, Path], k: str) -> None:
    error(client.post("/api/search", files=upload(photos["biden"]), data={"k": k}), 422, "ValidationError")


def test_search_vectors_as_json(client: TestClient, base_gallery: Path) -> None:
    with Gallery.open(base_gallery, create=False) as g:
        ids, vecs = g.store.embeddings()
    resp = client.post("/api/search", json={"vector": vecs[3].tolist(), "k": 4})
    assert resp.status_code == 200, resp.text
    [face] = resp.json()["faces"]
    assert face["box"] is None and face["neighbours"][0]["face_id"] == int(ids[3])
    assert face["neighbours"][0]["distance"] < 1e-3 and len(face["neighbours"]) == 4
    many = client.post("/api/search", json={"vectors": vecs[:3].tolist(), "k": 1}).json()
    assert [f["neighbours"][0]["face_id"] for f in many["faces"]] == ids[:3].tolist()

    error(client.post("/api/search", json={"vector": [0.1] * 64}), 400, "IndexMismatchError")
    error(client.post("/api/search", json={"vectors": [[0.1] * 128, [0.1] * 127]}), 400, "LookalikeError")
    error(client.post("/api/search", json={}), 400, "LookalikeError")
    error(client.post("/api/search", json={"vector": "abc"}), 422, "ValidationError")
    error(client.post("/api/search", json={"vector": [0.1] * 128, "k": 0}), 422, "ValidationError")
    nan = '{"vector": [NaN' + ", 0.1" * 127 + "]}"
    error(
        client.post("/api/search", content=nan, headers={"content-type": "application/json"}),
        400,
        "LookalikeError",
    )
    error(
        client.post("/api/search", content=b"{not json", headers={"content-type": "application/json"}),
        400,
        "LookalikeError",
    )
    error(
        client.post("/api/search", content=b"hello", headers={"content-type": "text/plain"}), 415, "HTTPError"
    )


def test_search_bad_uploads(client: TestClient, photos: dict[str, Path]) -> None:
    error(
        client.post("/api/search", files=upload(b"this is not an image", "notes.txt")),
        415,
        "UnreadableImageError",
    )
    error(client.post("/api/search", files=upload(b"", "empty.jpg")), 415, "UnreadableImageError")
    truncated = photos["biden"].read_bytes()[:3000]
    error(client.post("/api/search", files=upload(truncated)), 415, "UnreadableImageError")
    error(
        client.post("/api/search", data={"k": "5"}, files={"other": ("x", b"1")}), 415, "UnreadableImageError"
    )
    msg = error(client.post("/api/search", files=upload(photos["dogs"])), 422, "NoFaceError")
    assert "no face" in msg
    bad = client.post(
        "/api/search",
        content=b"--xyz\r\nbroken",
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert bad.status_code in (400, 415, 422)


def test_size_and_pixel_caps(base_gallery: Path, pipeline: FacePipeline, photos: dict[str, Path]) -> None:
    data = photos["biden"].read_bytes()
    cfg = ServiceConfig(max_bytes=len(data) - 1)
    with TestClient(create_app(base_gallery, token="", config=cfg, pipeline=pipeline)) as c:
        assert "MiB" in error(c.post("/api/search", files=upload(data)), 413, "ImageTooLargeError")
        big = b"x" * (cfg.max_body + 10)
        assert "larger than" in error(c.post("/api/search", files=upload(big)), 413, "ImageTooLargeError")
    with TestClient(
        create_app(base_gallery, token="", config=ServiceConfig(max_pixels=500_000), pipeline=pipeline)
    ) as c:
        assert "megapixels" in error(c.post("/api/search", files=upload(data)), 413, "ImageTooLargeError")


def test_request_timeout_answers_503(
    base_gallery: Path, pipeline: FacePipeline, photos: dict[str, Path]
) -> None:
    cfg = ServiceConfig(request_timeout=0.001)
    with TestClient(create_app(base_gallery, token="", config=cfg, pipeline=pipeline)) as c:
        assert "busy" in error(
            c.post("/api/search", files=upload(photos["biden"])), 503, "ServiceUnavailableError"
        )


def test_cpu_work_does_not_block_the_server(
    base_gallery: Path, pipeline: FacePipeline, photos: dict[str, Path]
) -> None:
    """While a photo is analysed in the thread pool, the event loop still answers other requests."""
    app = create_app(base_gallery, token="", pipeline=pipeline)
    data = photos["obama_and_biden"].read_bytes()
    with live_server(app) as url:
        done: dict[str, float] = {}

        def slow() -> None:
            r = httpx.post(f"{url}/api/search", files=upload(data), timeout=60)
            assert r.status_code == 200
            done["search"] = time.perf_counter()

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.05)
        assert httpx.get(f"{url}/api/health", timeout=60).status_code == 200
        done["health"] = time.perf_counter()
        t.join()
    assert done["health"] < done["search"]


# identify and verify ----------------------------------------------------------------------------
def test_identify(client: TestClient, photos: dict[str, Path]) -> None:
    resp = client.post("/api/identify", files=upload(photos["biden"]))
    assert resp.status_code == 200, resp.text
    ans = resp.json()
    [face] = ans["faces"]
    assert face["person"] == "Joseph_Biden" and face["known"] and face["votes"] >= 1
    assert face["distance"] <= ans["threshold"] and len(face["neighbours"]) == 5
    assert list(server_timing(resp)) == STAGES

    stranger = client.post("/api/identify", files=upload(photos["stranger"]), data={"face": "center"}).json()
    [face] = stranger["faces"]
    assert face["person"] is None and not face["known"] and face["distance"] > stranger["threshold"]

    error(client.post("/api/identify", files=upload(b"GIF89a nonsense")), 415, "UnreadableImageError")
    error(client.post("/api/identify", files=upload(photos["dogs"])), 422, "NoFaceError")
    error(
        client.post("/api/identify", files=upload(photos["biden"]), data={"k": "0"}), 422, "ValidationError"
    )
    error(client.post("/api/identify", data={"k": "3"}), 422, "ValidationError")


def test_verify(client: TestClient, photos: dict[str, Path], lfw_root: Path) -> None:
    same = client.post(
        "/api/verify",
        files={
            **upload(photos["biden"], field="file_a"),
            **upload(lfw_root / "Joseph_Biden" / "Joseph_Biden_0001.jpg", field="file_b"),
        },
    )
    assert same.status_code == 200, same.text
    s = same.json()
    assert s["same"] and s["distance"] <= s["threshold"] and s["similarity"] > 50
    diff = client.post(
        "/api/verify",
        files={**upload(photos["biden"], field="file_a"), **upload(photos["aaron_lfw"], field="file_b")},
    ).json()
    assert not diff["same"] and diff["distance"] > diff["threshold"] and diff["similarity"] < 50
    assert diff["threshold"] == s["threshold"]

    error(client.post("/api/verify", files=upload(photos["biden"], field="file_a")), 422, "ValidationError")
    msg = error(
        client.post(
            "/api/verify",
            files={**upload(photos["biden"], field="file_a"), **upload(photos["dogs"], field="file_b")},
        ),
        422,
        "NoFaceError",
    )
    assert msg.startswith("second photo")
    error(
        client.post(
            "/api/verify",
            files={**upload(b"junk", field="file_a"), **upload(photos["biden"], field="file_b")},
        ),
        415,
        "UnreadableImageError",
    )
    error(
        client.post(
            "/api/verify",
            files={**upload(photos["biden"], field="file_a"), **upload(photos["biden"], field="file_b")},
            data={"face_a": "all"},
        ),
        400,
        "LookalikeError",
    )


# the gallery ------------------------------------------------------------------------------------
def test_people(client: TestClient) -> None:
    ans = client.get("/api/gallery/people").json()
    assert ans["total"] == len(PEOPLE) and [p["name"] for p in ans["people"]] == sorted(PEOPLE)
    assert all(p["faces"] >= 1 and p["images"] >= p["faces"] for p in ans["people"])
    page = client.get("/api/gallery/people", params={"offset": 2, "limit": 3}).json()
    assert [p["name"] for p in page["people"]] == sorted(PEOPLE)[2:5] and page["offset"] == 2
    found = client.get("/api/gallery/people", params={"q": "biden"}).json()
    assert [p["name"] for p in found["people"]] == ["Joseph_Biden"] and found["total"] == 1
    error(client.get("/api/gallery/people", params={"limit": 0}), 422, "ValidationError")
    error(client.get("/api/gallery/people", params={"offset": -1}), 422, "ValidationError")


def test_pictures_only_by_face_id(client: TestClient) -> None:
    for kind in ("thumbnail", "image"):
        error(client.get(f"/api/gallery/faces/999999/{kind}"), 404, "NotFoundError")
        error(client.get(f"/api/gallery/faces/0/{kind}"), 422, "ValidationError")
        error(client.get(f"/api/gallery/faces/abc/{kind}"), 422, "ValidationError")
        assert client.get(f"/api/gallery/faces/..%2F..%2Fetc%2Fpasswd/{kind}").status_code in (404, 422)
        assert (
            client.get(f"/api/gallery/faces/1/{kind}?path=/etc/passwd").headers["content-type"]
            == "image/jpeg"
        )


def test_enrol_search_delete(
    gallery_copy: Path, pipeline: FacePipeline, photos: dict[str, Path], no_env_token: None
) -> None:
    with TestClient(create_app(gallery_copy, pipeline=pipeline)) as c:
        faces_before = c.get("/api/health").json()["faces"]
        before = c.post("/api/search", files=upload(photos["obama"]), data={"k": "3"}).json()
        assert all(n["person"] != "Barack Obama" for n in before["faces"][0]["neighbours"])

        resp = c.post(
            "/api/gallery/faces",
            data={"person": " Barack Obama "},
            files=[
                ("files", ("a.jpg", photos["obama_enrol"].read_bytes(), "image/jpeg")),
                ("files", ("b.jpg", photos["obama_enrol2"].read_bytes(), "image/jpeg")),
                ("files", ("c.txt", b"not a photo", "text/plain")),
            ],
        )
        assert resp.status_code == 201, resp.text
        ans = resp.json()
        assert ans["person"] == "Barack Obama" and [a["file"] for a in ans["added"]] == ["a.jpg", "b.jpg"]
        assert [s["file"] for s in ans["skipped"]] == ["c.txt"]
        new_ids = [a["face_id"] for a in ans["added"]]
        stored = sorted(p.name for p in (gallery_copy / "uploads").iterdir())
        assert len(stored) == 2 and all(len(p.split(".")[0]) == 64 for p in stored)  # named by content hash

        after = c.post("/api/search", files=upload(photos["obama"]), data={"k": "3"}).json()
        top = after["faces"][0]["neighbours"][0]
        assert top["person"] == "Barack Obama" and top["face_id"] in new_ids
        assert c.get(top["thumbnail_url"]).status_code == 200
        assert "Barack Obama" in [p["name"] for p in c.get("/api/gallery/people").json()["people"]]

        again = c.post(
            "/api/gallery/faces",
            data={"person": "Barack Obama"},
            files=[("files", ("a.jpg", photos["obama_enrol"].read_bytes(), "image/jpeg"))],
        )
        assert again.status_code == 200 and again.json()["added"] == []
        assert "already" in again.json()["skipped"][0]["reason"]

        error(
            c.post("/api/gallery/faces", data={"person": "X"}, files=upload(b"junk", field="files")),
            415,
            "UnreadableImageError",
        )
        error(
            c.post("/api/gallery/faces", data={"person": "X"}, files=upload(photos["dogs"], field="files")),
            422,
            "NoFaceError",
        )
        error(
            c.post(
                "/api/gallery/faces", data={"person": "   "}, files=upload(photos["biden"], field="files")
            ),
            400,
            "LookalikeError",
        )
        error(
            c.post(
                "/api/gallery/faces", data={"person": "a\x00b"}, files=upload(photos["biden"], field="files")
            ),
            400,
            "LookalikeError",
        )
        error(
            c.post("/api/gallery/faces", files=upload(photos["biden"], field="files")), 422, "ValidationError"
        )
        error(c.post("/api/gallery/faces", data={"person": "X"}), 422, "ValidationError")

        for fid in new_ids:
            assert c.delete(f"/api/gallery/faces/{fid}").json()["removed"] == [fid]
        error(c.delete(f"/api/gallery/faces/{new_ids[0]}"), 404, "NotFoundError")
        error(c.delete("/api/gallery/faces/0"), 422, "ValidationError")
        error(c.get(f"/api/gallery/faces/{new_ids[0]}/thumbnail"), 404, "NotFoundError")
        gone = c.post("/api/search", files=upload(photos["obama"]), data={"k": "3"}).json()
        assert not set(new_ids) & {n["face_id"] for n in gone["faces"][0]["neighbours"]}
        assert gone == before
    with Gallery.open(gallery_copy, create=False) as g:  # the change is on disk, store and index in step
        assert len(g.index) == g.info()["faces"] == faces_before


# the write token ------------------------------------------------------------------------------
TOKEN = "s3cret-token-for-the-tests-0123456789"


def test_token_rule(
    gallery_copy: Path, pipeline: FacePipeline, photos: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOKALIKE_API_TOKEN", TOKEN)
    enrol = {
        "data": {"person": "Barack Obama"},
        "files": [("files", ("a.jpg", photos["obama_enrol"].read_bytes(), "image/jpeg"))],
    }
    with TestClient(create_app(gallery_copy, pipeline=pipeline)) as c:  # token from the environment
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": f"Basic {TOKEN}"},
            {"Authorization": f"Bearer {TOKEN[:-1]}"},
            {"Authorization": "Bearer"},
        ):
            r = c.post("/api/gallery/faces", headers=headers, **enrol)
            error(r, 401, "AuthorizationError")
            assert r.headers["www-authenticate"] == "Bearer"
            error(c.delete("/api/gallery/faces/1", headers=headers), 401, "AuthorizationError")
        assert c.get("/api/gallery/people").status_code == 200  # reads need no token
        assert c.post("/api/search", files=upload(photos["biden"])).status_code == 200
        auth = {"Authorization": f"Bearer {TOKEN}"}
        ok = c.post("/api/gallery/faces", headers=auth, **enrol)
        assert ok.status_code == 201, ok.text
        fid = ok.json()["added"][0]["face_id"]
        assert c.delete(f"/api/gallery/faces/{fid}", headers=auth).json()["removed"] == [fid]

    for weak in ("short", "changeme"):
        with pytest.raises(LookalikeError, match="at least 16"):
            create_app(gallery_copy, token=weak, pipeline=pipeline)
    monkeypatch.setenv("LOOKALIKE_API_TOKEN", "changeme")
    with pytest.raises(LookalikeError, match="LOOKALIKE_API_TOKEN"):
        create_app(gallery_copy, pipeline=pipeline)


def test_missing_gallery_is_a_clear_error(tmp_path: Path, pipeline: FacePipeline) -> None:
    with pytest.raises(LookalikeError, match="no gallery"):
        create_app(tmp_path / "nowhere", token="", pipeline=pipeline)


def test_answers_are_json_serialisable_numbers(client: TestClient, photos: dict[str, Path]) -> None:
    ans = client.post("/api/search", files=upload(photos["biden"]), data={"k": "50"}).json()
    nb = ans["faces"][0]["neighbours"]
    assert len(nb) == min(50, client.get("/api/health").json()["faces"])
    assert np.isfinite([n["distance"] for n in nb]).all()
    json.dumps(ans, allow_nan=False)


def test_streamed_body_over_the_cap_is_refused(base_gallery: Path, pipeline: FacePipeline) -> None:
    """A chunked upload with no Content-Length is cut off as soon as it passes the cap."""
    cfg = ServiceConfig(max_bytes=1000)

    def chunks() -> Iterator[bytes]:
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
        for _ in range(64):
            yield b"\xff" * 65536

    with TestClient(create_app(base_gallery, token="", config=cfg, pipeline=pipeline)) as c:
        r = c.post(
            "/api/search", content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"}
        )
        assert "content-length" not in r.request.headers
        error(r, 413, "ImageTooLargeError")
