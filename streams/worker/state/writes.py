"""One partition's state writes after a batch, in phases the shell acknowledges one by one.

1. every changed window group, order and ticket, as versioned records (`streams.kpis.versioned`)
   stamped with the batch's number and holding their value from before the batch;
2. the commit marker: the partition's window progress, carrying that number;
3. deletions (closed windows, expired or taken-back states): tombstones, to compact.

A crash lands any prefix of these. Recovery takes every record of a batch newer than the
marker back to its value before that batch: the state is then exactly that of the last
committed batch, and the replay from the committed offsets (never past the marker, since
offsets are committed after phase 3) applies the rest once. A batch that touched a key
taken back writes it again, so no record of an unfinished batch outlives the next marker.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any

import orjson

from streams.kpis.engine import PartitionEngine
from streams.kpis.versioned import record, resolve_in
from streams.worker.state import windows as window_state

ORDER_STATE = "order-state"
TICKET_STATE = "ticket-state"
WINDOW_STATE = "window-state"
MERGE_STATE = "merge-state"
"""Stage two's state (`streams.kpis.stage_two`), per partials partition (keys prefixed by it): not
written in this module's phases but once per batch of partials, after its outputs."""
TABLES = (WINDOW_STATE, ORDER_STATE, TICKET_STATE)

Write = tuple[str, str, Any]
"""(table, key, JSON-ready value; None deletes the key)"""


def in_order(batch: list[tuple[PartitionEngine, set[str], set[str]]]) -> list[list[tuple[int, Write]]]:
    """A batch's writes over its partitions (engine, touched orders, touched tickets):
    phase n of every partition, then phase n + 1; each phase is acknowledged before the next."""
    per_partition = [(engine.partition, batch_phases(engine, orders, tickets)) for engine, orders, tickets in batch]
    return [[(partition, write) for partition, phases in per_partition for write in phases[n]] for n in range(3)]


def batch_phases(engine: PartitionEngine, touched_orders: set[str], touched_tickets: set[str]) -> list[list[Write]]:
    """The writes of one partition's batch, phase by phase (see the module docstring)."""
    p, windows = engine.partition, engine.windows
    windows.batch += 1
    n = windows.batch
    before_orders, before_tickets = engine.drain_before()
    expired_orders, expired_tickets = engine.drain_expired()
    versioned: list[Write] = []
    deleted: list[Write] = []
    for key, (vectors, before) in window_state.group_entries(p, windows).items():
        versioned.append((WINDOW_STATE, key, record(vectors, before, n)))
        if vectors is None:
            deleted.append((WINDOW_STATE, key, None))
    for table, states, touched, before in (
        (ORDER_STATE, engine.orders, touched_orders, before_orders),
        (TICKET_STATE, engine.tickets, touched_tickets, before_tickets),
    ):
        for key in touched:
            value = states.get(key)
            versioned.append((table, key, record(value, before.get(key), n)))
            if value is None:
                deleted.append((table, key, None))
    deleted += [(ORDER_STATE, key, None) for key in expired_orders]
    deleted += [(TICKET_STATE, key, None) for key in expired_tickets]
    marker_key, progress = window_state.progress_entry(p, windows)
    return [versioned, [(WINDOW_STATE, marker_key, progress)], deleted]


def restore_states(
    engine: PartitionEngine, order_ids: Iterable[str], ticket_ids: Iterable[str]
) -> tuple[list[str], list[str]]:
    """Resolve the recovered order and ticket records as of the committed batch (the
    engine's windows must be restored first); returns the ids that hold a state.

    A state taken back is marked touched, so the next batch writes it again."""
    committed = engine.windows.batch
    kept: list[list[str]] = []
    for states, ids, before, touched in (
        (engine.orders, order_ids, engine.before_orders, engine.touched_orders),
        (engine.tickets, ticket_ids, engine.before_tickets, engine.touched_tickets),
    ):
        kept.append(_resolve_all(states, ids, committed, before, touched))
    return kept[0], kept[1]


def _resolve_all(
    states: MutableMapping[str, Any],
    ids: Iterable[str],
    committed: int,
    before: dict[str, bytes | None],
    touched: set[str],
) -> list[str]:
    kept = []
    for key in list(ids):
        value, taken_back = resolve_in(states, key, committed)
        if taken_back:
            touched.add(key)
            before[key] = None if value is None else orjson.dumps(value)  # the next batch's record's `before`
        if value is not None:
            kept.append(key)
    return kept
