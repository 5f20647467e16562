"""The demo's line on the alerts that fired: from Prometheus's `ALERTS` series, each alert
once whatever its label sets, first first, with about how long it fired."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from streams.local.alert_history import FIRING, Fired, describe, fired_alerts
from tests.local.loopback_http import serve

T0 = 1_796_601_600.0  # 2026-12-07 00:00:00 UTC


def _series(alert: str, severity: str, times: list[float], **labels: str) -> dict[str, Any]:
    metric = {"alertname": alert, "alertstate": "firing", "severity": severity} | labels
    return {"metric": metric, "values": [[t, "1"] for t in times]}


@contextmanager
def _prometheus(result: list[dict[str, Any]]) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A loopback Prometheus answering every range query with `result`, and the queries asked."""
    body = json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}}).encode()
    queries: list[dict[str, str]] = []
    with serve(lambda path: (200, body)) as (url, paths):
        yield url, queries
        queries += [dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query)) for path in paths]


def test_each_alert_counts_once_whatever_its_label_sets() -> None:
    result = [
        _series("CxkpiCarrierDelaySpike", "page", [T0 + 40, T0 + 41], carrier="zto"),
        _series("CxkpiCarrierDelaySpike", "page", [T0 + 41, T0 + 42, T0 + 43], carrier="sf"),
        _series("CxkpiOrderBurst", "info", [T0 + 10, T0 + 11, T0 + 12, T0 + 13]),
    ]
    with _prometheus(result) as (url, asked):
        fired = fired_alerts(url, T0, T0 + 300)
    assert asked == [{"query": FIRING, "start": str(T0), "end": str(T0 + 300), "step": "1.0"}]
    burst = Fired("CxkpiOrderBurst", "info", T0 + 10, 4.0)
    carrier = Fired("CxkpiCarrierDelaySpike", "page", T0 + 40, 4.0)
    assert fired == [burst, carrier]
    line = describe(fired)
    assert line.startswith("alerts fired: CxkpiOrderBurst (info) for 4 s from 00:00:10 UTC; CxkpiCarrierDelaySpike")


def test_a_long_run_keeps_under_prometheus_points_limit() -> None:
    with _prometheus([]) as (url, asked):
        assert fired_alerts(url, T0, T0 + 48 * 3600) == []
    assert float(asked[0]["step"]) * 10_000 >= 48 * 3600
    assert describe([]) == "alerts fired: none"
