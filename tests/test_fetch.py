"""The data-set downloader against a local HTTP server: checksums, cache, resume, safe unpacking."""
from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lookalike.errors import CorruptFileError
from lookalike.fetch import DATASETS, DownloadError, Resource, dataset_root, download, extract, install
from lookalike.gallery.sources import detect_source


class RangeServer(http.server.ThreadingHTTPServer):
    """Serves in-memory files with ``Range`` support; can cut a response short to simulate a dropped link."""

    files: dict[str, bytes]
    cut_after: int | None = None  # bytes sent before the connection drops (once)
    requests: list[tuple[str, str | None]]


class Handler(http.server.BaseHTTPRequestHandler):
    server: RangeServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        name = self.path.lstrip("/")
        rng = self.headers.get("Range")
        self.server.requests.append((name, rng))
        data = self.server.files.get(name)
        if data is None:
            self.send_error(404)
            return
        start = int(rng.split("=")[1].split("-")[0]) if rng else 0
        if start >= len(data):
            self.send_error(416)
            return
        body = data[start:]
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.server.cut_after is not None:
            self.wfile.write(body[: self.server.cut_after])
            self.server.cut_after = None
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[tuple[RangeServer, str]]:
    srv = RangeServer(("127.0.0.1", 0), Handler)
    srv.files, srv.requests = {}, []
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield srv, f"http://127.0.0.1:{srv.server_address[1]}/"
    finally:
        srv.shutdown()
        srv.server_close()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def lfw_tgz(lfw_root: Path, people: list[str]) -> bytes:
    """A small ``lfw-deepfunneled.tgz`` with the official archive's layout (one top folder)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for person in people:
            for photo in sorted((lfw_root / person).iterdir()):
                tf.add(photo, f"lfw-deepfunneled/{person}/{photo.name}")
    return buf.getvalue()


def test_known_datasets_have_checksums() -> None:
    for resources in DATASETS.values():
        assert resources and all(r.md5 and len(r.md5) == 32 and r.url.startswith("https://") for r in resources)


def test_download_verifies_and_caches(server: tuple[RangeServer, str], tmp_path: Path) -> None:
    srv, base = server
    srv.files["a.bin"] = data = bytes(range(256)) * 4000
    res = Resource("a.bin", base + "a.bin", md5(data))
    assert download(res, tmp_path).read_bytes() == data
    download(res, tmp_path)
    assert len(srv.requests) == 1  # second call served from the verified cache


def test_interrupted_download_resumes_with_range(server: tuple[RangeServer, str], tmp_path: Path) -> None:
    srv, base = server
    srv.files["big.bin"] = data = bytes(range(256)) * 8000
    srv.cut_after = 300_000
    res = Resource("big.bin", base + "big.bin", md5(data))
    with pytest.raises(DownloadError, match="resume"):
        download(res, tmp_path)
    part = tmp_path / "big.bin.part"
    assert 0 < part.stat().st_size < len(data) and not (tmp_path / "big.bin").exists()
    assert download(res, tmp_path).read_bytes() == data
    assert srv.requests[-1] == ("big.bin", f"bytes={part.stat().st_size if part.exists() else 300_000}-")


def test_checksum_mismatch_is_refused_and_not_kept(server: tuple[RangeServer, str], tmp_path: Path) -> None:
    srv, base = server
    srv.files["x.txt"] = b"tampered"
    with pytest.raises(DownloadError, match="checksum"):
        download(Resource("x.txt", base + "x.txt", md5(b"original")), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_http_error_is_clear(server: tuple[RangeServer, str], tmp_path: Path) -> None:
    _, base = server
    with pytest.raises(DownloadError, match="404"):
        download(Resource("none", base + "none", None), tmp_path)


def test_install_lfw_layout_end_to_end(server: tuple[RangeServer, str], tmp_path: Path, lfw_root: Path) -> None:
    srv, base = server
    srv.files["lfw-deepfunneled.tgz"] = tgz = lfw_tgz(lfw_root, ["Aaron_Peirsol", "Abdullah_Gul"])
    srv.files["pairs.txt"] = pairs = (lfw_root / "pairs.txt").read_bytes()
    resources = [Resource("lfw-deepfunneled.tgz", base + "lfw-deepfunneled.tgz", md5(tgz), True),
                 Resource("pairs.txt", base + "pairs.txt", md5(pairs))]
    dest = tmp_path / "lfw"
    install(resources, dest)
    root = dataset_root("lfw", dest)
    kind, items = detect_source(root)
    assert kind == "lfw"
    assert sorted({it.person for it in items}) == ["Aaron_Peirsol", "Abdullah_Gul"]
    assert len(items) == len(list((lfw_root / "Aaron_Peirsol").iterdir())) + len(list((lfw_root / "Abdullah_Gul").iterdir()))
    n = len(srv.requests)
    install(resources, dest)  # complete: nothing downloaded again
    assert len(srv.requests) == n


def test_celeba_zip_layout(server: tuple[RangeServer, str], tmp_path: Path, lfw_root: Path) -> None:
    srv, base = server
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, photo in enumerate(sorted((lfw_root / "Aaron_Peirsol").iterdir()), 1):
            zf.write(photo, f"img_align_celeba/{i:06d}.jpg")
    ident = "".join(f"{i:06d}.jpg 7\n" for i in range(1, i + 1)).encode()
    srv.files.update({"img.zip": buf.getvalue(), "identity_CelebA.txt": ident})
    install([Resource("img_align_celeba.zip", base + "img.zip", md5(buf.getvalue()), True),
             Resource("identity_CelebA.txt", base + "identity_CelebA.txt", md5(ident))], tmp_path)
    kind, items = detect_source(dataset_root("celeba", tmp_path))
    assert kind == "celeba" and len(items) == i and {it.person for it in items} == {"celeba_7"}
    assert all(it.path.exists() for it in items)


def test_unsafe_or_damaged_archives_are_refused(tmp_path: Path) -> None:
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../escape.txt", "x")
    with pytest.raises(CorruptFileError, match="unsafe"):
        extract(evil, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "out").exists()
    broken = tmp_path / "broken.tgz"
    broken.write_bytes(b"\x1f\x8b" + b"\0" * 100)
    with pytest.raises(CorruptFileError):
        extract(broken, tmp_path / "out2")
    assert not (tmp_path / "out2").exists()
