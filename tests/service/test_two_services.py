"""Two-service mode: the index service over real HTTP (uvicorn), and answers equal to one process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from lookalike.errors import IndexMismatchError, ServiceUnavailableError
from lookalike.faces.pipeline import FacePipeline
from lookalike.gallery import Gallery
from lookalike.service.app import create_app
from lookalike.service.client import IndexClient
from lookalike.service.index_service import create_index_app

from .live import TestClient, free_port, live_server

TOKEN = "index-token-for-the-tests-0123456789"


def upload(path: Path) -> dict:
    return {"file": (path.name, path.read_bytes(), "application/octet-stream")}


@pytest.fixture(scope="module")
def index_url(base_gallery: Path) -> Iterator[str]:
    with live_server(create_index_app(base_gallery, token=TOKEN)) as url:
        yield url


@pytest.fixture(scope="module")
def one_and_two(
    base_gallery: Path, pipeline: FacePipeline, index_url: str
) -> Iterator[tuple[TestClient, TestClient]]:
    one = create_app(base_gallery, token="", pipeline=pipeline)
    two = create_app(base_gallery, index_url=index_url, token=TOKEN, pipeline=pipeline)
    with TestClient(one) as a, TestClient(two) as b:
        yield a, b


def same_answer(x: dict, y: dict) -> None:
    """Same faces, same ids in the same order, distances within 1e-6."""
    assert x["face_count"] == y["face_count"] and len(x["faces"]) == len(y["faces"])
    for fx, fy in zip(x["faces"], y["faces"]):
        assert fx["box"] == fy["box"]
        assert [n["face_id"] for n in fx["neighbours"]] == [n["face_id"] for n in fy["neighbours"]]
        assert [n["person"] for n in fx["neighbours"]] == [n["person"] for n in fy["neighbours"]]
        dx = np.array([n["distance"] for n in fx["neighbours"]])
        dy = np.array([n["distance"] for n in fy["neighbours"]])
        assert np.abs(dx - dy).max(initial=0) <= 1e-6


@pytest.mark.parametrize("name", ["biden", "obama_and_biden", "group", "stranger"])
def test_search_equal_in_both_modes(
    one_and_two: tuple[TestClient, TestClient], photos: dict[str, Path], name: str
) -> None:
    one, two = one_and_two
    assert two.get("/api/health").json()["mode"] == "two-service"
    a = one.post("/api/search", files=upload(photos[name]), data={"k": "10"})
    b = two.post("/api/search", files=upload(photos[name]), data={"k": "10"})
    assert a.status_code == b.status_code == 200
    same_answer(a.json(), b.json())
    assert a.json()["faces"][0]["neighbours"]  # not trivially equal


def test_identify_and_vectors_equal_in_both_modes(
    one_and_two: tuple[TestClient, TestClient], photos: dict[str, Path], base_gallery: Path
) -> None:
    one, two = one_and_two
    a = one.post("/api/identify", files=upload(photos["biden"])).json()
    b = two.post("/api/identify", files=upload(photos["biden"])).json()
    assert [f["person"] for f in a["faces"]] == [f["person"] for f in b["faces"]] == ["Joseph_Biden"]
    assert abs(a["faces"][0]["distance"] - b["faces"][0]["distance"]) <= 1e-6
    with Gallery.open(base_gallery, create=False) as g:
        _, vecs = g.store.embeddings()
    body = {"vectors": vecs[:5].tolist(), "k": 7}
    same_answer(one.post("/api/search", json=body).json(), two.post("/api/search", json=body).json())


def test_index_service_api(index_url: str, base_gallery: Path) -> None:
    with Gallery.open(base_gallery, create=False) as g:
        ids, vecs = g.store.embeddings()
    h = httpx.get(f"{index_url}/health").json()
    assert h["count"] == len(ids) and h["dim"] == 128 and h["embedder"] == "dlib-resnet-v1"
    r = httpx.post(f"{index_url}/search", json={"vectors": vecs[:2].tolist(), "k": 3}).json()
    assert [row[0] for row in r["ids"]] == ids[:2].tolist() and r["count"] == len(ids)
    big = httpx.post(f"{index_url}/search", json={"vectors": vecs[:1].tolist(), "k": len(ids) + 2}).json()
    assert big["ids"][0][-2:] == [-1, -1] and big["distances"][0][-2:] == [None, None]  # fewer than k

    def err(resp: httpx.Response, status: int) -> str:
        assert resp.status_code == status, resp.text
        return resp.json()["error"]["type"]

    assert (
        err(httpx.post(f"{index_url}/search", json={"vectors": [[0.0] * 5], "k": 1}), 400)
        == "IndexMismatchError"
    )
    assert err(httpx.post(f"{index_url}/search", json={"vectors": [[0.0] * 128, [0.0]], "k": 1}), 400)
    for bad in (
        {"vectors": [[0.0] * 128], "k": 0},
        {"vectors": [[0.0] * 128], "k": "3"},
        {"vectors": [], "k": 1},
        {"vectors": "abc", "k": 1},
        [1, 2],
        {"vectors": [["a"] * 128], "k": 1},
    ):
        assert err(httpx.post(f"{index_url}/search", json=bad), 400) in (
            "LookalikeError",
            "IndexMismatchError",
        )
    assert (
        err(
            httpx.post(f"{index_url}/search", content=b"{oops", headers={"content-type": "application/json"}),
            400,
        )
        == "LookalikeError"
    )
    nan = '{"vectors": [[NaN' + ", 0" * 127 + ']], "k": 1}'
    assert err(
        httpx.post(f"{index_url}/search", content=nan, headers={"content-type": "application/json"}), 400
    )
    # writes need the token
    assert err(httpx.post(f"{index_url}/vectors", json={"vectors": [[0.0] * 128], "ids": [10**6]}), 401)
    assert (
        err(
            httpx.post(
                f"{index_url}/vectors/remove", json={"ids": [1]}, headers={"Authorization": "Bearer nope"}
            ),
            401,
        )
        == "AuthorizationError"
    )


def test_client_errors_are_typed(index_url: str) -> None:
    with pytest.raises(ServiceUnavailableError, match="unreachable"):
        IndexClient(f"http://127.0.0.1:{free_port()}").health()
    with pytest.raises(IndexMismatchError):
        IndexClient(index_url).search(np.zeros((1, 3), np.float32), 1)


def test_enrol_and_delete_reach_the_index_service(
    gallery_copy: Path, pipeline: FacePipeline, photos: dict[str, Path]
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with (
        live_server(create_index_app(gallery_copy, token=TOKEN)) as url,
        TestClient(create_app(gallery_copy, index_url=url, token=TOKEN, pipeline=pipeline)) as c,
    ):
        n0 = httpx.get(f"{url}/health").json()["count"]
        r = c.post(
            "/api/gallery/faces",
            data={"person": "Barack Obama"},
            headers=auth,
            files=[("files", ("a.jpg", photos["obama_enrol"].read_bytes(), "image/jpeg"))],
        )
        assert r.status_code == 201, r.text
        fid = r.json()["added"][0]["face_id"]
        assert httpx.get(f"{url}/health").json()["count"] == n0 + 1
        top = c.post("/api/search", files=upload(photos["obama"]), data={"k": "1"}).json()
        assert top["faces"][0]["neighbours"][0]["face_id"] == fid
        assert c.delete(f"/api/gallery/faces/{fid}", headers=auth).status_code == 200
        assert httpx.get(f"{url}/health").json()["count"] == n0
    # the index service never writes the gallery; a new one loads the same faces from the store
    with live_server(create_index_app(gallery_copy)) as url:
        assert httpx.get(f"{url}/health").json()["count"] == n0


def test_web_service_reports_a_missing_index_service(
    base_gallery: Path, pipeline: FacePipeline, photos: dict[str, Path]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with TestClient(create_app(base_gallery, index_url=url, token="", pipeline=pipeline)) as c:
        h = c.get("/api/health")
        assert (
            h.status_code == 503 and h.json()["status"] == "degraded" and "unreachable" in h.json()["detail"]
        )
        r = c.post("/api/search", files=upload(photos["biden"]))
        assert r.status_code == 503 and r.json()["error"]["type"] == "ServiceUnavailableError"
        assert c.get("/api/gallery/people").status_code == 200  # the store still answers
