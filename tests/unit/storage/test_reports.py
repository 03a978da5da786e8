"""A period's spend from SQL: the same figures as the rows summed in Python, the CSV export over
the same rows in the same snapshot, and the bot's own connection free (and the event loop idle)
while a big period is read."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.spend_report import MAX_SERIES, SpendReport, build_report
from storage import Storage, open_storage
from storage.models import epoch_ms
from storage.reports import SpendFigures
from storage.requests import LedgerRow

START = datetime(2026, 11, 1, tzinfo=UTC)
END = START + timedelta(days=30)
GUILD = 7
MODELS = [f"model-{i}" for i in range(9)]  # more than MAX_SERIES: some go to "the others"
INSERT = (
    "INSERT INTO requests (guild_id, channel_id, user_id, command, model, size, prompt, images_requested,"
    " images_billed, images_delivered, unit_price_micros, reserved_micros, cost_micros, charged_micros,"
    " status, error_code, created_at, settled_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def random_rows(count: int, seed: int = 3) -> list[tuple]:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        requested, price = rng.choice((1, 2, 4)), rng.choice((0, 1, 33_333, 162_000))
        status = rng.choice(("settled", "settled", "settled", "released", "refused", "pending"))
        billed = rng.randint(0, requested) if status == "settled" else None
        delivered = min(billed, rng.randint(0, requested)) if billed is not None else None
        guild = GUILD if rng.random() < 0.9 else GUILD + 1
        created = epoch_ms(START) + rng.randint(-86_400_000, 31 * 86_400_000)  # some outside the period
        rows.append((guild, 5, rng.choice((100, 101, 102, 103, 104, 105, 106, 107, 108)), "imagine",
                     rng.choice(MODELS), "2K", rng.choice(("a cat", "=1+1", "一只猫")), requested, billed, delivered,
                     price, price * requested, price * (billed or 0), price * (delivered or 0), status, None,
                     created, created + 1000 if status != "pending" else None))  # fmt: skip
    return rows


@pytest.fixture
async def filled(tmp_path: Path) -> AsyncIterator[Storage]:
    async with open_storage(f"sqlite:///{tmp_path / 'bot.db'}") as storage:
        await storage.db.run(lambda conn: conn.executemany(INSERT, random_rows(600)))
        yield storage


def figures_of(report: SpendFigures) -> dict:
    return {f.name: getattr(report, f.name) for f in fields(SpendFigures)}


def keep(rows: Iterator[LedgerRow]) -> list[LedgerRow]:
    return list(rows)


@pytest.mark.parametrize("user_id", [None, 103])
async def test_the_sql_figures_are_the_rows_summed_and_the_export_gets_those_rows(
    filled: Storage, user_id: int | None
) -> None:
    figures, rows = await filled.reports.spend(GUILD, START, END, user_id=user_id, top=MAX_SERIES, export=keep)
    everything = await filled.reports.latest(GUILD, limit=10_000)
    expected = sorted((r for r in everything if START <= r.created_at < END and user_id in (None, r.user_id)),
                      key=lambda r: r.id)  # fmt: skip
    assert rows == expected and len(rows) > 40
    assert figures_of(figures) == figures_of(build_report(rows, START, END))
    assert figures.cost_micros == sum(r.cost_micros for r in rows)  # to the micro-dollar
    report = SpendReport.of(figures, START, END)
    for by in ("model", "member"):
        per_day = sum(sum(days.values()) for days in report.daily(by).values()) + sum(report.others(by).values())
        assert per_day == figures.cost_micros  # the chart covers the same rows
        assert len(report.daily(by)) <= MAX_SERIES
    assert report.others("model")  # nine models: the smallest are stacked together


async def test_an_in_memory_database_gives_the_same_figures(filled: Storage, tmp_path: Path) -> None:
    async with open_storage("sqlite:///:memory:") as memory:
        await memory.db.run(lambda conn: conn.executemany(INSERT, random_rows(600)))
        in_memory = await memory.reports.spend(GUILD, START, END, top=MAX_SERIES, export=keep)
    assert in_memory == await filled.reports.spend(GUILD, START, END, top=MAX_SERIES, export=keep)


async def test_the_rows_are_read_off_the_event_loop_without_holding_the_bots_connection(filled: Storage) -> None:
    # What a reserve or a settle does on the bot's one connection, from inside the export: it
    # completes (the export holds no lock of the bot's), and neither it nor a row it added shows
    # in the report, which reads one snapshot.
    loop = asyncio.get_running_loop()
    seen: dict[str, object] = {}

    def export(rows: Iterator[LedgerRow]) -> int:
        seen["thread"] = threading.current_thread()
        first = next(rows)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(INSERT, (GUILD, 5, 100, "imagine", "model-0", "2K", "late", 1, 1, 1, 5, 5, 5, 5,
                                  "settled", None, epoch_ms(START) + 1, epoch_ms(START) + 2))
            conn.execute("UPDATE requests SET cost_micros = cost_micros + 1 WHERE id = ?", (first.id,))

        asyncio.run_coroutine_threadsafe(filled.db.run(write), loop).result(timeout=10)
        return 1 + sum(1 for _ in rows)

    figures, exported = await filled.reports.spend(GUILD, START, END, top=MAX_SERIES, export=export)
    assert seen["thread"] is not threading.main_thread()
    assert exported == figures.requests  # neither the late row nor the change is in either
    after, _ = await filled.reports.spend(GUILD, START, END, top=MAX_SERIES, export=keep)
    assert (after.requests, after.cost_micros) == (figures.requests + 1, figures.cost_micros + 5 + 1)
