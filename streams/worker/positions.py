"""Where this worker stands in each topic partition it owns: the offset it processes next."""

from __future__ import annotations

from typing import Any

from streams.worker.engines import Engines
from streams.worker.merging import Merging


class Positions:
    def __init__(self, app: Any, engines: Engines, stage_two: Merging, partials: str) -> None:
        self.app = app
        self.engines = engines
        self.stage_two = stage_two
        self.partials = partials

    async def next_offset(self, tp: Any) -> int | None:
        """Offset of the next record this worker will process on `tp` (None: not known yet)."""
        return (await self.next_offsets([tp]))[tp]

    async def next_offsets(self, tps: list[Any]) -> dict[Any, int | None]:
        """Offset of the next record this worker will process on each of `tps` (None: not known yet).

        Past the last record the partition's state applied (its input offsets, restored from
        the marker); before any, the group's committed offset (the log start without one): a
        restarted worker has nothing left to read on a topic partition it had finished, and
        that partition must not hold the watermark back. Not the consumer's position: that
        runs ahead by what was fetched and not yet processed, and a topic fetched in full but
        still queued would be declared idle too early. On the partials topic: past the last
        partial stage two merged. The log starts are asked in one request for all that need it."""
        found = {tp: self._known(tp) for tp in tps}
        unknown = [tp for tp, offset in found.items() if offset is None]
        if unknown:
            starts = await self.app.consumer.earliest_offsets(*unknown)
            for tp in unknown:
                start = starts.get(tp)
                found[tp] = None if start is None or start < 0 else int(start)
        return found

    def _known(self, tp: Any) -> int | None:
        """Where the state or the group's commit (read at assignment) puts `tp`, if anywhere."""
        if tp.topic == self.partials:
            arrivals = self.stage_two.arrivals(tp.partition)
            if arrivals is not None and tp.topic in arrivals.next_offset:
                return arrivals.next_offset[tp.topic]
        else:
            engine = self.engines.by_partition.get(tp.partition)
            if engine is not None and tp.topic in engine.windows.input_offsets:
                return engine.windows.input_offsets[tp.topic]
        committed = self.app.consumer._committed_offset.get(tp)
        return None if committed is None else int(committed)
