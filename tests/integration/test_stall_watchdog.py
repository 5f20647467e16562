"""Faust's stall watchdog under a worker that is busy but keeps going: while a backlog
drains for longer than the stall timeout, no partition may be reported as stalled.

The watchdog (`verify_event_path`, every 2.5 commit intervals) takes a partition whose fetch
position is behind its high-water mark, and whose stream took no record for
`stream_processing_timeout`, as stalled. Batch delivery bypasses the `Stream` whose progress
it reads; before it noted its own, a soak logged every partition as stalled after 5 min."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from streams.generator.scenarios import scenario
from streams.generator.stream import EventStream
from streams.local.worker import start_worker, stop_worker
from tests.integration.support import own_broker, own_broker_settings, wait_for_count

pytestmark = pytest.mark.kafka

STALL_S = 6
BACKLOG = 120_000
"""Records preloaded: agent delivery drains them for longer than `STALL_S` plus three rounds
of the watchdog (7 s each: about 33 s on 2026-11-27); batch delivery, since the fetch settings
(`streams.worker.transport.fetching`), in about 15 s, still two rounds past `STALL_S`."""
STALLED = ("Stream has not started processing", "Stream stopped processing")
"""The watchdog's report lines, each naming its topic partition (the explanation that
follows them is not counted)."""
PARTIALS = "window-partials"
"""Stage two's input. Under agent delivery its records wait behind the backlog in Faust's
one conductor (a full agent buffer holds every other agent's records), so stage two can take
no record for longer than `STALL_S` and the watchdog says so, rightly: once in a clean-clone
CI run of 2026-11-28 (35 s into a 37 s drain). Batch delivery hands the partials over beside
the input batches; there no partition may be reported."""


@pytest.mark.parametrize("delivery", ["batch", "agent"])
def test_a_worker_draining_a_backlog_reports_no_stall(tmp_path: Path, delivery: str) -> None:
    settings = own_broker_settings(
        tmp_path / "kafka", f"cxkpi-stall-{delivery}", CXKPI_DELIVERY=delivery, CXKPI_STALL_TIMEOUT_SECONDS=str(STALL_S)
    )
    log = tmp_path / "worker.log"
    with own_broker(settings, EventStream(scenario("steady"), seed=3, rate_per_s=5.0, max_events=BACKLOG)):
        worker = start_worker(settings, log)
        try:
            started = time.monotonic()
            wait_for_count(settings.web_port, "cxkpi_events_consumed", BACKLOG, 600, log)
            took = time.monotonic() - started
            print(f"\n{delivery}: drained {BACKLOG:,} records in {took:.1f} s")
            assert worker.poll() is None, log.read_text()[-3000:]
            stalled = [line for line in log.read_text().splitlines() if any(s in line for s in STALLED)]
            if delivery == "agent":  # the input partitions only: see PARTIALS
                stalled = [line for line in stalled if PARTIALS not in line]
            assert not stalled, "\n".join(stalled[:5])
        finally:
            stop_worker(worker)
