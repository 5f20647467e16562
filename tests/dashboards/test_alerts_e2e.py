"""End to end with the real services: broker, worker, Prometheus, Alertmanager.

A scenario is replayed `SPEEDUP` times faster than real time, so Prometheus evaluates the
production rules with every window and `for:` shrunk by `RULE_SCALE` (`Config.scaled`):
the same expressions, on a compressed clock. carrier-outage must bring the carrier delay
alert to Alertmanager for zto; steady must bring no alert; every dashboard panel's query
must return data from what Prometheus scraped.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dashboards.config import PRODUCTION
from dashboards.grafana import DASHBOARDS, all_queries
from dashboards.rules import rule_groups
from dashboards.snapshot import ALL, concrete, render_all
from streams import localkafka
from streams.admin import create_topics
from streams.config import Settings, load_settings
from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.sinks import KafkaSink, paced
from streams.generator.stream import EventStream, Faults
from streams.localmonitoring import start_monitoring
from streams.localworker import start_worker, stop_worker
from tests.conftest import REPO, free_port
from tests.dashboards.tools import alertmanager, prometheus

pytestmark = pytest.mark.kafka
SPEEDUP = 1800.0
"""Event seconds per wall second while payments are being replayed."""
RULE_SCALE = 60.0
"""Rule windows shrink this much: 5 min -> 5 s, 1 h -> 60 s (scrapes and evaluations every second)."""
RATE = 0.1
"""Orders per event-time second."""
ALERTMANAGER_CONFIG = REPO / "dashboards" / "alertmanager" / "alertmanager.yml"


@dataclass
class Stack:
    settings: Settings
    prometheus_url: str
    alertmanager_url: str
    data: Path


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    settings = load_settings(
        {
            "CXKPI_CACHE_DIR": str(REPO / ".cache"),
            "CXKPI_KAFKA_PORT": str(free_port()),
            "CXKPI_KAFKA_CONTROLLER_PORT": str(free_port()),
            "CXKPI_KAFKA_DATA_DIR": str(tmp_path / "kafka"),
            "CXKPI_WEB_PORT": str(free_port()),
            "CXKPI_APP_ID": "cxkpi-e2e",
        }
    )
    prometheus(), alertmanager()  # a clear failure when `make tools` did not run
    worker = monitoring = None
    localkafka.start(settings)
    try:
        monitoring = start_monitoring(
            tmp_path / "monitoring",
            [f"127.0.0.1:{settings.web_port}"],
            rule_groups(PRODUCTION.scaled(RULE_SCALE)),
            free_port(),
            free_port(),
            ALERTMANAGER_CONFIG,
        )
        create_topics(settings)
        worker = start_worker(settings, tmp_path / "worker.log")
        assert monitoring.alertmanager_url is not None
        yield Stack(settings, monitoring.prometheus_url, monitoring.alertmanager_url, tmp_path)
    finally:
        if worker is not None:
            stop_worker(worker)
        if monitoring is not None:
            monitoring.stop()
        localkafka.stop(settings)


def _replay(stack: Stack, name: str, hours: int, faults: Faults, paced_part: bool) -> None:
    """Send the scenario's payments paced (`paced_part`), or else the lifecycle tail after the
    last payment at full speed (it has no wall-time meaning: deliveries and refunds days later)."""
    stream = EventStream(scenario(name), seed=7, rate_per_s=RATE, duration_ms=hours * HOUR_MS, faults=faults)
    sink = KafkaSink(stack.settings.bootstrap)
    last_payment = stream.end_ms or 0
    try:
        for record in paced(stream, SPEEDUP, last_payment):
            if (record.event_time <= last_payment) == paced_part:
                sink.send(record)
            elif paced_part:
                break
    finally:
        sink.close()


def _query(stack: Stack, expr: str) -> list[dict[str, Any]]:
    answer = _get(f"{stack.prometheus_url}/api/v1/query?query={urllib.parse.quote(expr)}")
    assert answer["status"] == "success", (expr, answer)
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def _wait_consumed(stack: Stack, timeout_s: float = 180) -> None:
    """Until the worker has no lag left and its gauges were refreshed after that."""
    deadline = time.monotonic() + timeout_s
    while True:
        lag = _query(stack, 'sum(cxkpi_consumer_lag_records{job="cxkpi"})')
        if lag and float(lag[0]["value"][1]) == 0:
            break
        assert time.monotonic() < deadline, f"lag left: {lag}"
        time.sleep(1)
    time.sleep(12)  # the worker's gauge timers run every 5 s; Prometheus scrapes every second


def _without_data(stack: Stack, queries: dict[str, str], rounds: int = 5) -> list[str]:
    """The names of the queries that returned nothing, asked again a few scrapes later.

    A gauge's instant value is gone for a moment after one scrape timed out (Prometheus marks
    the target's series stale; the scrape timeout here is the 1 s interval): a panel without
    data is one that stays empty over several scrapes."""
    empty = list(queries)
    for attempt in range(rounds):
        empty = [name for name in empty if not _query(stack, queries[name])]
        if not empty or attempt == rounds - 1:
            break
        time.sleep(3)
    return empty


def _scrape_health(stack: Stack) -> str:
    """For a failure message: the worker's scrapes that failed lately, and its log's end."""
    failed = _query(stack, 'count_over_time((up{job="cxkpi"} == 0)[5m:1s])')
    log = (stack.data / "worker.log").read_text(errors="replace").splitlines()[-20:]
    return f"failed scrapes in the last 5 min: {failed}\nworker.log ends:\n" + "\n".join(log)


def _alerts(stack: Stack) -> list[dict[str, Any]]:
    return [a for a in _get(f"{stack.alertmanager_url}/api/v2/alerts") if a["status"]["state"] == "active"]


def _firing(stack: Stack) -> list[dict[str, Any]]:
    return [r["metric"] for r in _query(stack, 'ALERTS{alertstate="firing"}')]


def test_carrier_outage_alert_reaches_alertmanager_and_panels_have_data(stack: Stack) -> None:
    # some records delayed past the 10 min grace: late events must show on the processor dashboard
    faults = Faults(late_ratio=0.02, late_max_ms=30 * 60_000, dup_ratio=0.01, bad_ratio=0.01)
    started, wall_start = time.monotonic(), time.time()
    replay = threading.Thread(target=_replay, args=(stack, "carrier-outage", 36, faults, True))
    replay.start()
    seen: dict[tuple[str, str], float] = {}
    alert: dict[str, Any] = {}
    deadline = None
    while deadline is None or time.monotonic() < deadline:
        for a in _alerts(stack):
            key = (a["labels"]["alertname"], a["labels"].get("carrier", ""))
            seen.setdefault(key, time.monotonic() - started)
            if key == ("CxkpiCarrierDelaySpike", "zto"):
                alert = a
        if deadline is None and not replay.is_alive():
            deadline = time.monotonic() + 30
        time.sleep(1)
    replay.join()
    print(f"\nalerts seen in Alertmanager, seconds after the replay began: {seen}")
    assert ("CxkpiCarrierDelaySpike", "zto") in seen, f"firing in Prometheus: {_firing(stack)}"
    # the outage starts at hour 24 of 36 paced hours: within the bounded time after it
    assert seen[("CxkpiCarrierDelaySpike", "zto")] < 36 * 3600 / SPEEDUP + 30
    assert {c for name, c in seen if name == "CxkpiCarrierDelaySpike"} == {"zto"}
    assert alert["labels"]["severity"] == "page"
    assert alert["annotations"]["runbook_url"].endswith("#cxkpicarrierdelayspike")
    assert [r["name"] for r in alert["receivers"]] == ["pager"]

    # the rest of the orders' lives (overdue orders, late refunds), then every dashboard panel's query
    _replay(stack, "carrier-outage", 36, faults, False)
    # every dashboard panel's query returns data from what this Prometheus scraped (the
    # comparison offset is set to 30 s: this Prometheus has minutes of history, not days)
    _wait_consumed(stack)
    variables = ALL | {"$__rate_interval": "1m", "$compare": "30s"}
    queries = {f"{uid} / {title}": concrete(expr, variables) for uid, title, expr in all_queries()}
    empty = _without_data(stack, queries)
    assert empty == [], "\n".join([*(f"{name}: {queries[name]}" for name in empty), _scrape_health(stack)])

    # and `cxkpi snapshot`'s renderer draws every panel of every dashboard from range queries
    # over the whole run: once the input is all processed, rates fall to 0 and ratios to NaN
    written = render_all(stack.prometheus_url, stack.data / "snapshots", wall_start, time.time(), variables)
    assert [p.name for p, _, _ in written] == [f"{make().uid}.png" for make in DASHBOARDS]
    for path, with_data, panels in written:
        assert path.stat().st_size > 10_000, path
        assert with_data == panels, (path.name, with_data, panels)


def test_steady_trading_fires_no_alert(stack: Stack) -> None:
    _replay(stack, "steady", 24, Faults(), True)
    end = time.monotonic() + 20  # longer than any scaled `for:` of a page or ticket alert but the slow burn's
    seen: set[str] = set()
    while time.monotonic() < end:
        seen |= {m["alertname"] for m in _firing(stack)}
        time.sleep(1)
    assert seen == set()
    assert [a["labels"]["alertname"] for a in _alerts(stack)] == []
