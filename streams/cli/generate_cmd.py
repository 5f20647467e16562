"""`cxkpi generate`: stream a scenario to Kafka or to a JSONL file."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka.errors import KafkaConnectionError, KafkaTimeoutError

from streams.clients.security import kafka_python_config
from streams.durations import duration_ms, duration_ms_arg
from streams.generator.scenarios import SCENARIOS, scenario
from streams.generator.sinks import KafkaSink, paced, write_jsonl
from streams.generator.stream import DEFAULT_START_MS, EventStream, Faults
from streams.generator.truth import phase_kpis, render_deltas
from streams.progress import Progress


def parse_start_ms(text: str) -> int:
    if text == "now":
        return int(datetime.now(UTC).timestamp() * 1000)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO-8601 time or 'now'") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _ratio(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a ratio between 0 and 1")
    return value


def register(sub: Any) -> None:
    p = sub.add_parser("generate", help="generate a scenario's events into Kafka or a JSONL file")
    p.add_argument("--scenario", choices=SCENARIOS, default="steady")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--events", type=int, help="stop after this many records")
    size.add_argument("--duration", type=duration_ms_arg, help="event-time span of payments, e.g. 48h")
    p.add_argument("--rate", type=float, default=5.0, help="paid orders per second of event time (default 5)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--start",
        type=parse_start_ms,
        default=DEFAULT_START_MS,
        help="event time of the first payment (ISO-8601 or 'now')",
    )
    p.add_argument(
        "--speedup",
        type=float,
        default=0.0,
        help="event time runs X times faster than wall time (0: as fast as possible)",
    )
    p.add_argument("--out", type=Path, help="write JSONL here instead of producing to Kafka")
    p.add_argument("--late-ratio", type=_ratio, default=0.0, help="share of events delivered out of order")
    p.add_argument("--late-max", type=duration_ms_arg, default=duration_ms("5m"), help="how late at most (event time)")
    p.add_argument("--dup-ratio", type=_ratio, default=0.0, help="share of events delivered twice")
    p.add_argument("--bad-ratio", type=_ratio, default=0.0, help="malformed records added per valid event")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    chosen = scenario(args.scenario, args.duration)
    duration = args.duration if args.events is None else None
    if args.events is None and duration is None:
        duration = chosen.default_duration_ms
    if args.rate <= 0 or (args.events is not None and args.events <= 0):
        print("cxkpi generate: --rate and --events must be positive", file=sys.stderr)
        return 2
    faults = Faults(args.late_ratio, args.late_max, args.dup_ratio, args.bad_ratio)
    stream = EventStream(
        chosen,
        seed=args.seed,
        rate_per_s=args.rate,
        start_ms=args.start,
        max_events=args.events,
        duration_ms=duration,
        faults=faults,
        keep_truth=len(chosen.phases) > 1,
    )
    target = args.out or f"kafka {args.settings.bootstrap}"
    progress = Progress(f"generate {args.scenario} -> {target}", args.events)

    def tracked() -> Any:
        for n, record in enumerate(paced(stream, args.speedup, stream.end_ms) if args.speedup > 0 else stream, 1):
            if n % 1000 == 0:
                progress.update(n, _event_clock(record.event_time))
            yield record

    if args.out is not None:
        write_jsonl(tracked(), args.out)
    else:
        try:
            sink = KafkaSink(args.settings.bootstrap, **kafka_python_config(args.settings))
        except (KafkaConnectionError, KafkaTimeoutError, OSError) as exc:
            print(f"cxkpi generate: cannot reach Kafka at {args.settings.bootstrap}: {exc}", file=sys.stderr)
            return 1
        try:
            for record in tracked():
                sink.send(record)
        finally:
            sink.close()
    s = stream.stats
    progress.update(s.records)
    progress.finish()
    print(
        f"records {s.records:,} = valid {s.valid:,} + duplicates {s.duplicates:,} + malformed {s.malformed:,} "
        f"(orders {s.orders:,}; delivered late {s.delayed:,}); by topic: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(s.by_topic.items()))
    )
    if s.truths:
        print("known KPI deltas built into this run (by payment period):")
        print("\n".join(render_deltas(phase_kpis(s.truths))))
    return 0


def _event_clock(event_time_ms: int) -> str:
    return "event time " + datetime.fromtimestamp(event_time_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")
