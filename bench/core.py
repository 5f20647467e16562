"""The KPI core alone, in process, no broker: `python -m bench.core [--events N] [--profile FILE]`.

The same run as the benchmark's `core` contender (`bench.batches.run_in_batches` over the
deterministic `steady` data set, all KPIs, the bench's window configuration), for the quick loop of a
change to the core: its events per CPU second in a few rounds, and with `--profile` a
cProfile of one more round (`python -m pstats FILE`, or `--top` lines printed). The data set
is generated once, before any clock starts.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
from typing import Any

from bench.__main__ import ENGINE_CONFIG, ORDERS_PER_EVENT_S
from bench.batches import Record, run_in_batches
from streams.generator.scenarios import scenario
from streams.generator.stream import EventStream
from streams.kpis.pipeline import LocalPipeline


def records(events: int, seed: int) -> list[Record]:
    stream = EventStream(scenario("steady"), seed=seed, rate_per_s=ORDERS_PER_EVENT_S, max_events=events)
    return [(r.topic, r.key, r.value) for r in stream]


def run(data: list[Record]) -> LocalPipeline:
    return run_in_batches(data, ENGINE_CONFIG)


def timed(data: list[Record]) -> dict[str, Any]:
    start, cpu_start = time.monotonic(), time.process_time()
    pipeline = run(data)
    elapsed, cpu = time.monotonic() - start, time.process_time() - cpu_start
    return {
        "seconds": round(elapsed, 2),
        "cpu_seconds": round(cpu, 2),
        "events_per_cpu_s": round(len(data) / max(cpu, 1e-9)),
        "windows": len(pipeline.windows),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.core", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", help="write a cProfile of one more round here")
    parser.add_argument("--top", type=int, default=0, help="print the profile's top N functions by own time")
    args = parser.parse_args(argv)
    print(f"data: generating {args.events:,} records of 'steady' (seed {args.seed})...", file=sys.stderr, flush=True)
    data = records(args.events, args.seed)
    rounds = [timed(data) for _ in range(args.rounds)]
    best = max(r["events_per_cpu_s"] for r in rounds)
    print(json.dumps({"events": len(data), "rounds": rounds, "best_events_per_cpu_s": best}))
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(run, data)
        profiler.dump_stats(args.profile)
        if args.top:
            pstats.Stats(args.profile).sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
