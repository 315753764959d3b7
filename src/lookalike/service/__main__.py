"""``python -m lookalike.service [index] [--gallery PATH] [--host H] [--port P] [--index-url URL]``.

A stand-in for ``lookalike serve`` / ``lookalike serve-index`` that needs no CLI wiring.
"""

from __future__ import annotations

import argparse
import sys

from lookalike.errors import LookalikeError
from lookalike.settings import default_gallery


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m lookalike.service", description="Serve the look-alike page and API."
    )
    ap.add_argument(
        "what",
        nargs="?",
        choices=["web", "index"],
        default="web",
        help="web: page + REST API (default); index: the vector-only index service",
    )
    ap.add_argument("--gallery", default=None, help="gallery folder (default: the per-user gallery)")
    ap.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)"
    )
    ap.add_argument("--port", type=int, default=None, help="port (default 8000; 8001 for the index service)")
    ap.add_argument("--index-url", default=None, help="two-service mode: base URL of a running index service")
    ap.add_argument("--allow-open", action="store_true",
                    help="listen beyond this machine without LOOKALIKE_API_TOKEN on purpose")
    ap.add_argument("--allowed-host", action="append", default=[],
                    help="host name served besides IP addresses and localhost (repeatable)")
    args = ap.parse_args(argv)
    from lookalike.service.run import serve, serve_index

    gallery = args.gallery or default_gallery()
    try:
        if args.what == "index":
            serve_index(gallery, host=args.host, port=args.port or 8001, allow_open=args.allow_open,
                        allowed_hosts=tuple(args.allowed_host))
        else:
            serve(gallery, host=args.host, port=args.port or 8000, index_url=args.index_url,
                  allow_open=args.allow_open, allowed_hosts=tuple(args.allowed_host))
    except LookalikeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
