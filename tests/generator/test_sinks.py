"""Pacing a live run: `paced` keeps event time at the speed-up, `until` ends it at the last
payment instead of sending the lifecycle tail at full speed."""

from __future__ import annotations

from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.sinks import paced, until
from streams.generator.stream import DEFAULT_START_MS, EventStream
from tests.fake_clock import FakeClock


def _stream(hours: int = 2) -> EventStream:
    return EventStream(scenario("livestream-burst"), seed=3, rate_per_s=1.0, duration_ms=hours * HOUR_MS)


def test_until_ends_at_the_last_payment_with_everything_before_it() -> None:
    end = DEFAULT_START_MS + 2 * HOUR_MS
    everything = [r.event_time for r in _stream()]
    sent = [r.event_time for r in until(_stream(), end)]
    assert sent == [t for t in everything if t <= end]  # in order, nothing before the end left out
    assert max(everything) - end > 24 * HOUR_MS  # what the tail would have added: days


def test_a_paced_run_until_the_end_never_runs_ahead_of_its_pace() -> None:
    speedup, clock = 600.0, FakeClock()
    end = DEFAULT_START_MS + 2 * HOUR_MS
    first = None
    for record in paced(until(_stream(), end), speedup, clock=clock):
        first = record.event_time if first is None else first
        # event time sent so far never exceeds wall time elapsed x the speed-up
        assert (record.event_time - first) / 1000 <= clock.now * speedup + 1e-6
    assert first is not None
    assert abs(clock.now - 2 * 3600 / speedup) < 1.0  # the announced span / speed-up, no fast-forward after


def test_the_tail_is_what_ran_ahead() -> None:
    """The demo's old ending, for contrast: paced to the last payment, then at full speed."""
    speedup, clock = 600.0, FakeClock()
    end = DEFAULT_START_MS + 2 * HOUR_MS
    ahead = 0.0
    for record in paced(_stream(), speedup, end, clock=clock):
        ahead = max(ahead, (record.event_time - DEFAULT_START_MS) / 1000 - clock.now * speedup)
    assert ahead > 24 * 3600  # days of event time in no wall time at all
