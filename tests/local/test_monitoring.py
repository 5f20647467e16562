"""Which alerts page the demo prints: the one the running Prometheus serves."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from streams.local.monitoring import alerts_page


@contextmanager
def _prometheus(classic_status: int) -> Iterator[tuple[str, list[str]]]:
    """A loopback server answering /classic/alerts with `classic_status`, and the paths asked."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(classic_status if self.path == "/classic/alerts" else 200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_prometheus_serving_the_classic_page_gets_it() -> None:
    """Debian's Prometheus 2.42: /alerts lacks its React assets, /classic/alerts works."""
    with _prometheus(200) as (url, asked):
        assert alerts_page(url) == f"{url}/classic/alerts"
    assert asked == ["/classic/alerts"]


def test_a_prometheus_without_the_classic_page_gets_alerts() -> None:
    """Prometheus 3 has no /classic: a 404 means its /alerts page."""
    with _prometheus(404) as (url, asked):
        assert alerts_page(url) == f"{url}/alerts"
    assert asked == ["/classic/alerts"]


def test_no_answer_gets_alerts() -> None:
    with _prometheus(200) as (url, _):
        pass  # stopped: the port refuses
    assert alerts_page(url, timeout_s=0.5) == f"{url}/alerts"
