"""`cxkpi demo`: broker, topics, one KPI worker and a scenario streaming live, then a clean stop."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kafka.errors import KafkaError

import dashboards
from dashboards.config import PRODUCTION
from dashboards.rules import rule_groups
from streams import localkafka
from streams.admin import create_topics
from streams.cli import generate_cmd
from streams.config import Settings
from streams.generator.scenarios import SCENARIOS
from streams.generator.stream import DEFAULT_START_MS
from streams.localmonitoring import Monitoring, MonitoringError, start_monitoring
from streams.localworker import start_worker, stop_worker

ALERTMANAGER_CONFIG = Path(dashboards.__file__).parent / "alertmanager" / "alertmanager.yml"
RULE_SPEEDUP_SHARE = 10.0
"""The demo's rules run with windows shrunk speedup/10 times (5 min -> 5 s at 600x, the shortest
a 1 s scrape allows): event time races ahead of wall time, so production windows would span
most of the demo."""


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="start the broker, create topics and stream a scenario live")
    p.add_argument("--scenario", choices=SCENARIOS, default="livestream-burst")
    p.add_argument("--duration", type=generate_cmd.parse_duration_ms, default=generate_cmd.parse_duration_ms("48h"))
    p.add_argument("--rate", type=float, default=2.0, help="paid orders per second of event time")
    p.add_argument("--speedup", type=float, default=600.0, help="event time runs X times faster than wall time")
    p.add_argument("--keep", action="store_true", help="leave the broker running afterwards")
    p.add_argument("--no-wait", action="store_true", help="stop as soon as the scenario is sent")
    p.add_argument("--no-monitoring", action="store_true", help="start no Prometheus and Alertmanager")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = args.settings
    started = False
    worker: subprocess.Popen[bytes] | None = None
    monitoring: Monitoring | None = None
    try:
        if settings.external_cluster or localkafka.status(settings).running:
            localkafka.wait_ready(settings.bootstrap, timeout_s=15)
            print(f"using the Kafka cluster at {settings.bootstrap}")
        else:
            # a fresh log: the last demo's events (same seed, same ids) and table changelogs would mix in
            shutil.rmtree(settings.kafka_data_dir / "kraft", ignore_errors=True)
            print("starting a fresh Kafka (first run downloads its jars with Maven)...", flush=True)
            print(localkafka.start(settings).describe())
            started = True
        report = create_topics(settings)
        print(f"topics: created {len(report.created)}, already there {len(report.existing)}")
        worker = start_worker(settings, settings.cache_dir / "worker.log")
        base = f"http://{settings.web_host}:{settings.web_port}"
        print(
            f"worker up (log {settings.cache_dir / 'worker.log'}):\n"
            f"  metrics     {base}/metrics\n"
            f"  guarantees  {base}/orders/o-1-00000000/guarantees\n"
            f"  report      cxkpi report --baseline 2026-11-01T00:00..2026-11-01T12:00 "
            f"--current 2026-11-01T12:00..2026-11-02T00:00",
            flush=True,
        )
        if not args.no_monitoring:
            monitoring = _start_monitoring(settings, args.speedup)
        hours = args.duration / 3_600_000
        minutes = args.duration / 1000 / args.speedup / 60
        print(
            f"streaming scenario '{args.scenario}': {hours:g} h of business at {args.rate:g} orders/s, "
            f"{args.speedup:g}x faster than real time (about {minutes:.1f} min); Ctrl-C stops",
            flush=True,
        )
        gen_args = argparse.Namespace(
            settings=settings,
            scenario=args.scenario,
            events=None,
            duration=args.duration,
            rate=args.rate,
            seed=1,
            start=DEFAULT_START_MS,
            speedup=args.speedup,
            out=None,
            late_ratio=0.0,
            late_max=generate_cmd.parse_duration_ms("5m"),
            dup_ratio=0.0,
            bad_ratio=0.0,
        )
        code = generate_cmd.run(gen_args)
        if sys.stdin.isatty() and not args.no_wait:
            print("scenario sent; the worker keeps serving. Ctrl-C stops everything.", flush=True)
            while worker.poll() is None:
                time.sleep(1)
        return code
    except (localkafka.BrokerError, KafkaError, RuntimeError) as exc:
        print(f"cxkpi demo: {exc}", file=sys.stderr)
        return 1
    finally:
        if monitoring is not None:
            monitoring.stop()
            print("prometheus and alertmanager stopped")
        if worker is not None and worker.poll() is None:
            stop_worker(worker)
            print("worker stopped")
        if started and not args.keep:
            localkafka.stop(settings)
            print("kafka stopped")


def _start_monitoring(settings: Settings, speedup: float) -> Monitoring | None:
    """Prometheus + Alertmanager on loopback with the rules scaled to the demo's pace; None if not installed."""
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
    except MonitoringError as exc:
        print(f"no monitoring: {exc}", flush=True)
        return None
    print(
        f"monitoring (rule windows shrunk {scale:g}x to the demo's pace):\n"
        f"  prometheus   {monitoring.prometheus_url}/alerts\n"
        f"  alertmanager {monitoring.alertmanager_url}\n"
        f"  snapshots    cxkpi snapshot --prometheus {monitoring.prometheus_url} --range 5m"
        " --rate-interval 10s --compare 30s",
        flush=True,
    )
    return monitoring
