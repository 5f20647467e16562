from __future__ import annotations

from typing import Any

import orjson

from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.stream import EventStream, Faults


def events_of(
    name: str, seed: int = 7, rate: float = 0.5, hours: int = 12, **kw: Any
) -> tuple[EventStream, list[dict[str, Any]]]:
    stream = EventStream(scenario(name, hours * HOUR_MS), seed=seed, rate_per_s=rate, duration_ms=hours * HOUR_MS, **kw)
    events = [orjson.loads(r.value) for r in stream if r.kind == "valid"]
    return stream, events


__all__ = ["Faults", "events_of"]
