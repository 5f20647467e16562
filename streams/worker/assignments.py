"""What a new assignment changes on this worker, and the tasks that run from the first one on.

Faust starts timers only after table recovery; the consumer lag and (under exactly_once)
the watch over recoveries that end in a transaction marker must run during recovery too,
so they start at the first assignment and stop before shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from streams.clients.admin import layout_error
from streams.outputs.metrics import Metrics
from streams.worker.engines import Engines
from streams.worker.gauges import Gauges
from streams.worker.lifecycle import fatal
from streams.worker.merging import Merging
from streams.worker.transport.committed_reads import MarkerAwareRecovery
from streams.worker.transport.transactions import Transactions


class Assignments:
    def __init__(
        self,
        app: Any,
        engines: Engines,
        stage_two: Merging,
        gauges: Gauges,
        transactions: Transactions | None,
        markers: MarkerAwareRecovery | None,
        metrics: Metrics,
        inputs: set[str],
        partials: str,
        layout: Mapping[str, int],
    ) -> None:
        self.app = app
        self.engines = engines
        self.stage_two = stage_two
        self.gauges = gauges
        self.transactions = transactions
        self.markers = markers
        """Exactly-once (with `transactions`): ends recoveries of changelogs that end with a marker."""
        self.metrics = metrics
        self.inputs = inputs
        self.partials = partials
        self.layout = layout
        """Topic -> the partition count the state's layout needs (`streams.clients.admin`)."""
        self._tasks: dict[str, asyncio.Future[None]] = {}

    async def on_assigned(self, assigned: Any) -> None:
        """Drop what another worker owns now; keep what stayed here.

        A kept partition's engine holds the live windows: Faust recovers only newly assigned
        changelog partitions, so rebuilding it from the table would read stale entries. A
        partition that left is rebuilt from the tables (recovered afresh) if it comes back.
        (A worker that missed a generation stops instead: `BatchApp._on_partitions_assigned`.)"""
        self.metrics.rebalances.inc()
        if await self._layout_changed():
            return
        txn, markers = self.transactions, self.markers
        if txn is not None and markers is not None:
            self._keep_running("watch_recovery", lambda: self._watch_recovery(txn, markers))
        self._keep_running("refresh_lag", self.gauges.refresh_lag_every)
        owned = {tp.partition for tp in assigned if tp.topic in self.inputs}
        self.metrics.partitions_owned.set(sum(1 for tp in assigned if tp.topic in self.inputs))
        self.engines.keep_only(owned)
        self.stage_two.on_assigned({tp.partition for tp in assigned if tp.topic == self.partials})

    async def _layout_changed(self) -> bool:
        """Partitions added to a topic while the worker runs (the group rebalances on it) move
        keys away from their state: the worker stops with the start-up check's message rather
        than compute on. Its restart stops at that check until the layout is settled."""
        consumer = self.app.consumer
        error = layout_error({name: consumer.topic_partitions(name) for name in self.layout}, self.layout)
        if error is None:
            return False
        self.app.log.error("%s", error)
        await self.app.crash(error)
        return True

    def _keep_running(self, name: str, start: Callable[[], Coroutine[Any, Any, None]]) -> None:
        task = self._tasks.get(name)
        if task is None or task.done():
            self._tasks[name] = asyncio.ensure_future(start())

    async def _watch_recovery(self, txn: Transactions, markers: MarkerAwareRecovery) -> None:
        """Exactly-once: starts the transactional producer, so that the broker aborts at once
        what a predecessor under this id left open, and ends the recovery of changelogs that
        end with a transaction marker (`streams.worker.transport.committed_reads`)."""
        async with fatal(self.app, "watch_recovery"):
            await txn.start()
            while not self.app.should_stop:
                for tp in await markers.check(self.app):
                    self.app.log.info("%s-%s: recovered to its end (a transaction marker)", tp.topic, tp.partition)
                await asyncio.sleep(1.0)

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        if self.transactions is not None:
            await self.transactions.stop()
