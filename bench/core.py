"""The KPI core alone, in process, no broker: `python -m bench.core [--events N] [--compare] [--profile FILE]`.

The same run as the benchmark's `core` contender (`bench.batches.run_in_batches` over the
deterministic `steady` data set, all KPIs, the bench's window configuration), for the quick loop of a
change to the core: its events per CPU second in a few rounds, and with `--profile` a
cProfile of one more round (`python -m pstats FILE`, or `--top` lines printed). The data set
is generated once, before any clock starts. `--compare` runs the core as Python and compiled
(`bench.compiled`) in alternating rounds on the same records, and checks that both computed
the same windows.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench import compiled, subset
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


def timed(data: list[Record], digest: bool = False, subset_out: Path | None = None) -> dict[str, Any]:
    start, cpu_start = time.monotonic(), time.process_time()
    pipeline = run(data)
    elapsed, cpu = time.monotonic() - start, time.process_time() - cpu_start
    result: dict[str, Any] = {
        "seconds": round(elapsed, 2),
        "cpu_seconds": round(cpu, 2),
        "events_per_cpu_s": round(len(data) / max(cpu, 1e-9)),
        "windows": len(pipeline.windows),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if digest:  # every window record, so two builds can be shown to agree
        records = sorted(orjson.dumps(w, option=orjson.OPT_SORT_KEYS) for w in pipeline.windows)
        result["windows_sha256"] = hashlib.sha256(b"\n".join(records)).hexdigest()
    if subset_out is not None:  # for the benchmark's check against its reference
        compiled.save_subset(subset.from_kpi_windows(pipeline.windows), subset_out)
    return result


def compare(data: list[Record], rounds: int) -> dict[str, Any]:
    """The core as Python and compiled, alternating rounds in fresh processes (`bench.compiled`)."""
    with tempfile.TemporaryDirectory(prefix="cxkpi-bench-core-") as scratch:
        work = Path(scratch)
        print("compiled: building the compiled copy (about a minute)...", file=sys.stderr, flush=True)
        roots = compiled.make_copies(work, work / "build.log")
        compiled.save_records(data, work / "records.pickle")
        by_build: dict[str, list[dict[str, Any]]] = {build: [] for build in compiled.BUILDS}
        for n in range(rounds):
            for build in compiled.BUILDS:
                report = compiled.run_round(roots[build], work / "records.pickle")
                by_build[build].append(report["rounds"][0])
                rate = report["rounds"][0]["events_per_cpu_s"]
                print(f"round {n + 1}: {build} {rate:,} events per CPU second", file=sys.stderr, flush=True)
    best = {build: max(r["events_per_cpu_s"] for r in runs) for build, runs in by_build.items()}
    digests = {r["windows_sha256"] for runs in by_build.values() for r in runs}
    return {
        "events": len(data),
        "rounds": by_build,
        "best_events_per_cpu_s": best,
        "compiled/python": round(best["compiled"] / best["python"], 3),
        "same_windows": len(digests) == 1,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.core", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", help="write a cProfile of one more round here")
    parser.add_argument("--top", type=int, default=0, help="print the profile's top N functions by own time")
    parser.add_argument("--compare", action="store_true", help="the core as Python and compiled, side by side")
    parser.add_argument("--data", type=Path, help="records pickled by `bench.compiled` (instead of generating them)")
    parser.add_argument("--digest", action="store_true", help="add a hash of every window record to each round")
    parser.add_argument("--subset-out", type=Path, help="pickle the last round's common subset here")
    args = parser.parse_args(argv)
    if args.data:
        data = compiled.load_records(args.data)
    else:
        print(
            f"data: generating {args.events:,} records of 'steady' (seed {args.seed})...", file=sys.stderr, flush=True
        )
        data = records(args.events, args.seed)
    if args.compare:
        report = compare(data, args.rounds)
        print(json.dumps(report))
        return 0 if report["same_windows"] else 1
    rounds = [timed(data, args.digest, args.subset_out) for _ in range(args.rounds)]
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
