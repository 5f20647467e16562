"""`python -m bench`: cxkpi against the consumption limit, textbook Faust and Quix Streams, on the same data.

See bench/README.md. Each contender reads the preloaded topics from the start; rates are
measured from its first consumed event to its last (start-up excluded), peak RSS from the
process (`limit` and `core` run inside this one, so theirs include the data set in memory).
The contenders that compute the common subset (`bench/subset.py`) must agree with the core
on it, or no speed is reported. Then two cxkpi workers against one, and one worker's
event-to-metric delay when fed live at half its measured rate.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import json
import os
import pickle
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

import streams.kpis
from bench import compiled, subset, textbook_faust
from bench.batches import run_in_batches
from bench.live import LiveFeed, LiveSink
from bench.subset import Subset
from streams.clients.admin import create_topics
from streams.clients.reader import end_offsets, read_to_end
from streams.config import Settings
from streams.generator.scenarios import scenario
from streams.generator.stream import EventStream, OutRecord
from streams.kpis.engine import EngineConfig
from streams.local import broker as local_broker
from streams.local.signals import unwind_on_sigterm
from streams.local.worker import (
    free_port,
    metric_families,
    metric_family,
    metric_sum,
    own_broker_settings,
    proc_status_mb,
    start_worker,
    stop_worker,
)
from streams.progress import Progress
from topics.contract import INPUT_PARTITIONS, INPUT_TOPICS, KPI_WINDOWS

HERE = Path(__file__).resolve().parent
ORDERS_PER_EVENT_S = 5.0
RECORDS_PER_ORDER = 3.85
"""Records the steady scenario sends per paid order (measured), to turn a rate into a pace."""
CONTENDERS = (
    "limit",
    "core",
    "core_compiled",
    "core_subset",
    "textbook_faust",
    "quix_streams",
    "cxkpi_worker",
    "cxkpi_subset",
    "cxkpi_agent_delivery",
    "cxkpi_exactly_once",
)
ENGINE_CONFIG = EngineConfig(window_sizes_ms=(60_000,), detailed_window_ms=(60_000,))
"""1-minute windows broken down by dimension (CXKPI_WINDOW_SIZES=60): the common subset's windows."""
OUTPUT_WAIT_S = 120.0
"""How long a contender's output may take, after its input was consumed, to reach every window
the core has: Quix Streams' windows come from a second stage (after `group_by`) that ran
more than 10 s behind its input on 2026-12-02, and a fixed 10-s wait made the check fail."""
QUIX_ENOUGH = 0.999
OK = {"differing": [], "coverage": 1.0}
"""What a contender that computes no subset (the limit, textbook Faust) counts as."""
DEFAULT_MAX_RATE = 5564.0
"""One worker's events/s over the last quarter of a 1,000,000-record backlog (2026-12-03 09:44,
`tail_events_per_s`), for cxkpi_delay without cxkpi_worker and the soak (`--max-rate`)."""
TAIL_FROM = 0.75
"""The tail rate is timed from this share of the data set to its end: the live phase of
cxkpi_delay continues the same simulation, so its mix is the backlog's last hours', not its
first (2026-12-03 09:44, 1M: 13,891 events/s over the first 30 s of a drain, 5,564 over its last quarter)."""
TIMEOUT_S = 900.0
SLOWEST_EVENTS_PER_S = 500.0
"""A contender's deadline is the longer of TIMEOUT_S and its data set at this rate: at its 1,314
events/s of 2026-12-02, textbook Faust needs about 760 s for the default 1,000,000 records."""
STALL_S = 90.0
STAGE_TWO_DRAIN_S = 120.0
"""How long stage two may take to merge what is left once the input is consumed."""
STAGE_TWO_SPLITS = ((2, 4), (4, 8))
"""(workers, stage-two partitions) of the `cxkpi_stage_two_share` runs."""
SHARE_RUNS = tuple(f"cxkpi_stage_two_share_{w}x{p}" for w, p in STAGE_TWO_SPLITS)
PROGRESS_S = 30.0
"""How often a long step prints how far it got (textbook Faust takes 9 minutes at 1M)."""


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


def _time_by_counter(
    read: Callable[[], float],
    total: int,
    *procs: subprocess.Popen[bytes],
    enough: float = 1.0,
    broker: int | None = None,
) -> dict[str, Any]:
    """Rate from the first consumed event to the last (or to `enough` of them), polling a counter
    every 0.2 s; with the `broker` process's CPU seconds over the same span, and the rate
    over the data set's last quarter (`tail_events_per_s`, see TAIL_FROM)."""
    deadline = time.monotonic() + max(TIMEOUT_S, total / SLOWEST_EVENTS_PER_S)
    first: tuple[float, float] | None = None
    tail: tuple[float, float] | None = None
    cpu_first = broker_first = 0.0
    n, progress = 0.0, (time.monotonic(), 0.0)
    shown = Progress("  consumed", total, log_every_s=PROGRESS_S)
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"the contender exited with code {proc.returncode}")
        n = read()
        shown.update(int(n))
        now = time.monotonic()
        if n > 0 and first is None:
            first = (now, n)
            cpu_first = sum(_cpu_seconds(proc.pid) for proc in procs)
            broker_first = _cpu_seconds(broker) if broker is not None else 0.0
        if tail is None and n >= total * TAIL_FROM:
            tail = (now, n)
        if n >= total * enough:
            break
        if n > progress[1]:
            progress = (now, n)
        elif now - progress[0] > STALL_S:
            raise RuntimeError(f"no progress for {STALL_S:.0f} s at {n:.0f} of {total} events")
        time.sleep(0.2)
    shown.finish()
    assert first is not None, "nothing was consumed"
    end = time.monotonic()
    elapsed = end - first[0]
    result = {
        "events": int(n),
        "seconds": round(elapsed, 2),
        "events_per_s": round((n - first[1]) / max(elapsed, 1e-9)),
    }
    if tail is not None and n > tail[1]:
        result["tail_events_per_s"] = round((n - tail[1]) / max(end - tail[0], 1e-9))
    if procs:  # per core: the contenders' own CPU time over the same span (the broker shares the machine)
        cpu = sum(_cpu_seconds(proc.pid) for proc in procs) - cpu_first
        result["cpu_seconds"] = round(cpu, 2)
        result["events_per_cpu_s"] = round((n - first[1]) / max(cpu, 1e-9))
    if broker is not None:
        result["broker_cpu_seconds"] = round(_cpu_seconds(broker) - broker_first, 2)
    return result


def _until_complete(check: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run a contender's `check` until its subset equals the core's in every window, or
    OUTPUT_WAIT_S passed; the last check's result, with `output_complete_after_s`: seconds from
    the end of the timed span (its input consumed) to its output complete (None: not within the
    wait). The rates are of the input; this tells how far a contender's output trails it."""
    start = time.monotonic()
    while True:
        try:
            result = check()
        except TimeoutError as exc:  # its output not read in time: its check fails, the others' results stand
            result = {"subset_check": {"windows_compared": 0, "coverage": 0.0, "differing": [str(exc)]}}
        complete = subset.agrees(result["subset_check"]) and result["subset_check"]["coverage"] >= 1.0
        waited = time.monotonic() - start
        if complete or waited > OUTPUT_WAIT_S:
            return result | {"output_complete_after_s": round(waited, 1) if complete else None}
        time.sleep(1.0)


def _last_output_after_s(records: list[Any], input_done: float) -> float | None:
    """Seconds from the input consumed (`input_done`, wall clock) to the newest of `records`
    (their timestamps: when the worker sent them). `output_complete_after_s` bounds it from
    above by a check's own read: 40 s for the full worker's 325,000 window records at 1M."""
    newest = max((r.timestamp for r in records), default=None)
    return None if newest is None else round(newest / 1000 - input_done, 1)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def _preload(bootstrap: str, seed: int, events: int, spool: Path) -> list[OutRecord]:
    """Generate the data set, send it to the broker, and keep it for the in-process contenders.

    Kept by way of a spool file read back once the generator is done: records kept while it
    ran sat among its short-lived objects, and the memory they pinned was never given back
    (7.5 GB of RSS for 1,000,000 records; 955 MB read back, 2026-12-03). Sent through
    librdkafka (`LiveSink`), as the delay's live records are: kafka-python's sink spent
    about 130 us of CPU per record, nearly half of the preload's time."""
    sink = LiveSink(bootstrap)
    shown = Progress("  data sent", events, log_every_s=PROGRESS_S)
    with spool.open("wb") as out:
        stream = EventStream(scenario("steady"), seed=seed, rate_per_s=ORDERS_PER_EVENT_S, max_events=events)
        for n, record in enumerate(stream, 1):
            sink.send(record)
            pickle.dump(record, out, protocol=pickle.HIGHEST_PROTOCOL)
            if n % 10_000 == 0:
                shown.update(n)
    shown.finish()
    sink.close()
    records: list[OutRecord] = []
    with spool.open("rb") as spooled:
        while True:
            try:
                records.append(pickle.load(spooled))
            except EOFError:
                break
    spool.unlink()
    return records


def _in_process(records: list[OutRecord], config: EngineConfig) -> tuple[dict[str, Any], Subset]:
    """The core in process, no Kafka: its rate and its common subset."""
    fed = [(r.topic, r.key, r.value) for r in records]
    start, cpu_start = time.monotonic(), time.process_time()
    pipeline = run_in_batches(fed, config)
    elapsed, cpu = time.monotonic() - start, time.process_time() - cpu_start
    n = len(records)
    result = {
        "events": n,
        "seconds": round(elapsed, 2),
        "events_per_s": round(n / elapsed),
        "cpu_seconds": round(cpu, 2),
        "events_per_cpu_s": round(n / max(cpu, 1e-9)),
        "peak_rss_mb": _peak_rss_mb(),
    }
    return result, subset.from_kpi_windows(pipeline.windows)


def _core(records: list[OutRecord], reference: Subset, work: Path, build: str = "python") -> dict[str, Any]:
    """All KPIs, no Kafka, in a fresh process from a copy of the tree as Python or compiled
    (`bench.compiled`), whatever this tree's build. The Python core's windows are the
    reference the others are checked against; the compiled core's are checked like any other's."""
    roots = work / "core-copies"
    if not roots.exists():  # both copies at once, with the records they read
        compiled.make_copies(roots, work / "core-compiled-build.log")
        compiled.save_records([(r.topic, r.key, r.value) for r in records], work / "core-records.pickle")
    out = work / f"core-{build}-subset.pickle"
    round_ = compiled.run_round(roots / build, work / "core-records.pickle", subset_out=out)["rounds"][0]
    windows = compiled.load_subset(out)
    n = len(records)
    result = {
        "events": n,
        "seconds": round_["seconds"],
        "events_per_s": round(n / max(round_["seconds"], 1e-9)),
        "cpu_seconds": round_["cpu_seconds"],
        "events_per_cpu_s": round_["events_per_cpu_s"],
        "peak_rss_mb": round_["peak_rss_mb"],
        "build": build,
    }
    if build == "python":
        reference.update(windows)
        return result
    return result | {"subset_check": subset.check(windows, reference)}


def _core_subset(records: list[OutRecord], reference: Subset) -> dict[str, Any]:
    """The subset's KPIs in process: the most `cxkpi_subset` could reach with Kafka costing nothing."""
    result, windows = _in_process(records, replace(ENGINE_CONFIG, kpis=subset.KPIS))
    return result | {"build": _tree_build(), "subset_check": subset.check(windows, reference)}


def _tree_build() -> str:
    """The core this tree runs (the workers' and the in-process contenders'): `make native` compiles it."""
    return "compiled" if streams.kpis.COMPILED else "python"


def _time_module(
    module: str,
    args: list[str],
    total: int,
    log: Path,
    enough: float = 1.0,
    then: Callable[[], dict[str, Any]] | None = None,
    broker: int | None = None,
) -> dict[str, Any]:
    """Run `python -m module BOOTSTRAP... WEB_PORT ...` (args, with "{port}" for its metrics
    port) and time it by its `bench_events_consumed_total`; `then` runs before it is stopped."""
    port = free_port()
    with open(log, "wb") as out:
        command = [sys.executable, "-m", module, *(a.replace("{port}", str(port)) for a in args)]
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)

    def read() -> float:
        return _scrape_total(port, "bench_events_consumed")

    try:
        result = _time_by_counter(read, total, proc, enough=enough, broker=broker)
        result["peak_rss_mb"] = _peak_rss_mb(proc.pid)
        if then is not None:
            result.update(_until_complete(then))
            result["held_back_at_end"] = int(total - read())
        return result
    finally:
        proc.terminate()
        proc.wait(30)


def _textbook(settings: Settings, total: int, log: Path, reference: Subset) -> dict[str, Any]:
    def check() -> dict[str, Any]:
        got: Subset = {}
        for name, table in textbook_faust.WINDOWED.items():
            changelog = read_to_end(settings.bootstrap, textbook_faust.changelog_topic(table))
            got |= subset.from_faust_windows(name, ((m.key, m.value) for m in changelog))
        return {"subset_check": subset.check(got, reference)}

    create_topics(settings, textbook_faust.regrouped_topics())
    args = [settings.bootstrap, "{port}", str(log.parent / "textbook")]
    return _time_module("bench.textbook_faust", args, total, log, then=check, broker=local_broker.status(settings).pid)


def _worker(settings: Settings, total: int, log: Path, reference: Subset) -> dict[str, Any]:
    # the cxkpi contenders share `kpi.windows`: each is checked on the records it wrote (until
    # 2026-12-03 on the whole topic, where an earlier contender's windows filled its gaps)
    since = end_offsets(settings.bootstrap, KPI_WINDOWS.name)
    proc = start_worker(settings, log)
    try:

        def consumed() -> float:
            return _scrape_total(settings.web_port, "cxkpi_events_consumed")

        result = _time_by_counter(consumed, total, proc, broker=local_broker.status(settings).pid)
        input_done = time.time()  # wall clock: the output records' timestamps are the worker's
        result["peak_rss_mb"] = _peak_rss_mb(proc.pid)

        def check() -> dict[str, Any]:  # the last windows close once the topics are seen idle
            written = read_to_end(settings.bootstrap, KPI_WINDOWS.name, since=since)
            windows = (orjson.loads(m.value) for m in written if m.value)
            checked = {"subset_check": subset.check(subset.from_kpi_windows(windows), reference)}
            return checked | {"last_output_after_s": _last_output_after_s(written, input_done)}

        result.update(_until_complete(check))
        return result
    finally:
        stop_worker(proc)


def _quix(settings: Settings, total: int, log: Path, reference: Subset) -> dict[str, Any]:
    out_topic = "bench.quix-subset"

    def check() -> dict[str, Any]:
        # the count tells an empty read from a partial one (its output trails, see OUTPUT_WAIT_S)
        records = read_to_end(settings.bootstrap, out_topic)
        windows = (orjson.loads(m.value) for m in records if m.value)
        return {"records_read": len(records), "subset_check": subset.check(subset.from_quix(windows), reference)}

    args = [settings.bootstrap, "{port}", str(log.parent / "quix-state"), out_topic]
    # its time alignment of the concatenated topics holds the last few records of a finite
    # backlog back (171 of 200,000 on 2026-11-26) until newer ones come: timed to 99.9%
    broker = local_broker.status(settings).pid
    return _time_module("bench.quix_subset", args, total, log, enough=QUIX_ENOUGH, then=check, broker=broker)


def _two_workers(settings: Settings, total: int, log: Path) -> dict[str, Any]:
    """Two worker processes in one group, the rate of both together (`_group`)."""
    return _group(settings, total, log, workers=2, suffix="two")


def _stage_two_share(settings: Settings, total: int, log: Path, workers: int, partitions: int) -> dict[str, Any]:
    """`workers` workers over `partitions` stage-two partitions: the partials each merged once
    all were busy, against a fair share (`_group`)."""
    group = replace(settings, stage_two_partitions=partitions)
    return _group(group, total, log, workers=workers, suffix=f"share-{workers}x{partitions}")


def _group(settings: Settings, total: int, log: Path, workers: int, suffix: str) -> dict[str, Any]:
    """Worker processes in one group (a fresh one: own offsets and changelogs) over the input
    partitions; the rate of all together, over the whole run and once all are busy
    (`_all_busy`), and each one's share of stage two (`_stage_two_split`). Records a worker
    applied again after a rebalance (outcome `duplicate`: another had applied them, its
    commit had not landed) are not counted."""
    first = replace(settings, app_id=f"{settings.app_id}-{suffix}", web_port=free_port())
    group = [first, *(replace(first, web_port=free_port()) for _ in range(workers - 1))]
    procs = [start_worker(s, log) for s in group]
    samples: list[Sample] = []
    try:

        def together() -> float:
            polled = [_applied_and_merging(s.web_port) for s in group]
            counts = tuple(max(applied, 0.0) for applied, _, _ in polled)
            merging = tuple(waiting > 0 for _, waiting, _ in polled)
            merged = tuple(partials for _, _, partials in polled)
            samples.append(Sample(time.monotonic(), counts, sum(_cpu_seconds(p.pid) for p in procs), merging, merged))
            return sum(counts)

        result = _time_by_counter(together, total, *procs, broker=local_broker.status(settings).pid)
        result["peak_rss_mb"] = max(_peak_rss_mb(p.pid) for p in procs)
        result["both_busy" if workers == 2 else "all_busy"] = _all_busy(samples)
        result["stage_two"] = _stage_two_split(samples, together)
        return result
    finally:
        for proc in procs:
            stop_worker(proc)


def _applied_and_merging(port: int) -> tuple[float, float, float]:
    """A worker's input records other than duplicates (-1 while it does not answer yet), the
    partials waiting for its stage two, and the partials it merged."""
    try:
        families = metric_families(
            port, "cxkpi_events_consumed", "cxkpi_stage_two_lag_records", "cxkpi_partials_merged"
        )
    except OSError:
        return -1.0, 0.0, 0.0
    consumed = families.get("cxkpi_events_consumed")
    samples = consumed.samples if consumed else []
    applied = sum(s.value for s in samples if s.name.endswith("_total") and s.labels.get("outcome") != "duplicate")
    lag, merged = families.get("cxkpi_stage_two_lag_records"), families.get("cxkpi_partials_merged")
    waiting = sum(s.value for s in lag.samples) if lag else 0.0
    return applied, waiting, sum(s.value for s in merged.samples if s.name.endswith("_total")) if merged else 0.0


def _stage_two_split(samples: list[Sample], poll: Callable[[], float]) -> dict[str, Any] | None:
    """Partials each worker merged from the first poll at which all were busy (the group has
    settled; before, the first to join merged everything) until stage two is drained
    (every worker's stage-two lag 0 in two polls a second apart, at most STAGE_TWO_DRAIN_S),
    and the largest share against a fair one (`max_over_fair`: 1.0 is an even split)."""
    busy = next((s for s in samples if all(c > 0 for c in s.counts)), None)
    if busy is None or not busy.merged:
        return None
    deadline, drained = time.monotonic() + STAGE_TWO_DRAIN_S, 0
    while drained < 2 and time.monotonic() < deadline:
        poll()
        drained = drained + 1 if not any(samples[-1].merging) else 0
        time.sleep(1.0)
    shares = [round(end - start) for start, end in zip(busy.merged, samples[-1].merged, strict=True)]
    fair = sum(shares) / len(shares)
    return {
        "partials_merged": shares,
        "max_over_fair": round(max(shares) / fair, 3) if fair else None,
        "drained": drained >= 2,
    }


class Sample(NamedTuple):
    """One poll of several workers: when, each one's count, their CPU seconds together, whether
    each had partials waiting for its stage two, and the partials each had merged."""

    at: float
    counts: tuple[float, ...]
    cpu_seconds: float
    merging: tuple[bool, ...] = ()
    merged: tuple[float, ...] = ()


def _all_busy(samples: list[Sample]) -> dict[str, Any] | None:
    """The rate from the first poll at which every worker had consumed records to the last
    poll: the group's steady rate, without the start-up (the first member takes every
    partition, then hands some over as the others join, and each recovers its state
    before it consumes). `after_s`: how long that took after the first record was consumed;
    `one_alone_at_end_s`: from the last record the first to finish consumed to the end (the
    others still busy: their partitions held more, or stage two kept them); `last_merged_partials`:
    whether the last to finish was seen with partials waiting for its stage two (None: no poll
    saw any); `until_one_finished`: the rate up to the poll at which the first of them was
    through (None: no poll in between), what the machine gives busy workers, without the
    imbalance of the end. None if one of them never consumed anything."""
    started = next((s for s in samples if sum(s.counts) > 0), None)
    busy = next((s for s in samples if all(c > 0 for c in s.counts)), None)
    if started is None or busy is None:
        return None
    last = samples[-1]
    finished = [next(s for s in samples if s.counts[w] == last.counts[w]) for w in range(len(last.counts))]
    first_done = min(finished, key=lambda s: s.at)
    last_worker = max(range(len(finished)), key=lambda w: finished[w].at)
    merged = {w for s in samples for w, waiting in enumerate(s.merging) if waiting}
    return {
        "after_s": round(busy.at - started.at, 2),
        "one_alone_at_end_s": round(finished[last_worker].at - first_done.at, 2),
        "last_merged_partials": last_worker in merged if merged else None,
        **_span_rate(busy, last),
        "until_one_finished": _span_rate(busy, first_done) if first_done.at > busy.at else None,
    }


def _span_rate(first: Sample, last: Sample) -> dict[str, Any]:
    """Records the workers consumed together from one poll to a later one, and their rates."""
    events, seconds = sum(last.counts) - sum(first.counts), last.at - first.at
    cpu = last.cpu_seconds - first.cpu_seconds
    return {
        "events": int(events),
        "seconds": round(seconds, 2),
        "events_per_s": round(events / max(seconds, 1e-9)),
        "events_per_cpu_s": round(events / max(cpu, 1e-9)),
    }


def _delay_quantiles(buckets: dict[float, float], qs: tuple[float, ...]) -> dict[str, float | None]:
    """Quantiles from cumulative histogram buckets (upper bound -> count), linear within a bucket
    as Prometheus' histogram_quantile does; None past the largest finite bucket."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]] if bounds else 0.0
    out: dict[str, float | None] = {}
    for q in qs:
        rank, lower, below, value = q * total, 0.0, 0.0, None
        for bound in bounds:
            if buckets[bound] >= rank and total > 0:
                if bound != float("inf"):
                    width = buckets[bound] - below
                    value = lower + (bound - lower) * ((rank - below) / width if width else 1.0)
                break
            lower, below = bound, buckets[bound]
        out[f"p{round(q * 100)}"] = None if value is None else round(value, 3)
    return out


def _delay_buckets(port: int) -> dict[float, float]:
    """The worker's event-to-metric delay histogram: cumulative count per upper bound."""
    family = metric_family(port, "cxkpi_event_to_metric_delay_seconds")
    samples = family.samples if family is not None else []
    return {float(s.labels["le"]): s.value for s in samples if s.name.endswith("_bucket")}


def _delay_at(settings: Settings, seed: int, backlog: int, rate: float, seconds: float, log: Path) -> dict[str, Any]:
    """Event-to-metric delay of one worker fed live at `rate` events/s for `seconds`.

    A fresh group first drains the preloaded backlog; the live records are the same
    simulation's next ones, so they come on time, as in production. (Until 2026-11-28 they
    were another seed's from the same start: for about 45 of the 60 s they fell in windows the
    backlog had closed, and the delay was measured mostly on late records.) The delay
    histogram's counts from then on are the live phase's (the difference of two scrapes).

    Event time runs far faster than the wall clock here (hours per minute, `event_time_per_s`),
    so windows close, and final window records go out (`windows_emitted`), that much more
    often than they would in production at the same rate. `late_window_updates` should stay
    near zero: the live records are on time."""
    fresh = replace(settings, app_id=f"{settings.app_id}-delay", web_port=free_port())
    proc = start_worker(fresh, log)
    try:
        _time_by_counter(lambda: _scrape_total(fresh.web_port, "cxkpi_events_consumed"), backlog, proc)
        time.sleep(2.0)  # the backlog's last batch
        # made before the clock starts: generating them live took a share of the two cores the
        # worker and the broker need, and the delay measured that contention
        live_records = int(rate * seconds * 1.2)
        stream = list(
            itertools.islice(
                EventStream(
                    scenario("steady"), seed=seed, rate_per_s=ORDERS_PER_EVENT_S, max_events=backlog + live_records
                ),
                backlog,
                None,
            )
        )
        before = _delay_buckets(fresh.web_port)
        emitted_before = _scrape_total(fresh.web_port, "cxkpi_windows_emitted")
        late_before = _scrape_total(fresh.web_port, "cxkpi_late_window_updates")
        feed = LiveFeed(settings.bootstrap, rate)
        feed.run(stream, seconds)
        time.sleep(3.0)  # the last batch
        after = _delay_buckets(fresh.web_port)
        emitted = _scrape_total(fresh.web_port, "cxkpi_windows_emitted") - emitted_before
        late = _scrape_total(fresh.web_port, "cxkpi_late_window_updates") - late_before
        live = {bound: after[bound] - before.get(bound, 0.0) for bound in after}
        sent = stream[: feed.sent]
        event_span_s = (max(r.event_time for r in sent) - min(r.event_time for r in sent)) / 1000 if sent else 0.0
        return {
            "target_events_per_s": round(rate),
            "sent_events_per_s": round(feed.sent / feed.elapsed),
            "backlog_events_first": backlog,
            "live_events": int(live.get(float("inf"), 0)),
            "event_time_per_s": round(event_span_s / feed.elapsed),
            "windows_emitted": int(emitted),
            "late_window_updates": int(late),
            "delay_seconds": _delay_quantiles(live, (0.5, 0.99)),
            "peak_rss_mb": _peak_rss_mb(proc.pid),
        }
    finally:
        stop_worker(proc)


def _two_workers_ceiling(one: dict[str, Any]) -> float | None:
    """The most two workers could gain over one here: the one worker's run needed its CPU
    seconds plus the broker's, and two workers cannot do that work in less than that total
    spread over every core (their start-up and rebalance not counted)."""
    work = one.get("cpu_seconds", 0.0) + one.get("broker_cpu_seconds", 0.0)
    cores = os.cpu_count() or 1
    return round(min(float(cores), cores * one["seconds"] / work), 3) if work > 0 else None


def _ratios(results: dict[str, Any], name: str, others: tuple[str, ...]) -> dict[str, float]:
    """`name`'s rate over each other contender that ran: by the clock, then per CPU second
    where both have it (the limit runs in the bench process and has none)."""
    ran = [other for other in others if other in results]
    mine = results[name]
    by_clock = {f"{name}/{o}": round(mine["events_per_s"] / results[o]["events_per_s"], 3) for o in ran}
    per_cpu = {
        f"per CPU second: {name}/{o}": round(mine["events_per_cpu_s"] / results[o]["events_per_cpu_s"], 3)
        for o in ran
        if mine.get("events_per_cpu_s") and results[o].get("events_per_cpu_s")
    }
    return by_clock | per_cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="records in the data set (default 1,000,000, as issue 7 asks)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--only",
        nargs="*",
        default=[*CONTENDERS, "cxkpi_two_workers", *SHARE_RUNS, "cxkpi_delay"],
        help="contenders to run",
    )
    parser.add_argument("--delay-seconds", type=float, default=60.0, help="live phase of cxkpi_delay (default 60)")
    parser.add_argument(
        "--max-rate",
        type=float,
        default=DEFAULT_MAX_RATE,
        help="one worker's events/s for cxkpi_delay without cxkpi_worker",
    )
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the broker's data and the contenders' state at the end"
    )
    args = parser.parse_args(argv)
    unwind_on_sigterm()  # a run stopped with SIGTERM stops its broker and workers too
    work = Path(tempfile.mkdtemp(prefix="cxkpi-bench-"))
    settings = own_broker_settings(
        work / "kafka",
        "bench-cxkpi",
        CXKPI_STATE_DIR=str(work / "state"),
        CXKPI_WINDOW_SIZES=str(ENGINE_CONFIG.window_sizes_ms[0] // 1000),
    )
    print(f"broker: starting on {settings.bootstrap} (data in {work})", flush=True)
    local_broker.start(settings)
    results: dict[str, Any] = {}
    delay: dict[str, Any] = {}
    try:
        create_topics(settings)
        records = _preload(settings.bootstrap, args.seed, args.events, work / "records.spool")
        total = len(records)
        print(f"data: {total:,} records of 'steady' (seed {args.seed}) preloaded", flush=True)
        runs: dict[str, Callable[[], dict[str, Any]]] = {
            "limit": lambda: asyncio.run(_limit(settings.bootstrap, total)),
            "core": lambda: _core(records, reference, work),
            "core_compiled": lambda: _core(records, reference, work, "compiled"),
            "core_subset": lambda: _core_subset(records, reference),
            "textbook_faust": lambda: _textbook(settings, total, work / "textbook.log", reference),
            "quix_streams": lambda: _quix(settings, total, work / "quix.log", reference),
            "cxkpi_worker": lambda: _worker(settings, total, work / "worker.log", reference),
            # the common subset's KPIs only (CXKPI_KPIS), as Quix computes them, in its own group
            "cxkpi_subset": lambda: _worker(
                replace(settings, app_id=f"{settings.app_id}-subset", web_port=free_port(), kpis=subset.KPIS),
                total,
                work / "subset.log",
                reference,
            ),
            # Faust's per-record delivery through an agent, in its own group (from the start)
            "cxkpi_agent_delivery": lambda: _worker(
                replace(settings, app_id=f"{settings.app_id}-agent", web_port=free_port(), delivery="agent"),
                total,
                work / "agent-delivery.log",
                reference,
            ),
            # every batch in a Kafka transaction (CXKPI_PROCESSING_GUARANTEE), in its own group
            "cxkpi_exactly_once": lambda: _worker(
                replace(settings, app_id=f"{settings.app_id}-eos", web_port=free_port(), guarantee="exactly_once"),
                total,
                work / "exactly-once.log",
                reference,
            ),
            "cxkpi_two_workers": lambda: _two_workers(settings, total, work / "two-workers.log"),
            **{
                f"cxkpi_stage_two_share_{w}x{p}": functools.partial(
                    _stage_two_share, settings, total, work / f"share-{w}x{p}.log", w, p
                )
                for w, p in STAGE_TWO_SPLITS
            },
        }
        reference: Subset = {}
        if "core" not in args.only:  # the reference for the subset checks
            _core(records, reference, work)
        for name in [n for n in runs if n in args.only]:  # core first: the reference for the checks
            print(f"{name}: running...", flush=True)
            results[name] = runs[name]()
            print(f"{name}: {results[name]}", flush=True)
        if "cxkpi_delay" in args.only:
            # half the maximum rate: the one-worker rate over the backlog's last quarter measured
            # above (the live records continue it), or `--max-rate`
            top = results["cxkpi_worker"]["tail_events_per_s"] if "cxkpi_worker" in results else args.max_rate
            print(f"cxkpi_delay: running at {top / 2:.0f} events/s for {args.delay_seconds:.0f} s...", flush=True)
            delay = _delay_at(settings, args.seed, total, top / 2, args.delay_seconds, work / "delay.log")
            print(f"cxkpi_delay: {delay}", flush=True)
    finally:
        local_broker.stop(settings)
        if not args.keep_data:
            _remove_data(work)
    return _report(results, delay, args.events)


def _remove_data(work: Path) -> None:
    """The broker's data and the contenders' state (6.4 GB after a 1,000,000-record run) go;
    the contenders' logs stay."""
    for path in work.iterdir():
        if path.is_dir():
            shutil.rmtree(path)
        elif path.suffix != ".log":
            path.unlink()
    print(f"logs kept in {work} (--keep-data keeps the broker's data and state too)", flush=True)


def _report(results: dict[str, Any], delay: dict[str, Any], events: int) -> int:
    """Print the table and the ratios, write the JSON; 1 if a contender's check failed."""
    # a speed is only worth reporting for the right numbers: a contender whose subset differs
    # from the core's (or whose output never came) is left out of the ratios, the others stand
    disagree = {name: r["subset_check"] for name, r in results.items() if not subset.agrees(r.get("subset_check", OK))}
    for name, check in disagree.items():
        print(f"{name}: the common subset disagrees with the core's ({check['windows_compared']} windows,"
              f" coverage {check['coverage']}); speed withheld:", *check["differing"][:10], sep="\n  ")  # fmt: skip
    timed = {name: r for name, r in results.items() if name not in disagree}
    ratios: dict[str, float] = {}
    if "cxkpi_worker" in timed:
        others = ("limit", "textbook_faust", "quix_streams", "cxkpi_agent_delivery", "cxkpi_two_workers")
        ratios |= _ratios(timed, "cxkpi_worker", others)
        if "cxkpi_two_workers" in timed:
            cx = timed["cxkpi_worker"]["events_per_s"]
            two = timed["cxkpi_two_workers"]
            ratios["two_workers/one_worker"] = round(two["events_per_s"] / cx, 3)
            if busy := two["both_busy"]:
                ratios["two_workers_both_busy/one_worker"] = round(busy["events_per_s"] / cx, 3)
                if until := busy["until_one_finished"]:
                    ratios["two_workers_until_one_finished/one_worker"] = round(until["events_per_s"] / cx, 3)
            del ratios["cxkpi_worker/cxkpi_two_workers"]
        if ceiling := _two_workers_ceiling(timed["cxkpi_worker"]):
            ratios["ceiling: two_workers/one_worker on this machine"] = ceiling
        if "cxkpi_exactly_once" in timed:  # the price of the transactions
            eos = timed["cxkpi_exactly_once"]["events_per_s"]
            ratios["exactly_once/at_least_once"] = round(eos / timed["cxkpi_worker"]["events_per_s"], 3)
    if "cxkpi_subset" in timed:  # the same KPIs on both sides
        ratios |= _ratios(timed, "cxkpi_subset", ("quix_streams", "textbook_faust", "limit", "core_subset"))
    if "core_subset" in timed:  # what cxkpi_subset would reach if Kafka and state cost nothing
        ratios |= _ratios(timed, "core_subset", ("limit",))
    if "core_compiled" in timed and "core" in timed:  # what mypyc makes of the same core
        ratios |= _ratios(timed, "core_compiled", ("core",))
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "workers_core": _tree_build(),
        "events": events,
        "results": results,
        "ratios": ratios,
        "delay_at_half_max_rate": delay,
    }
    if disagree:
        report["speeds_withheld"] = sorted(disagree)
    print("\n| contender | events/s | per CPU second | seconds | peak RSS MB | common subset |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        check = r.get("subset_check")
        rate, per_cpu = f"{r['events_per_s']:,}", f"{r['events_per_cpu_s']:,}" if "events_per_cpu_s" in r else "-"
        if name in disagree:
            same = f"**failed**: {len(check['differing'])} differ, coverage {check['coverage']}"
            rate = per_cpu = "withheld"
        elif check:
            same = f"equal, {check['windows_compared']} windows"
            if check["coverage"] < 1.0:  # passed, but its output had not reached every window
                same += f" (coverage {check['coverage']})"
        else:
            same = "the reference" if name == "core" else "-"
        print(f"| {name} | {rate} | {per_cpu} | {r['seconds']} | {r['peak_rss_mb']:.0f} | {same} |")
    if busy := results.get("cxkpi_two_workers", {}).get("both_busy"):
        print(f"cxkpi_two_workers once both were busy ({busy['after_s']} s after the first record):"
              f" {busy['events_per_s']:,} events/s, {busy['events_per_cpu_s']:,} per CPU second")  # fmt: skip
        if until := busy["until_one_finished"]:
            print(f"  until the first of them was through ({until['seconds']} s):"
                  f" {until['events_per_s']:,} events/s, {until['events_per_cpu_s']:,} per CPU second")  # fmt: skip
    for name in ("cxkpi_two_workers", *SHARE_RUNS):
        if split := results.get(name, {}).get("stage_two"):
            print(f"{name}: partials merged per worker once all were busy {split['partials_merged']},"
                  f" the largest share {split['max_over_fair']}x a fair one")  # fmt: skip
    for name, ratio in ratios.items():
        print(f"{name}: {ratio}")
    if delay:
        print(f"event-to-metric delay at {delay['sent_events_per_s']:,} events/s: {delay['delay_seconds']}")
    write_result(report, "")
    return 1 if disagree else 0


def write_result(report: dict[str, Any], prefix: str) -> None:
    """Write a run's report to bench/results/<prefix><date>.json (the soak uses it too)."""
    out = HERE / "results" / f"{prefix}{report['date'][:19].replace(':', '')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    sys.exit(main())
