"""A loopback fake LiteLLM 1.109.1 proxy serving generated spend logs fast (no faults, no tie shuffling).

Rows are kept as pre-serialised JSON bytes sorted by startTime, with a parallel list of epoch-ms keys; a window is
two bisects and a page body is one `b",".join` of a slice (recent bodies are cached). Semantics of 1.109.1:
`page_size` <= 1000 (else 422), both date bounds inclusive, ascending or descending by startTime, `total` capped
at 10,000 with `total_is_capped`.

Run as its own process so its CPU does not share the GIL with the client being measured:

    python bench/server.py --requests 100000 --days 7 [--seed 42] [--port 0]

It generates the data, then prints ONE JSON line on stdout — {"port", "requests", "truth", "generate_seconds",
"rss_mb"} — and serves until stdin is closed or it gets SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import resource
import sys
import threading
import time
from collections import OrderedDict
from datetime import UTC, date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import Spec, iter_rows

VERSION = "1.109.1"
MAX_PAGE_SIZE = 1000
TOTAL_CAP = 10_000
CACHE_PAGES = 256


class Store:
    """Rows in startTime order: `keys[i]` is the epoch ms of `rows[i]` (its JSON bytes)."""

    def __init__(self, spec: Spec) -> None:
        self.keys: list[int] = []
        self.rows: list[bytes] = []
        truth = Decimal(0)
        for start_ms, raw, spend in iter_rows(spec):
            self.keys.append(start_ms)
            self.rows.append(raw)
            truth += Decimal(spend)
        self.truth = truth
        self._cache: OrderedDict[tuple, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def page(self, start_ms: int, end_ms: int, page: int, page_size: int, descending: bool) -> bytes:
        """The body for rows with start_ms <= startTime <= end_ms (end_ms is the last ms of the bound)."""
        lo = bisect.bisect_left(self.keys, start_ms)
        hi = bisect.bisect_right(self.keys, end_ms)
        cache_key = (lo, hi, page, page_size, descending)
        with self._lock:
            body = self._cache.get(cache_key)
            if body is not None:
                self._cache.move_to_end(cache_key)
                return body
        matched = hi - lo
        offset = (page - 1) * page_size
        if descending:
            a, b = max(hi - offset - page_size, lo), max(hi - offset, lo)
            chunk = self.rows[a:b][::-1]
        else:
            a, b = min(lo + offset, hi), min(lo + offset + page_size, hi)
            chunk = self.rows[a:b]
        total = min(matched, TOTAL_CAP)
        total_pages = -(-total // page_size) if total else 0
        body = b"".join(
            (
                b'{"data":[',
                b",".join(chunk),
                (
                    f'],"total":{total},"page":{page},"page_size":{page_size},"total_pages":{total_pages},'
                    f'"total_is_capped":{"true" if matched > TOTAL_CAP else "false"}}}'
                ).encode(),
            )
        )
        with self._lock:
            self._cache[cache_key] = body
            if len(self._cache) > CACHE_PAGES:
                self._cache.popitem(last=False)
        return body


def _bound(text: str, *, end: bool) -> int:
    """`YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD`, UTC, inclusive: the first (start) or last (end) ms it covers."""
    text = text.strip()
    if len(text) == 10:
        moment = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        base = int(moment.timestamp() * 1000)
        # A date-only end_date means midnight in 1.109 (the comparison is against a timestamp).
        return base
    moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def make_handler(store: Store, latency: float = 0.0) -> type[BaseHTTPRequestHandler]:
    readiness = json.dumps(
        {"status": "healthy", "db": "connected", "cache": None, "litellm_version": VERSION, "success_callbacks": []}
    ).encode()
    teams = json.dumps({"teams": [], "total": 0, "page": 1, "page_size": 1, "total_pages": 1}).encode()
    model_info = json.dumps({"data": []}).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: with Nagle's algorithm the body of a small response (a 404 lookup)
        # waits for the client's delayed ACK, 40 ms a request. Real proxies (uvicorn) set TCP_NODELAY too.
        disable_nagle_algorithm = True
        server_version = "bench-litellm/" + VERSION

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            path = url.path.rstrip("/")
            if path in ("/health/readiness/details", "/health/readiness"):
                return self._send(200, readiness)
            if path in ("/v2/team/list",):
                return self._send(200, teams)
            if path in ("/model/info", "/v1/model/info"):
                return self._send(200, model_info)
            if path != "/spend/logs/v2":
                return self._send(404, b'{"detail":"Not Found"}')
            q = {k: v[-1] for k, v in parse_qs(url.query).items()}
            try:
                start_ms = _bound(q["start_date"], end=False)
                end_ms = _bound(q["end_date"], end=True)
                page = int(q.get("page", 1))
                page_size = int(q.get("page_size", 50))
            except (KeyError, ValueError) as exc:
                return self._send(
                    400,
                    json.dumps(
                        {
                            "error": {
                                "message": f"bad request: {exc}",
                                "type": "bad_request",
                                "param": None,
                                "code": "400",
                            }
                        }
                    ).encode(),
                )
            if not 1 <= page_size <= MAX_PAGE_SIZE or page < 1:
                return self._send(
                    422,
                    json.dumps(
                        {
                            "detail": [
                                {
                                    "type": "less_than_equal",
                                    "loc": ["query", "page_size"],
                                    "msg": "Input should be less than or equal to 1000",
                                }
                            ]
                        }
                    ).encode(),
                )
            if q.get("sort_by", "startTime") != "startTime":
                return self._send(400, b'{"error":{"message":"bench server sorts by startTime only","code":"400"}}')
            descending = q.get("sort_order", "desc").lower() != "asc"
            body = store.page(start_ms, end_ms, page, page_size, descending)
            if latency:
                time.sleep(latency)  # the proxy's database query; concurrent requests wait in parallel
            return self._send(200, body)

    return Handler


def serve(spec: Spec, port: int = 0, latency_ms: float = 0) -> None:
    t0 = time.perf_counter()
    store = Store(spec)
    generated = time.perf_counter() - t0
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(store, latency_ms / 1000))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "port": server.server_address[1],
                "requests": len(store.rows),
                "truth": str(store.truth),
                "generate_seconds": round(generated, 2),
                "rss_mb": round(rss_mb, 1),
                "pid": os.getpid(),
            }
        ),
        flush=True,
    )
    try:
        sys.stdin.read()  # until the parent closes our stdin (or dies)
    except KeyboardInterrupt:
        pass
    server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--start", type=date.fromisoformat, default=Spec.start)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0, help="delay every spend-log page (a real proxy's query)")
    args = parser.parse_args()
    serve(Spec(args.requests, args.days, args.start, args.seed), args.port, args.latency_ms)


if __name__ == "__main__":
    main()
