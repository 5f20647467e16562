"""`python -m bench`: cxkpi against the consumption limit and textbook Faust, on the same data.

See bench/README.md. Each contender reads the preloaded topics from the start; rates are
measured from its first consumed event to its last (start-up excluded), peak RSS from the
process (`limit` and `core` run inside this one, so theirs include the data set in memory).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams import localkafka
from streams.admin import create_topics
from streams.config import Settings
from streams.generator.scenarios import scenario
from streams.generator.sinks import KafkaSink
from streams.generator.stream import EventStream, OutRecord
from streams.kpis.pipeline import LocalPipeline
from streams.localworker import free_port, metric_sum, own_broker_settings, proc_status_mb, start_worker, stop_worker
from topics.contract import INPUT_PARTITIONS, INPUT_TOPICS

HERE = Path(__file__).resolve().parent
TIMEOUT_S = 900.0
STALL_S = 90.0


def _peak_rss_mb(pid: int | None = None) -> float:
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return proc_status_mb(pid, "VmHWM")


def _scrape_total(port: int, family: str) -> float:
    """A counter family's total, or -1 while the process does not answer yet."""
    try:
        return metric_sum(port, family)
    except OSError:
        return -1.0


def _time_by_counter(read: Callable[[], float], total: int, proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    """Rate from the first consumed event to the last, polling a counter every 0.2 s."""
    deadline = time.monotonic() + TIMEOUT_S
    first: tuple[float, float] | None = None
    n, progress = 0.0, (time.monotonic(), 0.0)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the contender exited with code {proc.returncode}")
        n = read()
        now = time.monotonic()
        if n > 0 and first is None:
            first = (now, n)
        if n >= total:
            break
        if n > progress[1]:
            progress = (now, n)
        elif now - progress[0] > STALL_S:
            raise RuntimeError(f"no progress for {STALL_S:.0f} s at {n:.0f} of {total} events")
        time.sleep(0.2)
    assert first is not None, "nothing was consumed"
    elapsed = time.monotonic() - first[0]
    return {"events": int(n), "seconds": round(elapsed, 2), "events_per_s": round((n - first[1]) / max(elapsed, 1e-9))}


async def _limit(bootstrap: str, total: int) -> dict[str, Any]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_partition_fetch_bytes=8 << 20
    )
    await consumer.start()
    try:
        parts = [TopicPartition(t.name, p) for t in INPUT_TOPICS for p in range(INPUT_PARTITIONS)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        n, start = 0, time.monotonic()
        while n < total:
            for records in (await consumer.getmany(timeout_ms=1000, max_records=10000)).values():
                for record in records:
                    orjson.loads(record.value)
                n += len(records)
        elapsed = time.monotonic() - start
    finally:
        await consumer.stop()
    return {
        "events": n,
        "seconds": round(elapsed, 2),
        "events_per_s": round(n / elapsed),
        "peak_rss_mb": _peak_rss_mb(),
    }


def _core(records: list[OutRecord]) -> dict[str, Any]:
    start = time.monotonic()
    pipeline = LocalPipeline(partitions=INPUT_PARTITIONS)
    pipeline.feed((r.topic, r.key, r.value) for r in records)
    pipeline.finish()
    elapsed = time.monotonic() - start
    n = len(records)
    return {
        "events": n,
        "seconds": round(elapsed, 2),
        "events_per_s": round(n / elapsed),
        "peak_rss_mb": _peak_rss_mb(),
    }


def _textbook(settings: Settings, total: int, log: Path) -> dict[str, Any]:
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.textbook_faust", settings.bootstrap, str(port), str(log.parent / "textbook")],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        result = _time_by_counter(lambda: _scrape_total(port, "bench_events_consumed"), total, proc)
        result["peak_rss_mb"] = _peak_rss_mb(proc.pid)
        return result
    finally:
        proc.terminate()
        proc.wait(30)


def _worker(settings: Settings, total: int, log: Path) -> dict[str, Any]:
    proc = start_worker(settings, log)
    try:
        result = _time_by_counter(lambda: _scrape_total(settings.web_port, "cxkpi_events_consumed"), total, proc)
        result["peak_rss_mb"] = _peak_rss_mb(proc.pid)
        return result
    finally:
        stop_worker(proc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="records in the data set (default 200,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", nargs="*", default=["limit", "core", "textbook_faust", "cxkpi_worker"])
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="cxkpi-bench-"))
    settings = own_broker_settings(work / "kafka", "bench-cxkpi", CXKPI_STATE_DIR=str(work / "state"))
    print(f"broker: starting on {settings.bootstrap} (data in {work})", flush=True)
    localkafka.start(settings)
    results: dict[str, Any] = {}
    try:
        create_topics(settings)
        records = list(EventStream(scenario("steady"), seed=args.seed, rate_per_s=5.0, max_events=args.events))
        sink = KafkaSink(settings.bootstrap)
        for record in records:
            sink.send(record)
        sink.close()
        total = len(records)
        print(f"data: {total:,} records of 'steady' (seed {args.seed}) preloaded", flush=True)
        runs: dict[str, Callable[[], dict[str, Any]]] = {
            "limit": lambda: asyncio.run(_limit(settings.bootstrap, total)),
            "core": lambda: _core(records),
            "textbook_faust": lambda: _textbook(settings, total, work / "textbook.log"),
            "cxkpi_worker": lambda: _worker(settings, total, work / "worker.log"),
        }
        for name in args.only:
            print(f"{name}: running...", flush=True)
            results[name] = runs[name]()
            print(f"{name}: {results[name]}", flush=True)
    finally:
        localkafka.stop(settings)
    ratios = {}
    if "cxkpi_worker" in results:
        cx = results["cxkpi_worker"]["events_per_s"]
        for other in ("limit", "textbook_faust"):
            if other in results:
                ratios[f"cxkpi_worker/{other}"] = round(cx / results[other]["events_per_s"], 3)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "events": args.events,
        "results": results,
        "ratios": ratios,
    }
    print("\n| contender | events/s | seconds | peak RSS MB |\n|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['events_per_s']:,} | {r['seconds']} | {r['peak_rss_mb']:.0f} |")
    for name, ratio in ratios.items():
        print(f"{name}: {ratio}")
    write_result(report, "")
    return 0


def write_result(report: dict[str, Any], prefix: str) -> None:
    """Write a run's report to bench/results/<prefix><date>.json (the soak uses it too)."""
    out = HERE / "results" / f"{prefix}{report['date'][:19].replace(':', '')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    sys.exit(main())
