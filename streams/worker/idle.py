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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


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
