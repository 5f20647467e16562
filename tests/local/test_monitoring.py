"""Which alerts page the demo prints: the one the running Prometheus serves."""

from __future__ import annotations

from contextlib import AbstractContextManager

from streams.local.monitoring import alerts_page
from tests.local.loopback_http import serve


def _prometheus(classic_status: int) -> AbstractContextManager[tuple[str, list[str]]]:
    """A loopback server answering /classic/alerts with `classic_status`, and the paths asked."""
    return serve(lambda path: (classic_status if path == "/classic/alerts" else 200, b""))


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
