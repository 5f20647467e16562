"""`python -m bench.soak`: one worker fed live at a steady wall-clock rate for a bounded time.

Makes the `steady` scenario's records first (generating them live would take a share of
the two cores the worker and the broker need), then starts its own broker on free loopback
ports and a worker, and sends them at `--rate` records per wall-clock second (default 80%
of `--max-rate`, the measured backlog throughput; `bench/live.py`). It samples every 10 s:
consumer lag, events consumed, worker RSS, table keys and error lines in the worker's log.
It reports whether lag stayed bounded, the RSS slope and the
RSS per table key (state is kept 30 days of event time, so RSS grows with it; a leak shows
as growing memory per key), and writes the samples to bench/results/soak-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.__main__ import DEFAULT_MAX_RATE, ORDERS_PER_EVENT_S, write_result
from bench.live import LiveFeed
from streams.clients.admin import create_topics
from streams.generator.scenarios import scenario
from streams.generator.stream import EventStream, Faults
from streams.local import broker as local_broker
from streams.local.worker import metric_sum, own_broker_settings, proc_status_mb, start_worker, stop_worker

HERE = Path(__file__).resolve().parent


def _slope(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument(
        "--max-rate", type=float, default=DEFAULT_MAX_RATE, help="measured events/s of one worker (README)"
    )
    parser.add_argument("--rate", type=float, help="events/s to send (default 80%% of --max-rate)")
    args = parser.parse_args(argv)
    rate = args.rate or 0.8 * args.max_rate
    enough = int(rate * args.minutes * 60 * 1.1)  # more than the run can send
    print(f"making {enough:,} records of 'steady'...", flush=True)
    faults = Faults(dup_ratio=0.01)
    records = list(
        EventStream(scenario("steady"), seed=5, rate_per_s=ORDERS_PER_EVENT_S, max_events=enough, faults=faults)
    )
    work = Path(tempfile.mkdtemp(prefix="cxkpi-soak-"))
    settings = own_broker_settings(work / "kafka", "cxkpi-soak")
    log = work / "worker.log"
    local_broker.start(settings)
    samples: list[dict[str, Any]] = []
    feed = LiveFeed(settings.bootstrap, rate)
    stop = threading.Event()
    failed: list[BaseException] = []

    def produce() -> None:
        try:
            feed.run(records, args.minutes * 60, stop)
        except BaseException as e:  # reported after the run: records the broker lost
            failed.append(e)

    try:
        create_topics(settings)
        worker = start_worker(settings, log)
        producer = threading.Thread(target=produce, daemon=True)
        start = time.monotonic()
        producer.start()
        try:
            while time.monotonic() - start < args.minutes * 60:
                time.sleep(10)
                port = settings.web_port
                sample = {
                    "t_s": round(time.monotonic() - start, 1),
                    "sent": feed.sent,
                    "consumed": metric_sum(port, "cxkpi_events_consumed"),
                    "lag": metric_sum(port, "cxkpi_consumer_lag_records"),
                    "rss_mb": round(proc_status_mb(worker.pid, "VmRSS"), 1),
                    "table_keys": metric_sum(port, "cxkpi_table_keys"),
                    "error_lines": sum(1 for line in log.read_text(errors="replace").splitlines() if "[ERROR]" in line),
                }
                samples.append(sample)
                print(" ".join(f"{k}={v}" for k, v in sample.items()), flush=True)
                if worker.poll() is not None:
                    raise RuntimeError(f"the worker exited (code {worker.returncode}); see {log}")
        finally:
            stop.set()
            producer.join(30)
            stop_worker(worker)
    finally:
        local_broker.stop(settings)
    if failed:
        raise RuntimeError(f"the live feed failed: {failed[0]}")
    half = samples[len(samples) // 2 :]
    minutes = [s["t_s"] / 60 for s in half]
    per_key = [s["rss_mb"] * 1024 / max(s["table_keys"], 1) for s in half]
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "minutes": args.minutes,
        "target_events_per_s": round(rate),
        "sent_events_per_s": round(samples[-1]["sent"] / samples[-1]["t_s"]) if samples else 0,
        "consumed_events_per_s": round(samples[-1]["consumed"] / samples[-1]["t_s"]) if samples else 0,
        "lag_max": max((s["lag"] for s in samples), default=0),
        "lag_last": samples[-1]["lag"] if samples else 0,
        "rss_mb_first": samples[0]["rss_mb"] if samples else 0,
        "rss_mb_last": samples[-1]["rss_mb"] if samples else 0,
        "rss_slope_mb_per_min_second_half": round(_slope(minutes, [s["rss_mb"] for s in half]), 2),
        "rss_kb_per_table_key_slope_per_min": round(_slope(minutes, per_key), 3),
        "error_lines": samples[-1]["error_lines"] if samples else 0,
        "samples": samples,
    }
    print(json.dumps({k: v for k, v in report.items() if k != "samples"}, indent=2))
    write_result(report, "soak-")
    return 0


if __name__ == "__main__":
    sys.exit(main())
