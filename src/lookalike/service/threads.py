"""One BLAS thread per request in the services (set by ``serve`` and ``serve_index`` for their process).

A service answers one small query per request (a 1 × 128 by 128 × n product), where OpenBLAS's
thread pool brings no speed and, on a busy machine, costs a lot: measured on the 13,166-face LFW
gallery with the 2 cores loaded, the exact search took 0.35 ms p50 with one BLAS thread and
swung to 12 ms with the default pool. Requests already run in parallel in the thread pool.
"""

from __future__ import annotations

import logging

log = logging.getLogger("lookalike.service")
_done = False


def single_blas_thread() -> None:
    """Limit BLAS/OpenMP pools to one thread for this process (once; no-op without threadpoolctl)."""
    global _done
    if _done:
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - part of the service extra
        log.warning("threadpoolctl is missing: BLAS keeps its thread pool (slower searches on a busy machine)")
        return
    threadpool_limits(limits=1, user_api="blas")
    _done = True
