"""A scenario replayed against the real services, and the alerts Alertmanager had meanwhile.

One broker serves every replay; each replay gets the contract's topics afresh, its own
worker (own app id, so its own consumer group and changelogs), and its own Prometheus and
Alertmanager with the production rules shrunk to its pace (`Config.scaled`). A scenario with
history (`ScenarioAlerts.warm_h`) has it sent and processed before Prometheus starts, with
the worker already running.

The episodes scored are Prometheus's own record of its firing alerts (`ALERTS`, one sample
per evaluation) from its start on: Alertmanager hears of an alert only once Prometheus has
discovered it (a few seconds after start), so a page at start-up would go unseen there. A
thread also keeps each alert as Alertmanager first showed it, for its receivers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient

from dashboards.alert_quality import Episode
from dashboards.config import PRODUCTION, REPLAY_EVALUATION_INTERVAL_S
from dashboards.rules import rule_groups
from streams.clients.admin import create_topics
from streams.config import Settings
from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.sinks import KafkaSink, paced
from streams.generator.stream import DEFAULT_START_MS, EventStream, Faults
from streams.local.monitoring import Monitoring, start_monitoring
from streams.local.worker import WorkerTally, free_port, start_worker, stop_worker, wait_settled
from tests.conftest import REPO

ALERTMANAGER_CONFIG = REPO / "dashboards" / "alertmanager" / "alertmanager.yml"
EVENT_S_PER_RULE_S = 30.0
"""Event seconds per second of the shrunk rules' clock, by default: a replay at 1800x runs
rules shrunk 60x (5 min -> 5 s, the shortest a 1 s scrape allows), so a 5-minute window
spans 2.5 h of event time."""
POLL_S = 0.5


@dataclass(frozen=True)
class Replay:
    scenario: str
    hours: int
    speedup: float
    """Event seconds per wall second while payments are being sent."""
    rate: float
    """Paid orders per event-time second."""
    faults: Faults = field(default_factory=Faults)
    seed: int = 7
    warm_h: int = 0
    """Hours from the start sent unpaced before Prometheus starts (the world's history)."""
    event_s_per_rule_s: float = EVENT_S_PER_RULE_S
    """How much longer in event time a rule's windows and `for:` are than in production."""

    @property
    def rule_scale(self) -> float:
        return self.speedup / self.event_s_per_rule_s

    def stream(self) -> EventStream:
        duration = self.hours * HOUR_MS
        plan = scenario(self.scenario, duration)
        return EventStream(plan, seed=self.seed, rate_per_s=self.rate, duration_ms=duration, faults=self.faults)

    @property
    def warm_end_ms(self) -> int:
        return DEFAULT_START_MS + self.warm_h * HOUR_MS


@dataclass
class Clock:
    """Wall time <-> event time of a paced replay, from its first record on."""

    speedup: float
    origin_wall: float | None = None
    origin_event_ms: int = DEFAULT_START_MS

    def event_h(self, wall: float) -> float:
        assert self.origin_wall is not None, "the replay has not started"
        event_ms = self.origin_event_ms + (wall - self.origin_wall) * 1000 * self.speedup
        return (event_ms - DEFAULT_START_MS) / HOUR_MS


@dataclass
class AlertmanagerWatch:
    """Each alert (label set) as Alertmanager first showed it: its receivers, its annotations."""

    alertmanager_url: str
    first_seen: dict[frozenset[tuple[str, str]], dict[str, Any]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):  # a poll Alertmanager did not answer is simply skipped
                for alert in get(f"{self.alertmanager_url}/api/v2/alerts"):
                    self.first_seen.setdefault(frozenset(alert["labels"].items()), alert)
            self._stop.wait(POLL_S)


def firing_episodes(stack: Stack, clock: Clock, until: float) -> list[Episode]:
    """Each alert's firing spans from Prometheus's start to `until` (wall time), from `ALERTS`:
    a gap of more than one evaluation between its samples ends an episode."""
    step = REPLAY_EVALUATION_INTERVAL_S
    query = urllib.parse.urlencode(
        {"query": 'ALERTS{alertstate="firing"}', "start": stack.started, "end": until, "step": step}
    )
    answer = get(f"{stack.prometheus_url}/api/v1/query_range?{query}")
    assert answer["status"] == "success", answer
    episodes = []
    for series in answer["data"]["result"]:
        labels = {k: v for k, v in series["metric"].items() if k not in ("__name__", "alertstate")}
        for first, last in sample_runs([float(t) for t, _ in series["values"]], 1.5 * step):
            resolved = None if until - last <= 1.5 * step else clock.event_h(last + step)
            episodes.append(Episode(labels, clock.event_h(first), resolved))
    return episodes


def sample_runs(times: list[float], gap: float) -> list[tuple[float, float]]:
    """(first, last) of each run of sample times with no gap over `gap`."""
    runs: list[tuple[float, float]] = []
    for t in times:
        if runs and t - runs[-1][1] <= gap:
            runs[-1] = (runs[-1][0], t)
        else:
            runs.append((t, t))
    return runs


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


@dataclass
class Stack:
    settings: Settings
    monitoring: Monitoring
    alertmanager: AlertmanagerWatch
    data: Path
    started: float = field(default_factory=time.time)
    """When Prometheus started (wall time)."""
    worker: subprocess.Popen[bytes] | None = None

    @property
    def prometheus_url(self) -> str:
        return self.monitoring.prometheus_url

    def assert_worker_running(self) -> None:
        """A replay scored with its worker dead proves nothing: no alert is the answer key's
        `steady` too (a worker that crashed at start passed it on 2026-12-07)."""
        assert self.worker is not None and self.worker.poll() is None, (
            "the worker exited: " + (self.data / "worker.log").read_text(errors="replace")[-3000:]
        )

    def query(self, expr: str) -> list[dict[str, Any]]:
        answer = get(f"{self.prometheus_url}/api/v1/query?query={urllib.parse.quote(expr)}")
        assert answer["status"] == "success", (expr, answer)
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result


def fresh_topics(settings: Settings) -> None:
    """The contract's topics, empty: every topic but the broker's own is deleted and made again."""
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap, client_id="cxkpi-e2e-admin")
    try:
        names = [n for n in admin.list_topics() if not n.startswith("__")]
        if names:
            admin.delete_topics(names, timeout_ms=30_000)
        deadline = time.monotonic() + 30
        while set(names) & set(admin.list_topics()):
            assert time.monotonic() < deadline, "topics still listed 30 s after their deletion"
            time.sleep(0.2)
    finally:
        admin.close()
    create_topics(settings)


@contextlib.contextmanager
def stack(broker: Settings, replay: Replay, data: Path) -> Iterator[Stack]:
    """Fresh topics, Prometheus + Alertmanager (watched from their start), then a worker; with
    history, the worker first and the history processed before Prometheus starts."""
    settings = dataclasses.replace(broker, app_id=f"cxkpi-e2e-{replay.scenario}", web_port=free_port())
    fresh_topics(settings)
    worker = monitoring = watch = None
    try:
        if replay.warm_h:
            worker = start_worker(settings, data / "worker.log")
            send_history(settings, replay, data / "worker.log")
        started = time.time()
        monitoring = start_monitoring(
            data / "monitoring",
            [f"127.0.0.1:{settings.web_port}"],
            rule_groups(PRODUCTION.scaled(replay.rule_scale)),
            free_port(),
            free_port(),
            ALERTMANAGER_CONFIG,
        )
        assert monitoring.alertmanager_url is not None
        watch = AlertmanagerWatch(monitoring.alertmanager_url)
        watch.start()
        worker = worker or start_worker(settings, data / "worker.log")
        yield Stack(settings, monitoring, watch, data, started, worker)
    finally:
        if watch is not None:
            watch.stop()
        if worker is not None:
            stop_worker(worker)
        if monitoring is not None:
            monitoring.stop()


def send_history(settings: Settings, replay: Replay, log: Path, timeout_s: float = 300) -> None:
    """The scenario's first `warm_h` hours at full speed, and until the worker has processed them,
    stage two included: its merges of the history's partials would otherwise hold the paced
    records back for seconds (hours of event time) after Prometheus starts."""
    sink = KafkaSink(settings.bootstrap)
    try:
        for record in replay.stream():
            if record.event_time > replay.warm_end_ms:
                break
            sink.send(record)
    finally:
        sink.close()
    try:  # every record consumed and stage two's lag 0, held over a gauge refresh
        wait_settled(lambda: WorkerTally.read(settings.web_port), sink.sent, {}, timeout_s)
    except RuntimeError as exc:
        raise AssertionError(f"history not processed: {exc}\n{log.read_text()[-3000:]}") from exc


def send_paced(stack: Stack, replay: Replay, clock: Clock) -> None:
    """The payments' span of the scenario, paced at its speed-up; `clock` learns its origin.

    The lifecycle tail after the last payment (deliveries, refunds days later) is left out:
    sent at full speed it has no wall-time meaning (see `send_tail`)."""
    stream = replay.stream()
    last_payment = stream.end_ms or 0
    unsent = (r for r in stream if r.event_time > replay.warm_end_ms)  # after the history
    sink = KafkaSink(stack.settings.bootstrap)
    try:
        for record in paced(unsent, replay.speedup, last_payment):
            if record.event_time > last_payment:
                break
            if clock.origin_wall is None and record.kind != "malformed":
                clock.origin_wall, clock.origin_event_ms = time.time(), record.event_time
            sink.send(record)
    finally:
        sink.close()


def send_tail(stack: Stack, replay: Replay) -> None:
    """The rest of the orders' lives after the last payment, at full speed."""
    stream = replay.stream()
    last_payment = stream.end_ms or 0
    sink = KafkaSink(stack.settings.bootstrap)
    try:
        for record in stream:
            if record.event_time > last_payment:
                sink.send(record)
    finally:
        sink.close()


def replay_and_watch(stack: Stack, replay: Replay, settle_s: float) -> tuple[list[Episode], Clock]:
    """Send the paced part, keep watching `settle_s` more, and return the episodes seen since
    the stack started (in event time)."""
    clock = Clock(replay.speedup)
    send_paced(stack, replay, clock)
    time.sleep(settle_s)
    stack.assert_worker_running()
    return firing_episodes(stack, clock, time.time()), clock
