"""`cxkpi snapshot --prometheus URL` alone: range, rate interval and comparison from the data."""

from __future__ import annotations

from typing import Any

import pytest

from dashboards import snapshot_plan
from dashboards.prometheus_api import parse_scrape_interval

START = 1_800_000_000.0


def fake_prometheus(monkeypatch: pytest.MonkeyPatch, newest: list[tuple[float, float]]) -> None:
    def range_query(url: str, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        values = [[t, str(v)] for t, v in newest if start <= t <= end]
        return [{"metric": {}, "values": values}] if values else []

    monkeypatch.setattr(snapshot_plan, "head_span", lambda url: (START - 60, START + 400))
    monkeypatch.setattr(snapshot_plan, "range_query", range_query)
    monkeypatch.setattr(snapshot_plan, "scrape_interval_s", lambda url: 1.0)


def test_a_replay_is_drawn_where_event_time_advanced_with_event_time_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    # 48 h of event time in 288 wall seconds (600x), then an idle worker
    replay = [(START + t, 1_793_000_000.0 + 600 * min(t, 288)) for t in range(0, 400, 2)]
    fake_prometheus(monkeypatch, replay)
    view = snapshot_plan.plan("http://prometheus")
    assert (view.timeline.start, view.timeline.end) == (START, START + 298)
    assert view.timeline.pace == pytest.approx(600)
    # an hour of event time (6 s at 600x), more than Grafana's four scrapes of 1 s
    assert view.variables["$__rate_interval"] == "6s"
    # a day of event time back, not the dashboard's 7d, which this data cannot reach
    assert (view.titles["$compare"], view.variables["$compare"]) == ("1d", "144s")
    assert view.variables["$category"] == ".*"


def test_flags_still_override_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_prometheus(monkeypatch, [(START + t, START + t - 30) for t in range(0, 400, 15)])
    view = snapshot_plan.plan("http://prometheus", range_s=120, rate_interval="1m", compare="30m")
    assert view.timeline.end - view.timeline.start == 120
    assert not view.timeline.replay
    assert (view.variables["$__rate_interval"], view.variables["$compare"]) == ("60s", "1800s")


def test_scrape_interval_from_the_running_configuration() -> None:
    assert parse_scrape_interval("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n") == 1.0
    assert parse_scrape_interval("global:\n  scrape_interval: 1m\n") == 60.0
    assert parse_scrape_interval("scrape_configs: []\n") == 15.0
