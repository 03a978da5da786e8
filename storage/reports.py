"""Read-only ledger queries for reports and /history: the rows of a period, the latest rows.

Periods are UTC like the quotas: ``day`` is today, ``week`` the last seven days including
today, ``month`` the calendar month (the one the budget counts). A row belongs to the period
of its ``created_at``, as it does for the quotas.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from storage.connection import Database
from storage.models import as_utc, epoch_ms
from storage.requests import COLUMNS, LedgerRow, ledger_row

Period = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = ("day", "week", "month")

def period_bounds(period: Period, now: datetime | None = None) -> tuple[datetime, datetime]:
    """``[start, end)`` of ``period`` around ``now`` (UTC); ``end`` is the next midnight."""
    moment = as_utc(now)
    today = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    end = today + timedelta(days=1)
    if period == "day":
        return today, end
    if period == "week":
        return today - timedelta(days=6), end
    if period == "month":
        return today.replace(day=1), end
    raise ValueError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")


class ReportQueries:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def rows(
        self, guild_id: int, start: datetime, end: datetime, *, user_id: int | None = None
    ) -> list[LedgerRow]:
        """Every ledger row of the server (or one member) created in ``[start, end)``, oldest first."""
        sql = f"SELECT {COLUMNS} FROM requests WHERE guild_id = ? AND created_at >= ? AND created_at < ?"  # noqa: S608
        params: list[object] = [guild_id, epoch_ms(as_utc(start)), epoch_ms(as_utc(end))]
        if user_id is not None:
            sql += " AND user_id = ?"
            params.append(user_id)
        return [ledger_row(r) for r in await self._db.fetchall(sql + " ORDER BY id", params)]

    async def latest(self, guild_id: int, *, user_id: int | None = None, limit: int = 10) -> list[LedgerRow]:
        """The newest rows of the server (or one member), newest first."""
        sql = f"SELECT {COLUMNS} FROM requests WHERE guild_id = ?"  # noqa: S608
        params: list[object] = [guild_id]
        if user_id is not None:
            sql += " AND user_id = ?"
            params.append(user_id)
        params.append(limit)
        return [ledger_row(r) for r in await self._db.fetchall(sql + " ORDER BY id DESC LIMIT ?", params)]

    async def settled_cost(self, guild_id: int, start: datetime, end: datetime) -> int:
        """Micro-dollars the server's requests created in ``[start, end)`` cost once settled: its
        spend as /spend shows it, without what is only held for requests in progress."""
        row = await self._db.fetchone(
            "SELECT COALESCE(SUM(cost_micros), 0) FROM requests"
            " WHERE guild_id = ? AND status = 'settled' AND created_at >= ? AND created_at < ?",
            (guild_id, epoch_ms(as_utc(start)), epoch_ms(as_utc(end))),
        )
        return int(row[0]) if row else 0

    async def reserved(self, guild_id: int, start: datetime, end: datetime) -> int:
        """Micro-dollars held by the server's requests in progress created in ``[start, end)``: the
        spend the quotas and the budget count already, which /spend shows only once settled."""
        row = await self._db.fetchone(
            "SELECT COALESCE(SUM(reserved_micros), 0) FROM requests"
            " WHERE guild_id = ? AND status = 'pending' AND created_at >= ? AND created_at < ?",
            (guild_id, epoch_ms(as_utc(start)), epoch_ms(as_utc(end))),
        )
        return int(row[0]) if row else 0
