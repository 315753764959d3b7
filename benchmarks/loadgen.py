"""A bounded load generator for the web service: N concurrent clients posting real photos for S seconds.

Used by the reliability tests (20 s) and ``benchmarks/load.py`` (60 s). It stops by itself, never
retries, and reports throughput, latency percentiles and every non-2xx answer by status code.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class LoadReport:
    clients: int
    seconds: float
    requests: int = 0
    throughput_per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    transport_errors: int = 0

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if code.startswith("5"))

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "server_errors": self.server_errors}


def run_load(base_url: str, photos: list[bytes], clients: int = 8, seconds: float = 20.0, k: int = 5,
             timeout_s: float = 30.0) -> LoadReport:
    """Each client posts ``/api/search`` with the photos in turn until ``seconds`` have passed."""
    import httpx

    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    failures = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(n: int) -> None:
        nonlocal failures
        i = n
        with httpx.Client(base_url=base_url, timeout=timeout_s) as http:
            while time.monotonic() < deadline:
                photo = photos[i % len(photos)]
                i += 1
                t = time.perf_counter()
                try:
                    r = http.post("/api/search", files={"file": ("photo.jpg", photo, "image/jpeg")},
                                  data={"k": str(k)})
                    code = str(r.status_code)
                except httpx.HTTPError:
                    with lock:
                        failures += 1
                    continue
                dt = time.perf_counter() - t
                with lock:
                    latencies.append(dt)
                    statuses[code] += 1

    start = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=seconds + timeout_s + 5)
    wall = time.monotonic() - start
    lat = np.array(latencies) * 1000 if latencies else np.zeros(1)
    return LoadReport(clients, round(wall, 2), len(latencies), round(len(latencies) / wall, 2),
                      round(float(np.percentile(lat, 50)), 1), round(float(np.percentile(lat, 99)), 1),
                      dict(statuses), failures)
