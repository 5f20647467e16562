"""`cxkpi demo`: broker, topics, one KPI worker and a scenario streaming live, then a clean stop.

Everything it starts is watched while the scenario streams (`streams.local.watch`): a child
that dies ends the demo with its exit status and the end of its log, not a run that looks
fine. The demo streams the scenario's payments paced and stops at the last one; order
lifecycles still in flight then are not fast-forwarded (`streams.generator.sinks.until`).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka.errors import KafkaError

import dashboards
from dashboards.config import PRODUCTION
from dashboards.rules import rule_groups
from streams.clients.admin import create_topics, partitions_for
from streams.clients.reachable import require_broker
from streams.clients.security import kafka_python_config
from streams.config import Settings, paced_grace_s
from streams.durations import duration_ms, duration_ms_arg
from streams.generator.scenarios import SCENARIOS, scenario
from streams.generator.sinks import KafkaSink, paced, until
from streams.generator.stream import DEFAULT_START_MS, EventStream, GenStats
from streams.generator.truth import phase_kpis, render_deltas
from streams.local import broker as local_broker
from streams.local.alert_history import describe, fired_alerts
from streams.local.monitoring import (
    Monitoring,
    MonitoringError,
    MonitoringNotInstalled,
    alerts_page,
    start_monitoring,
)
from streams.local.watch import ChildExited, Watch, popen_child
from streams.local.worker import SETTLE_TYPICAL_S, WorkerTally, start_worker, stop_worker, wait_settled
from streams.progress import Progress
from topics.contract import ORDERS
from topics.partitioner import partition_of_shared

ALERTMANAGER_CONFIG = Path(dashboards.__file__).parent / "alertmanager" / "alertmanager.yml"
RULE_SPEEDUP_SHARE = 10.0
"""The demo's rules run with windows shrunk speedup/10 times (5 min -> 5 s at 600x, the shortest
a 1 s scrape allows): event time races ahead of wall time, so production windows would span
most of the demo."""

SCENARIO = "livestream-burst"
SPAN = "48h"
"""The business the demo streams: its payments' span in event time (the README says the same;
a test holds them together)."""
SPEEDUP = 600.0
RATE = 2.0
SETTLE_TIMEOUT_S = 120.0
"""How long the worker may take, after the last record, to consume it and close the windows."""


def register(sub: Any) -> None:
    span_h = duration_ms(SPAN) / 3_600_000
    p = sub.add_parser(
        "demo",
        help=f"stream {span_h:g} h of business live: broker, topics, a worker, Prometheus and Alertmanager",
    )
    p.add_argument("--scenario", choices=SCENARIOS, default=SCENARIO)
    p.add_argument(
        "--duration",
        type=duration_ms_arg,
        default=duration_ms(SPAN),
        help=f"hours of business to stream: the span of payments (default {SPAN})",
    )
    p.add_argument("--rate", type=float, default=RATE, help="paid orders per second of event time")
    p.add_argument("--seed", type=int, default=1, help="the same seed streams the same events")
    p.add_argument("--speedup", type=float, default=SPEEDUP, help="event time runs X times faster than wall time")
    p.add_argument("--keep", action="store_true", help="leave the broker running afterwards")
    after = p.add_mutually_exclusive_group()
    after.add_argument("--no-wait", action="store_true", help="stop once the scenario is sent, even at a terminal")
    after.add_argument(
        "--serve",
        action="store_true",
        help="keep serving after the scenario is sent, even without a terminal (CI, nohup), until Ctrl-C or SIGTERM",
    )
    p.add_argument("--no-monitoring", action="store_true", help="start no Prometheus and Alertmanager")
    p.set_defaults(handler=run)


@dataclass
class Started:
    """What this demo started, to stop in the end whatever happened."""

    broker: bool = False
    worker: subprocess.Popen[bytes] | None = None
    monitoring: Monitoring | None = None
    watch: Watch = field(default_factory=Watch)

    def stop(self, settings: Settings, keep_broker: bool) -> None:
        if self.monitoring is not None:
            self.monitoring.stop()
            print("prometheus and alertmanager stopped", flush=True)
        if self.worker is not None and self.worker.poll() is None:
            stop_worker(self.worker)
            print("worker stopped", flush=True)
        if self.broker and not keep_broker and local_broker.stop(settings):
            print("kafka stopped", flush=True)


def run(args: argparse.Namespace) -> int:
    began = time.monotonic()
    # the worker's grace covers delivery delays in wall time, whatever the pace (see paced_grace_s)
    settings = replace(args.settings, grace_s=paced_grace_s(args.settings.grace_s, args.speedup))
    started = Started()
    serve, ending = keep_serving(args, sys.stdin.isatty())
    try:
        _start_broker(settings, started)
        report = create_topics(settings)
        print(f"topics: created {len(report.created)}, already there {len(report.existing)}")
        _start_worker(settings, started)
        if not args.no_monitoring:
            _start_monitoring(settings, args.speedup, started)
        streaming_began = time.monotonic()
        print(announce(args, settings, ending), flush=True)
        sent = _stream(settings, args, started.watch)
        streamed_s = time.monotonic() - streaming_began
        tally = _settle(settings, sent, started.watch)
        print(summary(args, sent, tally, streamed_s, time.monotonic() - streaming_began - streamed_s), flush=True)
        if started.monitoring is not None:
            print(f"  {_alerts_fired(started.monitoring.prometheus_url, time.time() - (time.monotonic() - began))}")
        print(f"demo ran {_minutes(time.monotonic() - began)}, start-up included", flush=True)
        print(ending, flush=True)
        while serve:
            started.watch.sleep(3600)
        return 0
    except ChildExited as exc:
        print(f"cxkpi demo: {exc}", file=sys.stderr, flush=True)
        print("cxkpi demo: stopping what it started", file=sys.stderr, flush=True)
        return 1
    except (local_broker.BrokerError, KafkaError, MonitoringError, RuntimeError, OSError) as exc:
        print(f"cxkpi demo: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        started.stop(settings, args.keep)


def keep_serving(args: argparse.Namespace, stdin_is_tty: bool) -> tuple[bool, str]:
    """Whether to keep serving once the scenario is sent, and the line that says what happens then.

    Without a terminal (CI, nohup, a pipe) nobody can press Ctrl-C, so the demo stops by
    itself unless --serve asks it to stay (then SIGTERM stops it)."""
    if args.no_wait:
        return False, "--no-wait: the demo stops once the scenario is sent."
    if args.serve or stdin_is_tty:
        return True, "the worker keeps serving once the scenario is sent; Ctrl-C (or SIGTERM) stops everything."
    return False, (
        "no terminal on stdin (CI, nohup): the demo stops once the scenario is sent; --serve keeps it serving."
    )


def _start_broker(settings: Settings, started: Started) -> None:
    if settings.external_cluster or local_broker.status(settings).running:
        require_broker(settings)
        local_broker.wait_ready(settings.bootstrap, timeout_s=15)
        print(f"using the Kafka cluster at {settings.bootstrap}")
        if not settings.external_cluster:  # a local broker someone else started: still worth watching
            started.watch.add(local_broker.watched(settings))
        return
    # a fresh log: the last demo's events (same seed, same ids) and table changelogs would mix in
    shutil.rmtree(settings.kafka_data_dir / "kraft", ignore_errors=True)
    print("starting a fresh Kafka (first run downloads its jars with Maven)...", flush=True)
    started.broker = True
    print(local_broker.start(settings).describe())
    started.watch.add(local_broker.watched(settings))


def _start_worker(settings: Settings, started: Started) -> None:
    log = settings.cache_dir / "worker.log"
    log.unlink(missing_ok=True)  # this run's log alone: its last lines are what a death report shows
    started.worker = start_worker(settings, log)
    started.watch.add(popen_child("worker", started.worker, log))
    base = f"http://{settings.web_host}:{settings.web_port}"
    print(
        f"worker up (pid {started.worker.pid}, log {log}):\n"
        f"  metrics     {base}/metrics\n"
        f"  guarantees  {base}/orders/o-1-00000000/guarantees",
        flush=True,
    )


def _start_monitoring(settings: Settings, speedup: float, started: Started) -> None:
    """Prometheus + Alertmanager on loopback with the rules scaled to the demo's pace; skipped if not installed."""
    workdir = settings.cache_dir / "monitoring"
    shutil.rmtree(workdir, ignore_errors=True)  # a fresh TSDB: the last demo's series would mislead
    scale = max(speedup / RULE_SPEEDUP_SHARE, 1.0)
    try:
        monitoring = start_monitoring(
            workdir,
            [f"{settings.web_host}:{settings.web_port}"],
            rule_groups(PRODUCTION.scaled(scale)),
            settings.prometheus_port,
            settings.alertmanager_port,
            ALERTMANAGER_CONFIG,
        )
    except MonitoringNotInstalled as exc:  # installed but failing is an error; missing is a choice
        print(f"no monitoring: {exc}", flush=True)
        return
    started.monitoring = monitoring
    started.watch.add(*monitoring.children)
    pids = {child.name: child.pid for child in monitoring.children}
    print(
        f"monitoring (rule windows shrunk {scale:g}x to the demo's pace; logs in {workdir}):\n"
        f"  prometheus   {alerts_page(monitoring.prometheus_url)} (pid {pids['prometheus']})\n"
        f"  alertmanager {monitoring.alertmanager_url} (pid {pids['alertmanager']})\n"
        f"  snapshots    cxkpi snapshot --prometheus {monitoring.prometheus_url} (once the scenario is sent)",
        flush=True,
    )


def _alerts_fired(prometheus_url: str, since_s: float) -> str:
    """What fired since the demo began: its alerts can fire for seconds only at this pace."""
    try:
        return describe(fired_alerts(prometheus_url, since_s, time.time()))
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        return f"alerts fired: not known (Prometheus did not answer: {exc})"


def announce(args: argparse.Namespace, settings: Settings, ending: str) -> str:
    """What is about to stream and for how long, from the same numbers that pace it."""
    end_ms = DEFAULT_START_MS + args.duration
    grace_wall_s = settings.grace_s / args.speedup
    return (
        f"streaming scenario '{args.scenario}': {args.duration / 3_600_000:g} h of business "
        f"(payments {_clock(DEFAULT_START_MS)} to {_clock(end_ms)} UTC) at {args.rate:g} orders/s, "
        f"{args.speedup:g}x faster than real time: {_minutes(streaming_s(args))}, "
        f"then about {SETTLE_TYPICAL_S:.0f} s for the worker to close its windows\n"
        f"  orders still in flight at the end are not played out (no fast-forward); "
        f"worker grace {settings.grace_s / 60:g} min of event time ({grace_wall_s:g} s at this pace)\n"
        f"  {ending}"
    )


def streaming_s(args: argparse.Namespace) -> float:
    """Wall time the paced payments take: the span over the speed-up (the only pacing there is)."""
    return float(args.duration / 1000 / args.speedup)


@dataclass
class Sent:
    """What the demo streamed: records, and the newest event time per input partition."""

    records: int = 0
    newest_ms: dict[int, int] = field(default_factory=dict)
    stats: GenStats = field(default_factory=GenStats)


class _WatchedClock:
    """`paced`'s clock: its waits look at the children, so a death stops the stream at once."""

    def __init__(self, watch: Watch):
        self.sleep = watch.sleep
        self.monotonic = time.monotonic


def _stream(settings: Settings, args: argparse.Namespace, watch: Watch) -> Sent:
    chosen = scenario(args.scenario, args.duration)
    stream = EventStream(
        chosen,
        seed=args.seed,
        rate_per_s=args.rate,
        start_ms=DEFAULT_START_MS,
        duration_ms=args.duration,
        keep_truth=len(chosen.phases) > 1,
    )
    end_ms = DEFAULT_START_MS + args.duration
    partitions = partitions_for(ORDERS, settings)  # the input topics are co-partitioned
    sent = Sent(stats=stream.stats)
    progress = Progress(f"stream {args.scenario} -> kafka {settings.bootstrap}", None)
    sink = KafkaSink(settings.bootstrap, **kafka_python_config(settings))
    try:
        for record in paced(until(stream, end_ms), args.speedup, clock=_WatchedClock(watch)):
            sink.send(record)
            sent.records += 1
            # the producer's partitioner, so the demo knows each partition's final watermark
            partition = partition_of_shared(record.key, partitions, 0)
            sent.newest_ms[partition] = max(record.event_time, sent.newest_ms.get(partition, 0))
            if sent.records % 1000 == 0:
                progress.update(sent.records, f"event time {_clock(record.event_time)}")
            watch.due_check()
    except BaseException as exc:
        # a child's death explains a Kafka error better than the error does
        death = exc if isinstance(exc, ChildExited) else watch.death() if isinstance(exc, Exception) else None
        broker_gone = death is not None and death.child.name == "kafka"
        # a dead broker acknowledges nothing more: do not wait for it
        print(f"\nstopped streaming: {sink.abort(0 if broker_gone else 5)}", file=sys.stderr, flush=True)
        if death is not None and death is not exc:
            raise death from exc
        raise
    sink.close()
    progress.update(sent.records)
    progress.finish()
    return sent


def _settle(settings: Settings, sent: Sent, watch: Watch) -> WorkerTally:
    """Wait for the worker to consume the last records and close the windows they end."""
    print("scenario sent; waiting for the worker to close its windows...", flush=True)
    grace_ms = settings.grace_s * 1000
    final = {p: newest - grace_ms for p, newest in sent.newest_ms.items()}
    try:
        return wait_settled(
            lambda: WorkerTally.read(settings.web_port), sent.records, final, SETTLE_TIMEOUT_S, sleep=watch.sleep
        )
    except OSError:
        watch.check()  # its metrics did not answer: a death says more than the refused request
        raise


def summary(args: argparse.Namespace, sent: Sent, tally: WorkerTally, streamed_s: float, settle_s: float) -> str:
    """What was streamed, how long it took against what was announced, and what the worker made of it."""
    announced = streaming_s(args)
    behind = "" if streamed_s < announced + 5 else " (the machine could not keep the pace)"
    rejects = ", ".join(f"{n:,} {reason}" for reason, n in sorted(tally.rejects.items())) or "none"
    start, end = DEFAULT_START_MS, DEFAULT_START_MS + args.duration
    middle = start + args.duration // 2
    closed = min(tally.watermarks_ms.values(), default=start)
    by_topic = ", ".join(f"{topic} {n:,}" for topic, n in sorted(sent.stats.by_topic.items()))
    lines = [
        f"streamed {sent.records:,} records ({by_topic}) in {_minutes(streamed_s)} "
        f"(announced {_minutes(announced)}){behind}; the worker settled {settle_s:.0f} s later",
        f"  consumed {tally.consumed:,} events, late window updates {tally.late_updates:,}, rejects: {rejects}",
        f"  windows closed up to {_clock(closed)} UTC (event time); cohorts settle 48 h to 7 days after payment, "
        "so the newest are provisional (their values so far, refreshed as they move)",
        f"  report      cxkpi report --baseline {_iso(start)}..{_iso(middle)} --current {_iso(middle)}..{_iso(end)}",
    ]
    if sent.stats.truths:  # before-after: the deltas built into the run, to hold the report against
        lines += [
            "known KPI deltas built into this run (by payment period):",
            *render_deltas(phase_kpis(sent.stats.truths)),
        ]
    return "\n".join(lines)


def _clock(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M")


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"
