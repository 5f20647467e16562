"""When a quiet input topic partition stops holding back its partition's watermark.

A topic partition with nothing new for a while (the orders topic after a replay's last
payment, a topic with no traffic at night) must not hold back the windows the partition's
other topics feed. But a topic is quiet for two reasons: it has no more data, or its data
has not come yet because the worker is still reading a backlog (after a restart, a broker
outage, a slow stretch) and its producer is behind too. Released in the second case, its
records arrive behind a watermark the other topics moved on, and are late: a broker
restart test on 2026-11-27 lost about 30 windows of support-ticket events this way. So a
quiet topic partition is released only when every input topic of its partition is read to
its end: then nothing is waiting that could move the watermark past it.

With CXKPI_END_OF_INPUT_SECONDS (a bounded replay or backfill), a partition whose every input
topic was released, is still read to its end, and has had no record for that long ends its
input: every window still open there closes, final (`PartitionWindows.end_input`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from streams.worker.engines import Engines
from streams.worker.lifecycle import tables_ready
from streams.worker.positions import Positions
from streams.worker.stage_one import StageOne


def releasable(quiet: Iterable[Any], ends: Mapping[Any, int], positions: Mapping[Any, int | None]) -> list[Any]:
    """The `quiet` topic partitions whose partition is read to its end in every input topic.

    `ends`: each owned input topic partition's end offset (from the broker); `positions`: the
    offset of the next record the worker will process there (None: not known yet). A topic
    partition of unknown end or position counts as not read to its end."""
    behind = {
        tp.partition
        for tp, position in positions.items()
        if position is None or ends.get(tp) is None or position < ends[tp]
    }
    return [tp for tp in quiet if tp.partition not in behind]


class IdleRelease:
    """The timer that releases quiet topic partitions, with one publish (one transaction under
    exactly_once) for every partition released at once.

    End offsets come from the broker (ListOffsets), not the consumer's fetch cache, which is
    unset or stale right after start-up and would declare a topic idle before its data came."""

    def __init__(
        self,
        app: Any,
        engines: Engines,
        stage_one: StageOne,
        positions: Positions,
        inputs: set[str],
        end_of_input_s: float = 0.0,
    ) -> None:
        self.app = app
        self.engines = engines
        self.stage_one = stage_one
        self.positions = positions
        self.inputs = inputs
        self.end_of_input_s = end_of_input_s

    async def release(self) -> None:
        app, engines = self.app, self.engines
        if not tables_ready(app):
            return
        owned = [tp for tp in app.consumer.assignment() if tp.topic in self.inputs]
        candidates = [
            tp for tp in owned if tp.topic not in engines.engine_for(tp.partition).windows.idle and engines.quiet(tp)
        ]
        release = await self._read_to_end(owned, candidates)
        if not release:
            return
        async with engines.busy, self.stage_one.publisher.in_transaction({}):
            # since the checks above, a batch may have applied records of these, and a rebalance
            # (during the awaits) may have given a partition away: `engine_for` would build it
            # again from tables this worker no longer recovers, and publish that to its changelog
            ready = tables_ready(app)
            release = [tp for tp in release if ready and tp.partition in engines.by_partition and engines.quiet(tp)]
            for tp in release:
                engines.by_partition[tp.partition].windows.set_idle(tp.topic)
            await self.stage_one.publish([engines.by_partition[p] for p in sorted({tp.partition for tp in release})])

    async def end_inputs(self) -> None:
        """End the input of every partition quiet for `end_of_input_s` (0: never), read to its end."""
        app, engines = self.app, self.engines
        if not self.end_of_input_s or not tables_ready(app):
            return
        owned = [tp for tp in app.consumer.assignment() if tp.topic in self.inputs]
        candidates = [tp for tp in owned if self._over(tp)]
        over = {tp.partition for tp in await self._read_to_end(owned, candidates)}
        over -= {tp.partition for tp in owned if not self._over(tp)}
        if not over:
            return
        async with engines.busy, self.stage_one.publisher.in_transaction({}):
            ready = tables_ready(app)  # as in `release`: the awaits above let batches and rebalances in
            ended = sorted(p for p in over if ready and all(self._over(tp) for tp in owned if tp.partition == p))
            for partition in ended:
                engines.by_partition[partition].windows.end_input()
            await self.stage_one.publish([engines.by_partition[p] for p in ended])
        if ended:
            app.log.warning("end of input (CXKPI_END_OF_INPUT_SECONDS): every window closed in partitions %s", ended)

    async def _read_to_end(self, owned: list[Any], candidates: list[Any]) -> list[Any]:
        """The `candidates` whose partition is read to its end in every owned input topic (`releasable`)."""
        if not candidates:
            return []
        ends = await self.app.consumer.highwaters(*owned)
        positions = await self.positions.next_offsets(owned)
        return releasable(candidates, ends, positions)

    def _over(self, tp: Any) -> bool:
        """`tp`'s partition is here, not ended yet, `tp`'s topic released and quiet for the end-of-input time."""
        engine = self.engines.by_partition.get(tp.partition)
        return (
            engine is not None
            and not engine.windows.ended
            and tp.topic in engine.windows.idle
            and self.engines.quiet(tp, self.end_of_input_s)
        )
