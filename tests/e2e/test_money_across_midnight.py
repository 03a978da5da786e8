"""Requests reserved before UTC midnight or a month's end and settled
after; the budget warning from one month to the next. Clock control as in test_midnight.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.models import next_utc_month, utc_now
from tests.e2e.test_admin_quotas import budget, server
from tests.e2e.test_midnight import ReserveAt, last_second_of_yesterday
from tests.e2e.test_reports import csv_rows, spend


def first_second_of_next_month() -> datetime:
    return next_utc_month(utc_now()) + timedelta(seconds=1)


async def test_budget_warning_comes_again_in_the_next_month(tmp_path):
    # Budget $1, warning at 30%: this month's warning once; a request counted in the next
    # month (reserved at its first second) that reaches 30% there gets that month's own warning,
    # said as that month's; a later settle in this month posts nothing more.
    async with server(tmp_path) as w:
        mods = w.discord.add_channel(w.guild, "mods")
        await w.start_bot()
        await budget(w, "set", {"amount": "1", "warn_percent": 30, "warn_channel": mods})
        await w.run("imagine", {"prompt": "a", "count": 2})  # $0.324: 32.4%
        [first] = w.discord.channel_messages(mods)
        assert f"in {utc_now():%Y-%m} (UTC)" in first["content"], first["content"]
        w.storage.ledger._clock = ReserveAt(first_second_of_next_month())
        await w.run("imagine", {"prompt": "next month", "count": 2})
        w.storage.ledger._clock = utc_now
        await w.run("imagine", {"prompt": "this month again"})
        warnings = [m["content"] for m in w.discord.channel_messages(mods)]
        assert len(warnings) == 2, warnings
        assert f"in {first_second_of_next_month():%Y-%m} (UTC)" in warnings[1], warnings
        assert "$0.324 of its monthly image budget of $1.00" in warnings[1], warnings


async def test_a_request_across_midnight_counts_yesterday_everywhere(tmp_path):
    # Reserved at 23:59:59 yesterday (same month), settled today: /spend day and the
    # daily count leave it out, /spend month, /usage's month and /budget show count it, and the
    # CSV's row says yesterday.
    yesterday = last_second_of_yesterday()
    if yesterday.month != utc_now().month:
        pytest.skip("today is the 1st: test_midnight covers the month's end")
    async with server(tmp_path, default_daily_images=5) as w:
        await w.start_bot()
        await budget(w, "set", {"amount": "10"})
        w.storage.ledger._clock = ReserveAt(yesterday)
        late = await w.run("imagine", {"prompt": "late", "count": 2})
        assert "Left for you: 5 images today" in late.all_text(), late.all_text()
        await w.run("imagine", {"prompt": "today"})
        usage = (await w.run("usage", {})).all_text()
        assert "Images today: 1 of 5" in usage and "Spent this month: $0.486" in usage, usage
        shown = (await budget(w, "show", {})).all_text()
        assert "Spent this month: $0.486, left: $9.514" in shown, shown
        day = await spend(w, {"period": "day"})
        assert "Total spend: $0.162" in day.all_text(), day.all_text()
        assert [r["prompt"] for r in csv_rows(day)] == ["today"]
        month = await spend(w, {"period": "month"})
        assert "Total spend: $0.486" in month.all_text(), month.all_text()
        [late_row] = [r for r in csv_rows(month) if r["prompt"] == "late"]
        assert late_row["created_at_utc"].startswith(f"{yesterday:%Y-%m-%d}"), late_row
        assert late_row["settled_at_utc"].startswith(f"{utc_now():%Y-%m-%d}"), late_row


async def test_history_dates_a_late_request_when_it_was_asked(tmp_path):
    # /history's time is the reservation's (the day its quota counts in).
    async with server(tmp_path) as w:
        await w.start_bot()
        moment = last_second_of_yesterday()
        w.storage.ledger._clock = ReserveAt(moment)
        await w.run("imagine", {"prompt": "late"})
        text = (await w.run("history", {})).all_text()
        assert f"<t:{int(moment.replace(tzinfo=UTC).timestamp())}:f>" in text, text
