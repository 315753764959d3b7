"""Download public face data sets (LFW, CelebA) from their public homes: checksummed, cached, resumable.

Each file is downloaded to ``<name>.part`` and resumed with an HTTP ``Range`` request when a previous
attempt stopped part-way; only a file whose checksum matches is renamed into place, so a cached file
is always a verified one. Archives are unpacked with path checks (no ``..``, no absolute paths, no
links), into a temporary folder that is renamed into place when complete.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lookalike.errors import CorruptFileError, LookalikeError

CHUNK = 1 << 20
TIMEOUT_S = 60.0


class DownloadError(LookalikeError):
    """A download failed (network error, HTTP error or checksum mismatch)."""


@dataclass(frozen=True)
class Resource:
    """One file to download: where from, its expected MD5 (as published by the data set), what to do with it."""

    filename: str
    url: str
    md5: str | None = None
    extract: bool = False


def _gdrive(file_id: str) -> str:
    # the usercontent endpoint serves large files without the "can't scan for viruses" interstitial
    return f"https://drive.usercontent.google.com/download?id={file_id}&export=download&confirm=t"


LFW_HOME = "https://vis-www.cs.umass.edu/lfw/"
#: checksums as published by the LFW site (and used by torchvision); the pairs files match this checkout's copy
DATASETS: dict[str, list[Resource]] = {
    "lfw": [
        Resource("lfw-deepfunneled.tgz", LFW_HOME + "lfw-deepfunneled.tgz", "68331da3eb755a505a502b5aacb3c201", True),
        Resource("pairs.txt", LFW_HOME + "pairs.txt", "9f1ba174e4e1c508ff7cdf10ac338a7d"),
        Resource("pairsDevTrain.txt", LFW_HOME + "pairsDevTrain.txt", "4f27cbf15b2da4a85c1907eb4181ad21"),
        Resource("pairsDevTest.txt", LFW_HOME + "pairsDevTest.txt", "5132f7440eb68cf58910c8a45a2ac10b"),
        Resource("people.txt", LFW_HOME + "people.txt", "450f0863dd89e85e73936a6d71a3474b"),
    ],
    "celeba": [
        Resource("img_align_celeba.zip", _gdrive("0B7EVK8r0v71pZjFTYXZWM3FlRnM"),
                 "00d2c5bc6d35e252742224ab0c1e8fcb", True),
        Resource("identity_CelebA.txt", _gdrive("1_ee_0u7vcNLOfNLegJRHmolfH5ICW-XS"),
                 "32bd1bd63d3c78cd57e08160ec5ed1e2"),
    ],
}

Progress = Callable[[int, int | None], None]  # (bytes so far, total or None)


def md5_file(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def download(res: Resource, folder: Path, progress: Progress | None = None, timeout: float = TIMEOUT_S) -> Path:
    """Download one resource into ``folder`` (resuming a ``.part`` file) and verify it; cached when valid."""
    folder.mkdir(parents=True, exist_ok=True)
    final, part = folder / res.filename, folder / (res.filename + ".part")
    if final.exists() and (res.md5 is None or md5_file(final) == res.md5):
        return final
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(res.url, headers={"User-Agent": "lookalike-fetch"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            if have and resp.status != 206:  # server ignored the range: start again
                have = 0
            length = resp.headers.get("Content-Length")
            total = have + int(length) if length is not None else None
            with open(part, "ab" if have else "wb") as out:
                done = have
                while block := resp.read(CHUNK):
                    out.write(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
                out.flush()
                os.fsync(out.fileno())
            if total is not None and done < total:
                raise DownloadError(
                    f"{res.url}: connection dropped after {done:,} of {total:,} bytes (run the command again to resume)"
                )
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # range beyond the end: the part file is already complete
            pass
        else:
            raise DownloadError(f"{res.url}: HTTP {e.code} {e.reason}") from e
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise DownloadError(f"{res.url}: {e} (run the command again to resume)") from e
    if res.md5 is not None:
        got = md5_file(part)
        if got != res.md5:
            part.unlink()
            raise DownloadError(f"{res.filename}: checksum mismatch (md5 {got}, expected {res.md5}); removed, try again")
    os.replace(part, final)
    return final


def _safe_member(name: str) -> bool:
    p = Path(name)
    return not p.is_absolute() and ".." not in p.parts


def extract(archive: Path, dest: Path) -> None:
    """Unpack a .tgz/.tar/.zip into ``dest`` safely and atomically (temp folder, then rename)."""
    tmp = dest.with_name(dest.name + ".extracting")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                bad = [n for n in zf.namelist() if not _safe_member(n)]
                if bad:
                    raise CorruptFileError(f"{archive.name}: unsafe member path {bad[0]!r}")
                zf.extractall(tmp)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                tf.extractall(tmp, filter="data")  # rejects absolute paths, '..', device files, outside links
        else:
            raise CorruptFileError(f"{archive.name} is neither a zip nor a tar archive")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CorruptFileError(f"{archive.name}: damaged archive ({e})") from e
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)


def install(resources: list[Resource], dest: Path, progress: Callable[[str], Progress | None] | None = None) -> Path:
    """Download every resource into ``dest/downloads`` and lay the data set out in ``dest``.

    Archives unpack into ``dest/<archive stem>/`` (e.g. ``lfw-deepfunneled/``); other files are copied
    to ``dest/``. A ``.complete`` marker is written last; with it present nothing is downloaded again.
    """
    marker = dest / ".complete"
    if marker.exists():
        return dest
    downloads = dest / "downloads"
    for res in resources:
        path = download(res, downloads, progress(res.filename) if progress else None)
        if res.extract:
            stem = res.filename.split(".")[0]
            if not (dest / stem).is_dir():
                extract(path, dest / stem)
        else:
            shutil.copyfile(path, dest / res.filename)
    marker.write_text("ok\n")
    return dest


def dataset_root(name: str, dest: Path) -> Path:
    """Where the readers find a fetched data set: the LFW person folders, or CelebA's identity file."""
    if name == "lfw":
        inner = dest / "lfw-deepfunneled"
        sub = inner / "lfw-deepfunneled"  # the archive holds one top folder
        people = sub if sub.is_dir() else inner
        for f in ("pairs.txt", "pairsDevTrain.txt", "pairsDevTest.txt", "people.txt"):
            if (dest / f).exists() and not (people / f).exists():
                shutil.copyfile(dest / f, people / f)
        return people
    if name == "celeba":
        return dest / "identity_CelebA.txt"
    raise LookalikeError(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")


def fetch(name: str, dest: Path, progress: Callable[[str], Progress | None] | None = None) -> Path:
    """Download and lay out a public data set; returns the path to give ``lookalike ingest``."""
    if name not in DATASETS:
        raise LookalikeError(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")
    install(DATASETS[name], dest, progress)
    return dataset_root(name, dest)
