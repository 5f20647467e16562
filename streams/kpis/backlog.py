"""A merchant's overdue backlog over all partitions, for `shipping.alerts`.

Orders are partitioned by order id, so each partition holds part of a merchant's overdue
orders. Partitions report their absolute per-merchant counts when they change; stage two
keeps the latest count per (merchant, partition), so a re-delivered report overwrites
rather than adds, and reports each time the merchant's total reaches a higher step.
When the backlog falls below a step, reaching it again is reported again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OVERDUE_ALERT_STEPS = (10, 25, 50, 100, 250, 500, 1000)


@dataclass(frozen=True)
class OverdueAlert:
    merchant_id: str
    overdue_orders: int
    event_time: int


def _step(total: int) -> int:
    return max((s for s in OVERDUE_ALERT_STEPS if s <= total), default=0)


@dataclass
class MerchantBacklog:
    counts: dict[str, dict[int, int]] = field(default_factory=dict)
    """merchant -> partition -> overdue orders there."""
    reported: dict[str, int] = field(default_factory=dict)
    """merchant -> the highest step reported since its backlog was last below it."""
    changed: set[str] = field(default_factory=set)
    """Merchants updated since the shell last persisted them (`drain_changed`)."""

    def drain_changed(self) -> dict[str, dict[str, Any] | None]:
        """merchant -> its persisted entry (None: nothing left to remember)."""
        out: dict[str, dict[str, Any] | None] = {}
        for merchant in self.changed:
            parts, reported = self.counts.get(merchant), self.reported.get(merchant, 0)
            counts = {str(p): n for p, n in (parts or {}).items()}  # JSON object keys are strings
            out[merchant] = {"counts": counts, "reported": reported} if parts or reported else None
        self.changed.clear()
        return out

    def restore(self, merchant: str, entry: dict[str, Any]) -> None:
        if entry["counts"]:
            self.counts[merchant] = {int(p): n for p, n in entry["counts"].items()}
        if entry["reported"]:
            self.reported[merchant] = entry["reported"]

    def update(self, partition: int, counts: dict[str, int], event_time: int) -> list[OverdueAlert]:
        alerts = []
        for merchant, n in counts.items():
            self.changed.add(merchant)
            parts = self.counts.setdefault(merchant, {})
            if n:
                parts[partition] = n
            else:
                parts.pop(partition, None)
            total = sum(parts.values())
            if not parts:
                del self.counts[merchant]
            step, reported = _step(total), self.reported.get(merchant, 0)
            if step > reported:
                alerts.append(OverdueAlert(merchant, total, event_time))
            if step != reported:
                if step:
                    self.reported[merchant] = step
                else:
                    self.reported.pop(merchant, None)
        return alerts

    def total(self, merchant: str) -> int:
        return sum(self.counts.get(merchant, {}).values())
