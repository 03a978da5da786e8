"""A spend report: a period's ledger summed up (totals, per model, per member, per day).

The figures come from SQL (``storage.reports``) over the same rows, in the same snapshot, as
the CSV, in integer micro-dollars, so the summary, the CSV and the chart agree with each other
and with the ledger exactly. ``build_report`` computes the same figures from rows in Python
(the reference the SQL is tested against). Server spend is ``cost_micros`` (what the gateway
billed); ``charged_micros`` is what members were charged for images they got.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta

from storage.reports import GroupBy, Share, SpendFigures
from storage.requests import LedgerRow

__all__ = ["MAX_SERIES", "GroupBy", "Share", "SpendReport", "build_report"]

MAX_SERIES = 6  # the biggest series get their own colour in the chart; the rest are stacked as one


@dataclass(frozen=True)
class SpendReport(SpendFigures):
    start: datetime
    end: datetime  # exclusive

    @classmethod
    def of(cls, figures: SpendFigures, start: datetime, end: datetime) -> SpendReport:
        return cls(**{f.name: getattr(figures, f.name) for f in fields(SpendFigures)}, start=start, end=end)

    @property
    def days(self) -> list[date]:
        first, last = self.start.date(), (self.end - timedelta(microseconds=1)).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    def daily(self, by: GroupBy) -> dict[str, dict[date, int]]:
        """Server spend per UTC day, in micro-dollars, of the biggest series (model id or member
        id; at most `MAX_SERIES`), in the order of `by_model` / `by_member`."""
        return self.per_day[by]

    def others(self, by: GroupBy) -> dict[date, int]:
        """Server spend per UTC day of every other series together (empty when there are none)."""
        return self.others_per_day[by]


def _shares(rows: Sequence[LedgerRow], key: Callable[[LedgerRow], str]) -> tuple[Share, ...]:
    cost: Counter[str] = Counter()
    images: Counter[str] = Counter()
    charged: Counter[str] = Counter()
    for row in rows:
        if row.status == "settled":
            cost[key(row)] += row.cost_micros
            images[key(row)] += row.images_billed or 0
            charged[key(row)] += row.charged_micros
    return tuple(
        Share(k, cost[k], images[k], charged[k]) for k in sorted(cost, key=lambda k: (-cost[k], -images[k], k))
    )


def _per_day(rows: Sequence[LedgerRow], shares: tuple[Share, ...], key: Callable[[LedgerRow], str]
             ) -> tuple[dict[str, dict[date, int]], dict[date, int]]:
    top = [share.key for share in shares if share.cost_micros][:MAX_SERIES]
    series: dict[str, dict[date, int]] = {k: defaultdict(int) for k in top}
    others: dict[date, int] = defaultdict(int)
    for row in rows:
        if row.cost_micros:
            series.get(key(row), others)[row.created_at.date()] += row.cost_micros
    return {k: dict(days) for k, days in series.items()}, dict(others)


def build_report(rows: Sequence[LedgerRow], start: datetime, end: datetime) -> SpendReport:
    """The report of ``rows`` computed in Python: what ``storage.reports`` computes in SQL."""
    settled = [r for r in rows if r.status == "settled"]
    keys: dict[GroupBy, Callable[[LedgerRow], str]] = {"model": lambda r: r.model, "member": lambda r: str(r.user_id)}
    shares = {by: _shares(rows, key) for by, key in keys.items()}
    per_day = {by: _per_day(rows, shares[by], key) for by, key in keys.items()}
    return SpendReport(
        start=start,
        end=end,
        requests=len(rows),
        cost_micros=sum(r.cost_micros for r in rows),
        charged_micros=sum(r.charged_micros for r in rows),
        images_billed=sum(r.images_billed or 0 for r in settled),
        images_delivered=sum(r.images_delivered or 0 for r in settled),
        statuses=dict(Counter(r.status for r in rows)),
        held_micros=sum(r.reserved_micros for r in rows if r.status == "pending"),
        by_model=shares["model"],
        by_member=shares["member"],
        per_day={by: series for by, (series, _others) in per_day.items()},
        others_per_day={by: others for by, (_series, others) in per_day.items()},
    )
