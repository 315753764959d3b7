"""Issue 15, defects 2 (Host, Origin), 6, 7, 9 and 10, over real HTTP on loopback.

Each test sends what a hostile or careless client sent when the defect was found and checks the
typed answer, the security headers, and that the server keeps serving.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from lookalike.errors import LookalikeError
from lookalike.faces.pipeline import FacePipeline
from lookalike.gallery import Gallery
from lookalike.service.app import create_app
from lookalike.service.config import ServiceConfig, check_token
from lookalike.service.index_service import create_index_app
from tests._env import child_env
from tests.service.live import free_port, live_server

pytestmark = pytest.mark.reliability

TOKEN = "hardening-test-token-0123456789"
HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy")
DEEP = b'{"vector": ' + b"[" * 1000 + b"]" * 1000 + b"}"


def typed(r: httpx.Response, status: int, kind: str | None = None) -> str:
    """Check a typed error answer with every security header; returns its message."""
    assert r.status_code == status, (r.status_code, r.text)
    assert all(h in r.headers for h in HEADERS), dict(r.headers)
    err = r.json()["error"]
    if kind:
        assert err["type"] == kind, err
    return str(err["message"])


@pytest.fixture(scope="module")
def web(base_gallery: Path, pipeline: FacePipeline) -> Iterator[str]:
    with live_server(create_app(base_gallery, token="", pipeline=pipeline)) as url:
        yield url


@pytest.fixture(scope="module")
def index(base_gallery: Path) -> Iterator[str]:
    with live_server(create_index_app(base_gallery, token=TOKEN)) as url:
        yield url


@pytest.fixture(scope="module")
def vecs(base_gallery: Path) -> tuple[np.ndarray, np.ndarray]:
    with Gallery.open(base_gallery, create=False) as g:
        return g.store.embeddings()


# defect 2: Host names and cross-origin writes ------------------------------------------------------
def test_foreign_host_names_are_refused(web: str, index: str) -> None:
    """DNS rebinding: a request naming a host the service does not serve is refused (403)."""
    for url, path in ((web, "/api/health"), (index, "/health"), (web, "/")):
        typed(httpx.get(url + path, headers={"Host": "attacker.example"}), 403, "ForbiddenRequestError")
        typed(httpx.get(url + path, headers={"Host": "attacker.example:8000"}), 403)
        for ok in ("127.0.0.1", "localhost:1234", "[::1]:80", "app.localhost"):
            assert httpx.get(url + path, headers={"Host": ok}).status_code == 200, ok


def test_configured_host_names_are_served(base_gallery: Path, pipeline: FacePipeline) -> None:
    app = create_app(base_gallery, token="", pipeline=pipeline,
                     config=ServiceConfig(allowed_hosts=("faces.example.org",)))
    with live_server(app) as url:
        assert httpx.get(url + "/api/health", headers={"Host": "faces.example.org"}).status_code == 200
        typed(httpx.get(url + "/api/health", headers={"Host": "other.example.org"}), 403)


def test_cross_origin_browser_writes_are_refused(
    gallery_copy: Path, pipeline: FacePipeline, photos: dict[str, Path]
) -> None:
    """A browser's write from another origin (Origin or Sec-Fetch-Site says so) is refused; the page's own
    writes and scripts' writes (neither header) are accepted. The browser test repeats this in Chromium."""
    data = photos["obama_enrol"].read_bytes()

    def enrol(url: str, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(url + "/api/gallery/faces", data={"person": "Planted"},
                          files=[("files", ("x.jpg", data, "image/jpeg"))], headers=headers, timeout=60)

    with live_server(create_app(gallery_copy, token="", pipeline=pipeline)) as url:
        port = url.rsplit(":", 1)[1]
        for bad in (
            {"Origin": "http://attacker.example"},
            {"Origin": f"http://127.0.0.1:{int(port) + 1}"},
            {"Origin": f"https://127.0.0.1:{port}"},
            {"Origin": "null"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site", "Origin": f"http://localhost:{port}"},
        ):
            typed(enrol(url, bad), 403, "ForbiddenRequestError")
            typed(httpx.delete(url + "/api/gallery/faces/1", headers=bad), 403)
        people = httpx.get(url + "/api/gallery/people").json()["people"]
        assert "Planted" not in [p["name"] for p in people]
        own = enrol(url, {"Origin": url, "Sec-Fetch-Site": "same-origin"})
        assert own.status_code == 201, own.text
        assert httpx.get(url + "/api/health", headers={"Origin": "http://attacker.example"}).status_code == 200


# defect 6: pathological JSON gets a typed 4xx; every answer, 500 included, has the headers ----------
def test_deeply_nested_json_is_a_typed_400(web: str, index: str) -> None:
    ctype = {"content-type": "application/json"}
    assert "nested" in typed(httpx.post(web + "/api/search", content=DEEP, headers=ctype), 400, "LookalikeError")
    deep_index = b'{"k": 1, "vectors": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    assert "nested" in typed(httpx.post(index + "/search", content=deep_index, headers=ctype), 400)
    auth = {**ctype, "Authorization": f"Bearer {TOKEN}"}
    for path in ("/vectors", "/vectors/remove"):
        typed(httpx.post(index + path, content=deep_index, headers=auth), 400)
    assert httpx.get(web + "/api/health").status_code == 200 and httpx.get(index + "/health").status_code == 200


def test_out_of_range_ids_are_a_typed_4xx(index: str, vecs: tuple[np.ndarray, np.ndarray]) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    v = vecs[1][:1].tolist()
    for bad in (2**64, -1, 2**63):
        typed(httpx.post(index + "/vectors", json={"vectors": v, "ids": [bad]}, headers=auth), 422, "ValidationError")
        typed(httpx.post(index + "/vectors/remove", json={"ids": [bad]}, headers=auth), 422, "ValidationError")


def test_unexpected_errors_are_500_with_the_security_headers(
    base_gallery: Path, pipeline: FacePipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(base_gallery, token="", pipeline=pipeline)

    def broken() -> list:
        raise RuntimeError("a bug")

    monkeypatch.setattr(app.state.service.gallery.store, "people", broken)
    with live_server(app) as url:
        r = httpx.get(url + "/api/gallery/people")
        msg = typed(r, 500, "InternalError")
        assert "a bug" not in msg  # no internals in the answer
        assert httpx.get(url + "/api/health").status_code == 200


# defect 7: JSON bodies are capped before parsing; the index service caps batch, k and results -------
def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_large_json_bodies_are_refused_before_parsing(base_gallery: Path, tmp_path: Path) -> None:
    """A 48 MB vector body (under the whole-request cap) is refused by size, declared or streamed; the
    server (started as a user does) keeps answering /api/health and its memory does not balloon."""
    port = free_port()
    env = child_env()
    env.pop("LOOKALIKE_API_TOKEN", None)
    with (tmp_path / "web.log").open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "lookalike.service", "--gallery", str(base_gallery),
                                 "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    web = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, (tmp_path / "web.log").read_text()[-2000:]
            try:
                if httpx.get(web + "/api/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.2)
        before = rss_mb(proc.pid)
        big = b'{"vector": [' + b"0.123456789," * 4_000_000 + b"0]}"  # 48 MB: under the whole-request cap
        assert 45e6 < len(big) < 51 * 2**20
        ctype = {"content-type": "application/json"}
        slowest: list[float] = []
        stop = threading.Event()

        def probe() -> None:
            while not stop.is_set():
                t = time.monotonic()
                assert httpx.get(web + "/api/health", timeout=30).status_code == 200
                slowest.append(time.monotonic() - t)
                time.sleep(0.05)

        prober = threading.Thread(target=probe)
        prober.start()
        try:
            r = httpx.post(web + "/api/search", content=big, headers=ctype, timeout=60)
            typed(r, 413, "RequestTooLargeError")

            def chunks() -> Iterator[bytes]:  # no Content-Length: refused while streaming
                for i in range(0, len(big), 1 << 20):
                    yield big[i : i + (1 << 20)]

            try:
                typed(httpx.post(web + "/api/search", content=chunks(), headers=ctype, timeout=60), 413,
                      "RequestTooLargeError")
            except httpx.TransportError:
                pass  # the server may close the connection while the client is still sending: also refused
        finally:
            stop.set()
            prober.join()
        grown = rss_mb(proc.pid) - before
        assert max(slowest) < 0.5, f"/api/health took {max(slowest):.2f} s during the large bodies"
        assert grown < 100, f"the server's memory grew {grown:.0f} MB"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_index_service_caps_batch_k_and_results(index: str, vecs: tuple[np.ndarray, np.ndarray]) -> None:
    v = vecs[1]
    many = np.repeat(v[:1], 1000, axis=0).tolist()
    # the 1,000 queries × k = 1,000 (15 MB answer): refused by size before it is even parsed
    typed(httpx.post(index + "/search", json={"vectors": many, "k": 1000}, timeout=30), 413, "RequestTooLargeError")
    typed(httpx.post(index + "/search", json={"vectors": many[:101], "k": 1}), 400)
    typed(httpx.post(index + "/search", json={"vectors": many[:20], "k": 1000}), 400)  # 20,000 results
    ok = httpx.post(index + "/search", json={"vectors": many[:100], "k": 100})
    assert ok.status_code == 200 and len(ok.json()["ids"]) == 100


# defect 9: tokens that cannot work are refused at start ------------------------------------------
@pytest.mark.parametrize("token", ["  spaces-around-the-token-0123  ", "a token with spaces 0123456789",
                                   "tab\tinside-the-token-0123456789", "ünïcode-token-0123456789"])
def test_tokens_with_spaces_or_non_ascii_are_refused(
    token: str, base_gallery: Path, pipeline: FacePipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(LookalikeError, match="visible ASCII"):
        check_token(token)
    with pytest.raises(LookalikeError, match="visible ASCII"):
        create_app(base_gallery, token=token, pipeline=pipeline)
    with pytest.raises(LookalikeError, match="visible ASCII"):
        create_index_app(base_gallery, token=token)
    monkeypatch.setenv("LOOKALIKE_API_TOKEN", token)
    with pytest.raises(LookalikeError, match="visible ASCII"):
        create_app(base_gallery, pipeline=pipeline)


# defect 10 ------------------------------------------------------------------------------------------
def test_huge_vector_values_are_refused(web: str, index: str, vecs: tuple[np.ndarray, np.ndarray]) -> None:
    """Values of 1e20 .. 3e38 gave "distance": null; they are refused with a clear message."""
    for value in (1e20, 3e38):
        q = np.full(128, value).tolist()
        assert "within" in typed(httpx.post(web + "/api/search", json={"vector": q, "k": 3}), 400)
        typed(httpx.post(index + "/search", json={"vectors": [q], "k": 3}), 400)
    ok = httpx.post(web + "/api/search", json={"vector": vecs[1][0].tolist(), "k": 3}).json()
    assert all(isinstance(n["distance"], float) for n in ok["faces"][0]["neighbours"])


def test_health_does_not_show_the_internal_index_address(
    base_gallery: Path, pipeline: FacePipeline, index: str
) -> None:
    with live_server(create_app(base_gallery, index_url=index, token=TOKEN, pipeline=pipeline)) as url:
        h = httpx.get(url + "/api/health")
        assert h.status_code == 200 and h.json()["index"] == "remote"
        assert index not in h.text and index.split("//")[1] not in h.text
    missing = f"http://127.0.0.1:{free_port()}"
    with live_server(create_app(base_gallery, index_url=missing, token="", pipeline=pipeline)) as url:
        h = httpx.get(url + "/api/health")
        assert h.status_code == 503 and missing.split("//")[1] not in h.text


def test_index_service_writes_are_checked(gallery_copy: Path, vecs: tuple[np.ndarray, np.ndarray]) -> None:
    """Beyond loopback, writes need a token; with the token, no vector can be planted under an existing
    id (or any id the store does not hold) and no stored face can be removed behind the store's back."""
    ids, v = vecs
    with live_server(create_index_app(gallery_copy, token="", public=True)) as url:
        typed(httpx.post(url + "/vectors", json={"vectors": v[:1].tolist(), "ids": [int(ids[0])]}), 403)
        typed(httpx.post(url + "/vectors/remove", json={"ids": [int(ids[0])]}), 403)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with live_server(create_index_app(gallery_copy, token=TOKEN)) as url:
        n = httpx.get(url + "/health").json()["count"]
        planted = httpx.post(url + "/vectors", json={"vectors": v[1:2].tolist(), "ids": [int(ids[0])]}, headers=auth)
        typed(planted, 409, "ConflictError")
        typed(httpx.post(url + "/vectors", json={"vectors": v[:1].tolist(), "ids": [10**9]}, headers=auth), 409)
        typed(httpx.post(url + "/vectors/remove", json={"ids": [int(ids[0])]}, headers=auth), 409)
        same = httpx.post(url + "/vectors", json={"vectors": v[:1].tolist(), "ids": [int(ids[0])]}, headers=auth)
        assert same.status_code == 200 and same.json()["count"] == n
        top = httpx.post(url + "/search", json={"vectors": v[:1].tolist(), "k": 1}).json()
        assert top["ids"][0][0] == int(ids[0]) and top["distances"][0][0] < 1e-6


@pytest.mark.parametrize("what", ["web", "index"])
def test_listening_beyond_loopback_without_a_token_refuses_to_start(what: str, base_gallery: Path) -> None:
    env = child_env()
    env.pop("LOOKALIKE_API_TOKEN", None)
    args = [sys.executable, "-m", "lookalike.service", *(["index"] if what == "index" else []),
            "--gallery", str(base_gallery), "--host", "0.0.0.0", "--port", str(free_port())]
    p = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 1 and "--allow-open" in p.stderr and "LOOKALIKE_API_TOKEN" in p.stderr, p.stderr
