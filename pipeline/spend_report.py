"""A spend report: the ledger rows of a period summed up (totals, per model, per member, per day).

Everything is computed from the same rows that go into the CSV, in integer micro-dollars, so
the summary, the CSV and the chart agree with each other and with the ledger exactly.
Server spend is ``cost_micros`` (what the gateway billed); ``charged_micros`` is what members
were charged for images they got.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from storage.requests import LedgerRow

GroupBy = Literal["model", "member"]


@dataclass(frozen=True)
class Share:
    key: str  # model id, or member id as text
    cost_micros: int
    images_billed: int


@dataclass(frozen=True)
class SpendReport:
    start: datetime
    end: datetime  # exclusive
    rows: tuple[LedgerRow, ...]
    cost_micros: int
    charged_micros: int
    images_billed: int
    images_delivered: int
    statuses: dict[str, int] = field(default_factory=dict)
    by_model: tuple[Share, ...] = ()  # most expensive first
    by_member: tuple[Share, ...] = ()

    @property
    def days(self) -> list[date]:
        first, last = self.start.date(), (self.end - timedelta(microseconds=1)).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    def daily(self, by: GroupBy) -> dict[str, dict[date, int]]:
        """Server spend per series (model id or member id) per UTC day, in micro-dollars."""
        series: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
        for row in self.rows:
            if row.cost_micros:
                key = row.model if by == "model" else str(row.user_id)
                series[key][row.created_at.date()] += row.cost_micros
        return {key: dict(days) for key, days in series.items()}


def _shares(rows: Sequence[LedgerRow], key) -> tuple[Share, ...]:
    cost: Counter[str] = Counter()
    images: Counter[str] = Counter()
    for row in rows:
        if row.status == "settled":
            cost[key(row)] += row.cost_micros
            images[key(row)] += row.images_billed or 0
    return tuple(
        Share(k, cost[k], images[k]) for k in sorted(cost, key=lambda k: (-cost[k], -images[k], k))
    )


def build_report(rows: Sequence[LedgerRow], start: datetime, end: datetime) -> SpendReport:
    settled = [r for r in rows if r.status == "settled"]
    return SpendReport(
        start=start,
        end=end,
        rows=tuple(rows),
        cost_micros=sum(r.cost_micros for r in rows),
        charged_micros=sum(r.charged_micros for r in rows),
        images_billed=sum(r.images_billed or 0 for r in settled),
        images_delivered=sum(r.images_delivered or 0 for r in settled),
        statuses=dict(Counter(r.status for r in rows)),
        by_model=_shares(rows, lambda r: r.model),
        by_member=_shares(rows, lambda r: str(r.user_id)),
    )
