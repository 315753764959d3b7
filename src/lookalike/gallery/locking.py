"""The gallery's write lock, shared by every process that writes one gallery folder.

The CLI's ingest, the web service and the index service may work on the same gallery at once. Each
write (store transaction + index update + index file save) runs while holding an exclusive
``flock`` on ``<gallery>/.write.lock``, so writes of different processes never interleave and each
writer first catches up with the commits of the others (see ``Gallery.sync``). The holder writes
who it is into the lock file; a process that cannot get the lock within ``timeout`` seconds raises
:class:`~lookalike.errors.GalleryBusyError` naming the holder. The lock is released by the kernel
when its holder dies, so a killed process never leaves the gallery locked.
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lookalike.errors import GalleryBusyError

LOCK_FILE = ".write.lock"
#: seconds a writer waits for another process's write (one photo, one delete) before giving up
DEFAULT_TIMEOUT = 30.0


def _whoami() -> str:
    cmd = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv[:4]))
    return f"pid {os.getpid()} ({cmd or 'python'}), since {time.strftime('%H:%M:%S')}"


class GalleryLock:
    """Re-entrant (per object) exclusive lock of one gallery folder across processes and threads."""

    def __init__(self, root: Path, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.path = root / LOCK_FILE
        self.timeout = timeout
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the lock for the block (nested holds by the same thread are free)."""
        with self._thread_lock:
            if self._depth == 0:
                self._acquire()
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._release()

    def _acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        delay = 0.002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = self.holder()
                    os.close(fd)
                    raise GalleryBusyError(
                        f"the gallery {self.path.parent} is being written by another process "
                        f"({holder or 'unknown holder'}) for more than {self.timeout:g} s; "
                        "try again when it has finished"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, _whoami().encode(), 0)
        self._fd = fd

    def _release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def holder(self) -> str:
        """Who holds the lock now, as the holder wrote it ('' if unknown)."""
        try:
            return self.path.read_text(errors="replace").strip()
        except OSError:
            return ""
