"""End to end with the real services: broker, worker, Prometheus, Alertmanager.

A scenario is replayed `SPEEDUP` times faster than real time, so Prometheus evaluates the
production rules with every window and `for:` shrunk by `RULE_SCALE` (`Config.scaled`):
the same expressions, on a compressed clock. carrier-outage must bring the carrier delay
alert to Alertmanager for zto; steady must bring no alert; every dashboard panel's query
must return data from what Prometheus scraped.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dashboards.__main__ import rules_yaml
from dashboards.config import PRODUCTION
from dashboards.grafana import all_queries
from streams import localkafka
from streams.admin import create_topics
from streams.config import Settings, load_settings
from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.sinks import KafkaSink, paced
from streams.generator.stream import EventStream, Faults
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


@dataclass
class Stack:
    settings: Settings
    prometheus_url: str
    alertmanager_url: str
    data: Path


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer; see {log}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
    am_port, prom_port = free_port(), free_port()
    rules = tmp_path / "rules.yml"
    rules.write_text(rules_yaml(PRODUCTION.scaled(RULE_SCALE)))
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(rules)],
                "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
                "scrape_configs": [
                    {"job_name": "cxkpi", "static_configs": [{"targets": [f"127.0.0.1:{settings.web_port}"]}]}
                ],
            }
        )
    )
    procs: list[subprocess.Popen[bytes]] = []
    worker = None
    localkafka.start(settings)
    try:
        am_log = tmp_path / "alertmanager.log"
        procs.append(
            subprocess.Popen(
                [
                    alertmanager(),
                    f"--config.file={REPO / 'dashboards' / 'alertmanager' / 'alertmanager.yml'}",
                    f"--storage.path={tmp_path / 'am'}",
                    f"--web.listen-address=127.0.0.1:{am_port}",
                    "--cluster.listen-address=",
                ],
                stdout=am_log.open("wb"),
                stderr=subprocess.STDOUT,
            )
        )
        _wait_http(f"http://127.0.0.1:{am_port}/-/ready", procs[-1], am_log)
        prom_log = tmp_path / "prometheus.log"
        procs.append(
            subprocess.Popen(
                [
                    prometheus(),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'prom'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                ],
                stdout=prom_log.open("wb"),
                stderr=subprocess.STDOUT,
            )
        )
        _wait_http(f"http://127.0.0.1:{prom_port}/-/ready", procs[-1], prom_log)
        create_topics(settings)
        worker = start_worker(settings, tmp_path / "worker.log")
        yield Stack(settings, f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{am_port}", tmp_path)
    finally:
        if worker is not None:
            stop_worker(worker)
        for proc in reversed(procs):
            _stop(proc)
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


def _alerts(stack: Stack) -> list[dict[str, Any]]:
    return [a for a in _get(f"{stack.alertmanager_url}/api/v2/alerts") if a["status"]["state"] == "active"]


def _firing(stack: Stack) -> list[dict[str, Any]]:
    query = urllib.parse.quote('ALERTS{alertstate="firing"}')
    return [r["metric"] for r in _get(f"{stack.prometheus_url}/api/v1/query?query={query}")["data"]["result"]]


def test_carrier_outage_alert_reaches_alertmanager_and_panels_have_data(stack: Stack) -> None:
    faults = Faults(late_ratio=0.02, dup_ratio=0.01, bad_ratio=0.01)
    started = time.monotonic()
    replay = threading.Thread(target=_replay, args=(stack, "carrier-outage", 36, faults, True))
    replay.start()
    seen: dict[tuple[str, str], float] = {}
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
    time.sleep(15)
    empty = []
    for uid, title, expr in all_queries():
        concrete = (
            expr.replace("$__rate_interval", "1m")
            .replace("$compare", "30s")
            .replace("$category", ".*")
            .replace("$channel", ".*")
            .replace("$carrier", ".*")
        )
        result = _get(f"{stack.prometheus_url}/api/v1/query?query={urllib.parse.quote(concrete)}")
        assert result["status"] == "success", (uid, title, result)
        if not result["data"]["result"]:
            empty.append(f"{uid} / {title}: {concrete}")
    assert empty == [], "\n".join(empty)


def test_steady_trading_fires_no_alert(stack: Stack) -> None:
    _replay(stack, "steady", 24, Faults(), True)
    end = time.monotonic() + 20  # longer than any scaled `for:` of a page or ticket alert but the slow burn's
    seen: set[str] = set()
    while time.monotonic() < end:
        seen |= {m["alertname"] for m in _firing(stack)}
        time.sleep(1)
    assert seen == set()
    assert [a["labels"]["alertname"] for a in _alerts(stack)] == []
