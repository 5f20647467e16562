"""Which stage-two partition merges what, so stage two scales out with the workers.

Stage two runs once per partition of the window partials topic, each on its own share:
- a window's KPI partials by KPI and dimensions (`kpi|dims`): every input partition's
  partial of one `kpi.windows` record meets on one stage-two partition, and a window's
  records spread over all of them;
- a merchant's order counts (bursts) and overdue counts by merchant, so one partition sees
  all of a merchant's orders and keeps its burst detector and backlog alone;
- progress marks to every partition: each completes its share of a window when every
  input partition's progress passed it.
A partition gets a window's share only where it holds keys, except for the final one-minute
windows the burst detector reads: those go to every partition, empty or not, so each
detector sees the same sequence of minutes one stage two would (its warm-up and a burst's
end count minutes with no orders of that merchant).

Each `kpi.windows` record and each alert depends on one key's merged values only, so the
records are those one stage two would emit.
"""

from __future__ import annotations

from typing import Any

from streams.kpis.bursts import BURST_WINDOW_MS, is_merchant_key, parse_merchant_key
from streams.kpis.windows import GroupKey, Vector
from topics.partitioner import partition_of


class StageTwoRouting:
    def __init__(self, partitions: int) -> None:
        if partitions < 1:
            raise ValueError(f"stage two needs at least one partition, not {partitions}")
        self.partitions = partitions
        self._of_kpi: dict[str, int] = {}  # 'kpi|dims' -> stage-two partition: few keys, in every window

    def of_key(self, key: str) -> int:
        """Stage-two partition of one partial's key: by merchant for order counts, else by `kpi|dims`."""
        if is_merchant_key(key):  # not cached: merchants are many, each in few windows
            return self.of_merchant(parse_merchant_key(key)[0])
        partition = self._of_kpi.get(key)
        if partition is None:
            partition = self._of_kpi[key] = partition_of(key.encode(), self.partitions)
        return partition

    def of_merchant(self, merchant_id: str) -> int:
        return partition_of(merchant_id.encode(), self.partitions)

    def shares(
        self, group: GroupKey, partials: dict[str, Vector], provisional: bool
    ) -> list[tuple[int, dict[str, Vector]]]:
        """(stage-two partition, its share) of one input partition's partials of a window."""
        if self.partitions == 1:
            return [(0, partials)]
        shares: list[dict[str, Vector]] = [{} for _ in range(self.partitions)]
        of_key = self.of_key
        for key, vector in partials.items():
            shares[of_key(key)][key] = vector
        size, _, settle = group
        every = size == BURST_WINDOW_MS and settle == 0 and not provisional  # the burst detectors' minutes
        return [(q, share) for q, share in enumerate(shares) if share or every]

    def split_by_merchant(self, counts: dict[str, Any]) -> dict[int, dict[str, Any]]:
        """Per-merchant values (overdue counts) by the stage-two partition of their merchant."""
        shares: dict[int, dict[str, Any]] = {}
        for merchant_id, value in counts.items():
            shares.setdefault(self.of_merchant(merchant_id), {})[merchant_id] = value
        return shares
