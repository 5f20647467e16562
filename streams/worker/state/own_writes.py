"""A rebalance must not make a worker read back the state it wrote itself.

Faust's recovery reads every assigned changelog partition from the last offset *it* read
(`Recovery.active_offsets`) to the end, kept partitions too. This worker writes its state
records itself (`streams.worker.publishing`), past Faust's bookkeeping, so at each
rebalance Faust read back everything the worker wrote since its last recovery, while the
engines and stage two, which hold that state live, waited; the longer since the last
rebalance, the longer the wait (with the memory store, the re-read entries also piled up
in the window and merge tables). In the three-worker fault test (2026-12-07) a worker that
kept its partition through a rebalance read back 5,046 order-state and 13,113 window-state
records of its own; with this, it reads 1 (the commit marker).

So each acknowledged state write moves Faust's read offset of its changelog partition on:
a kept partition then has nothing to read but what others wrote (nobody else writes it), or
under exactly_once the transaction's commit marker (`committed_reads`). Only while no
rebalance or recovery is under way: a round that already took its end offsets must not
find a read offset past them. A partition that leaves is forgotten by Faust as before, and
read in full if it comes back.

The memory store only: Faust sets a RocksDB partition's read offset from the offset stored
in the database at every rebalance, which this does not move (it reads back the worker's
writes there, as before).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from streams.worker.lifecycle import tables_ready
from streams.worker.transport.outbox import Delivery


def add_last_offsets(last: dict[tuple[str, int], int], deliveries: Iterable[Delivery], topics: Collection[str]) -> None:
    """Raises `last` ((topic, partition) -> the offset of the last record acknowledged there)
    to what `deliveries` wrote to `topics`. A batch's future holds its base offset; a
    delivery not done or failed is left out."""
    for delivery in deliveries:
        if delivery.topic not in topics or not delivery.future.done() or delivery.future.exception():
            continue
        offset = delivery.future.result().offset + delivery.records - 1
        key = (delivery.topic, delivery.partition)
        if offset > last.get(key, -1):
            last[key] = offset


def move_read_offsets(app: Any, written: dict[tuple[str, int], int]) -> int:
    """Moves Faust's read offset of each assigned changelog partition in `written` up to the
    offset written there; returns how many moved. Nothing moves during a rebalance or recovery."""
    if not tables_ready(app):
        return 0
    offsets, moved = app.tables.recovery.active_offsets, 0
    for tp in list(offsets):
        last = written.get((tp.topic, tp.partition))
        read = offsets[tp]
        if last is not None and (read is None or read < last):
            offsets[tp] = last
            moved += 1
    return moved
