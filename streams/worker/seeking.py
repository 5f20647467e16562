"""Seeking the consumer back to the record a partition's state expects next.

Both stages check each record against the offset their state stands at
(`streams.worker.state.offsets`) and collect, per topic partition, where a record past the
expected one sent them. After the batch this seeks the consumer back there, after every
batch until the record comes (a rebalance can undo a seek). On a topic written in
transactions a gap may be real (commit markers, aborted records): it is asked of the
broker, and taken only if the offsets in between hold no committed record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from streams.clients.reader import first_committed_offset
from streams.clients.security import kafka_python_config
from streams.config import Settings
from streams.worker.state.offsets import Expected

Rewind = dict[Any, int]
"""Topic partition -> the offset its state needs next."""


class SeekBack:
    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, rewind: Rewind, arrivals: Callable[[Any], Expected]) -> None:
        for tp, position in rewind.items():
            waiting = arrivals(tp)
            if waiting.gaps_expected and tp.topic in waiting.waiting and await self.gap_confirmed(tp, waiting):
                position = waiting.next_offset[tp.topic]
                self.app.log.info(
                    "%s-%s: no committed record before %s: going on there", tp.topic, tp.partition, position
                )
                await self.app.consumer.seek(tp, position)
            elif tp.topic in waiting.waiting:
                self.app.log.warning(
                    "%s-%s: record %s was skipped, seeking back to it", tp.topic, tp.partition, position
                )
                await self.app.consumer.seek(tp, position)

    async def gap_confirmed(self, tp: Any, arrivals: Expected) -> bool:
        """Asks the broker whether the offsets from the expected one on hold only transaction
        markers and aborted records; moves `arrivals` past them if so."""
        start = arrivals.next_offset[tp.topic]
        config = kafka_python_config(self.settings)
        first = await asyncio.to_thread(
            first_committed_offset, self.settings.bootstrap, tp.topic, tp.partition, start, **config
        )
        return first is not None and arrivals.confirm_gap(tp.topic, first)
