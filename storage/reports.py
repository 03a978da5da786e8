"""Read-only ledger queries for reports and /history: a period's spend, the latest rows.

Periods are UTC like the quotas: ``day`` is today, ``week`` the last seven days including
today, ``month`` the calendar month (the one the budget counts). A row belongs to the period
of its ``created_at``, as it does for the quotas.

A period's spend (/spend) can be a hundred thousand rows. Its figures are SQL ``GROUP BY``
queries (small results), and its rows are streamed one by one to an export (the CSV) in the
same read transaction, so the figures and the export cover exactly the same rows. All of it
runs in a worker thread on a read-only connection of its own (WAL lets it read beside the
bot's writes): the bot's one connection, which every reserve and settle waits for, is not
held, and nothing of it runs on the event loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal, TypeVar

from storage.connection import Database
from storage.models import MS_PER_DAY, as_utc, epoch_ms, from_epoch_ms
from storage.requests import COLUMNS, LedgerRow, ledger_row

T = TypeVar("T")
GroupBy = Literal["model", "member"]

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


@dataclass(frozen=True)
class Share:
    key: str  # model id, or member id as text
    cost_micros: int
    images_billed: int
    charged_micros: int  # what members were charged (for their images that arrived)


@dataclass(frozen=True)
class SpendFigures:
    """A period's spend summed up in integer micro-dollars (``pipeline.spend_report`` words it)."""

    requests: int
    cost_micros: int  # server spend, every row (only settled rows cost anything)
    charged_micros: int  # what members were charged for the images they got
    images_billed: int  # settled rows
    images_delivered: int
    statuses: dict[str, int]  # rows per status
    held_micros: int  # reserved by the requests still in progress ("pending"), not spent yet
    by_model: tuple[Share, ...]  # settled rows, most expensive first (then most images, then key)
    by_member: tuple[Share, ...]
    # Server spend per UTC day of the `top` biggest series of each grouping (the first ones of
    # by_model / by_member that cost anything, in that order), and of all the others together.
    per_day: dict[GroupBy, dict[str, dict[date, int]]]
    others_per_day: dict[GroupBy, dict[date, int]]


_EPOCH_DAY = date(1970, 1, 1)
_ROWS_AT_ONCE = 500


def _day(number: int) -> date:
    return _EPOCH_DAY + timedelta(days=number)


def _ranked(rows: Sequence[tuple]) -> tuple[Share, ...]:
    shares = [Share(str(key), int(cost), int(images), int(charged)) for key, cost, images, charged in rows]
    return tuple(sorted(shares, key=lambda s: (-s.cost_micros, -s.images_billed, s.key)))


class _Period:
    """The WHERE clause of a period's rows, and the statements that read them on ``conn``."""

    def __init__(self, conn: sqlite3.Connection, guild_id: int, start: datetime, end: datetime,
                 user_id: int | None) -> None:
        self.conn = conn
        self.where = "guild_id = ? AND created_at >= ? AND created_at < ?"
        self.params: list[object] = [guild_id, epoch_ms(as_utc(start)), epoch_ms(as_utc(end))]
        if user_id is not None:
            self.where += " AND user_id = ?"
            self.params.append(user_id)

    def cursor(self, select: str, tail: str = "", extra: Sequence[object] = ()) -> sqlite3.Cursor:
        cursor = self.conn.cursor()
        cursor.row_factory = None  # plain tuples, whatever the connection's factory
        return cursor.execute(f"SELECT {select} FROM requests WHERE {self.where} {tail}",  # noqa: S608
                              [*extra, *self.params])

    def figures(self, top: int) -> SpendFigures:
        # Three passes over the period's index entries: per status, model and day (a few hundred
        # groups: the totals, by_model and the models' days), per member, and the days of the
        # biggest members (the others together).
        groups = self.cursor(
            f"status, model, created_at / {MS_PER_DAY}, COUNT(*), SUM(cost_micros), SUM(charged_micros),"
            " SUM(COALESCE(images_billed, 0)), SUM(COALESCE(images_delivered, 0)), SUM(reserved_micros)",
            "GROUP BY 1, 2, 3",
        ).fetchall()
        statuses: Counter[str] = Counter()
        model_cost: Counter[str] = Counter()
        model_images: Counter[str] = Counter()
        model_charged: Counter[str] = Counter()
        model_days: dict[str, Counter[date]] = defaultdict(Counter)
        for status, model, day, count, cost, charged, billed, _delivered, _reserved in groups:
            statuses[status] += count
            if status == "settled":
                model_cost[model] += cost
                model_images[model] += billed
                model_charged[model] += charged
            if cost:
                model_days[model][_day(day)] += cost
        settled = [group for group in groups if group[0] == "settled"]
        by_model = _ranked([(m, model_cost[m], model_images[m], model_charged[m]) for m in model_cost])
        by_member = _ranked(self.cursor(
            "user_id, SUM(cost_micros), SUM(COALESCE(images_billed, 0)), SUM(charged_micros)",
            "AND status = 'settled' GROUP BY user_id",
        ).fetchall())
        per_day: dict[GroupBy, dict[str, dict[date, int]]] = {"model": {}, "member": {}}
        others_per_day: dict[GroupBy, dict[date, int]] = {"model": {}, "member": {}}
        top_models = [share.key for share in by_model if share.cost_micros][:top]
        per_day["model"] = {model: dict(model_days[model]) for model in top_models}
        rest: Counter[date] = Counter()
        for model, days in model_days.items():
            if model not in per_day["model"]:
                rest.update(days)
        others_per_day["model"] = dict(rest)
        top_members = [share.key for share in by_member if share.cost_micros][:top]
        per_day["member"] = {key: {} for key in top_members}
        for day, key, micros in self.cursor(
            f"created_at / {MS_PER_DAY}, CASE WHEN user_id IN ({', '.join('?' * len(top_members)) or 'NULL'})"
            " THEN user_id END, SUM(cost_micros)",
            "AND cost_micros > 0 GROUP BY 1, 2",
            [int(key) for key in top_members],
        ):
            (others_per_day["member"] if key is None else per_day["member"][str(key)])[_day(day)] = micros
        return SpendFigures(
            requests=sum(group[3] for group in groups),
            cost_micros=sum(group[4] for group in groups),
            charged_micros=sum(group[5] for group in groups),
            images_billed=sum(group[6] for group in settled),
            images_delivered=sum(group[7] for group in settled),
            statuses=dict(statuses),
            held_micros=sum(group[8] for group in groups if group[0] == "pending"),
            by_model=by_model,
            by_member=by_member,
            per_day=per_day,
            others_per_day=others_per_day,
        )

    def rows(self) -> Iterator[LedgerRow]:
        """The period's rows, oldest first, read a few hundred at a time: their ids from the index,
        then the rows by id (no sort of the whole period's rows, prompts and all)."""
        ids = self.cursor("id", "ORDER BY id")
        while batch := [row[0] for row in ids.fetchmany(_ROWS_AT_ONCE)]:
            rows = self.conn.cursor()
            rows.row_factory = None
            marks = ", ".join("?" * len(batch))
            for values in rows.execute(f"SELECT {COLUMNS} FROM requests WHERE id IN ({marks}) ORDER BY id", batch):  # noqa: S608
                created, settled = values[17], values[18]  # COLUMNS' order is LedgerRow's
                yield LedgerRow(*values[:17], from_epoch_ms(created),  # type: ignore[misc]
                                None if settled is None else from_epoch_ms(settled), *values[19:])


def _spend(conn: sqlite3.Connection, period: tuple, top: int, export: Callable[[Iterator[LedgerRow]], T]
           ) -> tuple[SpendFigures, T]:
    reader = _Period(conn, *period)
    return reader.figures(top), export(reader.rows())


def _spend_read_only(path: str, period: tuple, top: int, export: Callable[[Iterator[LedgerRow]], T]
                     ) -> tuple[SpendFigures, T]:
    """Worker thread: `_spend` in one read transaction on a read-only connection to ``path``."""
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, timeout=5.0)
    try:
        conn.execute("BEGIN")  # one snapshot for the figures and the rows
        try:
            return _spend(conn, period, top, export)
        finally:
            conn.execute("COMMIT")
    finally:
        conn.close()


class ReportQueries:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def spend(
        self,
        guild_id: int,
        start: datetime,
        end: datetime,
        *,
        user_id: int | None = None,
        top: int,
        export: Callable[[Iterator[LedgerRow]], T],
    ) -> tuple[SpendFigures, T]:
        """The figures of the server's (or one member's) rows created in ``[start, end)`` and
        ``export(rows)`` over the same rows, oldest first, from one snapshot, in a worker thread.
        ``export`` runs in that thread: it must consume the rows as they come (e.g. write them to
        a file), not keep them. ``top``: how many series per day the figures break out."""
        period = (guild_id, start, end, user_id)
        if self._db.path == ":memory:":  # no second connection sees it (tests): read on the bot's one
            return await self._db.run(lambda conn: _spend(conn, period, top, export), write=False)
        return await asyncio.to_thread(_spend_read_only, self._db.path, period, top, export)

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
