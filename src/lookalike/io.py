"""Atomic file writes: readers see the old content or the new, never a mix, and a crash leaves no half file.

Every file lookalike writes (indexes, caches, reports, plots, uploads) goes through :func:`atomic_write`:
a temporary file in the target's folder, flushed and fsynced, then renamed onto the target.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np


def atomic_write(target: str | Path, write: Callable[[Path], None], suffix: str = "") -> Path:
    """Call ``write(temporary path)``, fsync that file, then rename it onto ``target``.

    ``write`` may open the path itself or hand it to a library that writes files by name. The file
    gets ordinary permissions (``0666`` less the umask), not ``mkstemp``'s private ``0600``.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    try:
        write(tmp_path)
        with tmp_path.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)
    return target


def atomic_write_stream(target: str | Path, write: Callable[[BinaryIO], None], suffix: str = "") -> Path:
    """Like :func:`atomic_write` for writers that take an open binary file."""

    def by_path(tmp: Path) -> None:
        with tmp.open("wb") as fh:
            write(fh)

    return atomic_write(target, by_path, suffix)


def atomic_write_bytes(target: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically."""
    return atomic_write(target, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(target: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``target`` atomically."""
    return atomic_write_bytes(target, text.encode("utf-8"))


def atomic_save_npz(target: str | Path, **arrays: np.ndarray) -> Path:
    """Save plain arrays as an ``.npz`` atomically (read them back with ``allow_pickle=False``)."""
    return atomic_write_stream(target, lambda fh: np.savez(fh, **arrays), suffix=".npz")


def npy_bytes(array: np.ndarray) -> bytes:
    """One array in ``.npy`` format, without pickle."""
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()
