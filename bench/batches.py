"""The KPI core in process, fed as a worker feeds it: in batches, with the worker's heap policy.

A worker freezes the collector's view of everything alive after each batch
(`streams.worker.heap`), so its full collections never walk the order and window state. Fed
in one go, the core paid for those walks (full collections took 1.89 s of about 5.6 on
100,000 `steady` records, 2026-12-06), which the worker does not: the figure would understate the core.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence

from streams.kpis.engine import EngineConfig
from streams.kpis.pipeline import LocalPipeline
from streams.worker import heap
from topics.contract import INPUT_PARTITIONS

BATCH = 500
"""Records per batch: each ends with the windows' closing (`LocalPipeline.feed`) and a freeze."""

Record = tuple[str, bytes, bytes | None]


def run_in_batches(records: Sequence[Record], config: EngineConfig) -> LocalPipeline:
    """Every record through the core, then `finish`: what the benchmark's `core` times."""
    pipeline = LocalPipeline(partitions=INPUT_PARTITIONS, config=config)
    try:
        for start in range(0, len(records), BATCH):
            pipeline.feed(records[start : start + BATCH], close_every=BATCH)
            heap.after_batch()
        pipeline.finish()
    finally:
        gc.unfreeze()  # the next run starts as this one did
    return pipeline
