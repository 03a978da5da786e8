"""Requests that straddle a UTC day or month boundary, through the real bot.

The ledger counts a request in the UTC day / month of its reservation (`created_at`), also when it
settles after midnight. These tests reserve a request in the last second of the previous day or
month (the ledger's injectable clock answers that for the reservation only; everything after it,
settle included, runs on the real clock), and look at what members and admins are then told.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.models import Limits, RequestRecord, utc_now
from tests.doubles.image_gateway_double import Fault
from tests.e2e.test_admin_quotas import PRICE, budget, server

UNLIMITED = Limits(None, None, None)


def last_second_of_previous_month() -> datetime:
    now = utc_now()
    return datetime(now.year, now.month, 1, tzinfo=UTC) - timedelta(seconds=1)


def last_second_of_yesterday() -> datetime:
    now = utc_now()
    return datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(seconds=1)


class ReserveAt:
    """A ledger clock: `moment` for its first reading (the reservation), the real time afterwards."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment
        self.used = False

    def __call__(self) -> datetime:
        if self.used:
            return utc_now()
        self.used = True
        return self.moment


def record(w, user, images: int = 1) -> RequestRecord:
    return RequestRecord(w.guild.id, w.channel.id, user.id, "imagine", "doubao-seedream-4-0-250828", "2K",
                         "in flight at midnight", images, PRICE)


async def test_usage_does_not_call_last_months_reservation_part_of_this_months_spend(tmp_path):
    # A request reserved at 23:59:59 on the last day of last month is still running after
    # midnight. The monthly limit rightly does not count it this month ("Spent this month: $0.00"),
    # yet /usage goes on: "Of which $0.162 is held for requests in progress" - held out of $0.00.
    async with server(tmp_path, default_monthly_usd="5") as w:
        await w.start_bot()
        await w.storage.ledger.reserve(record(w, w.alice), limits=UNLIMITED, now=last_second_of_previous_month())
        en = (await w.run("usage", {})).all_text()
        assert "Spent this month: $0.00 of $5.00" in en
        assert "held for requests in progress" not in en, en
        zh = (await w.run("usage", {}, locale="zh-CN")).all_text()
        assert "进行中请求的预留" not in zh, zh


async def test_summary_after_midnight_counts_images_left_today_from_today(tmp_path):
    # Alice has made 3 images today (limit 10). A request of hers reserved at 23:59:59 yesterday
    # (4 images, counted yesterday) delivers 1 image after midnight. Her images today are still 3,
    # so 7 are left; the summary posted with that image says 10.
    async with server(tmp_path, default_daily_images=10) as w:
        await w.start_bot()
        await w.run("imagine", {"prompt": "today", "count": 3})
        w.storage.ledger._clock = ReserveAt(last_second_of_yesterday())
        w.gateway.script(Fault.partial(failed=(1, 2, 3)))
        inter = await w.run("imagine", {"prompt": "across midnight", "count": 4})
        rows = await w.ledger_rows()
        assert rows[-1]["images_delivered"] == 1
        assert rows[-1]["created_at"] // 86_400_000 < rows[-1]["settled_at"] // 86_400_000  # yesterday -> today
        snap = await w.storage.ledger.usage(w.guild.id, w.alice.id)
        assert snap.images_today == 3  # the ledger agrees: 7 left today
        text = inter.all_text()
        assert "7 images today" in text, text


async def test_budget_warning_for_a_month_crossed_by_a_request_settled_after_midnight(tmp_path):
    # Budget $1, warning at 50%. Last month $0.486 was spent (48.6%). A request reserved at
    # 23:59:59 on its last day settles after midnight: last month's settled spend is now $0.648
    # (64.8%), past the share - and no warning is ever posted for that month (the check after the
    # settle looks at this month's spend, $0).
    async with server(tmp_path) as w:
        mods = w.discord.add_channel(w.guild, "mods")
        await w.start_bot()
        await budget(w, "set", {"amount": "1", "warn_percent": 50, "warn_channel": mods})
        earlier = last_second_of_previous_month() - timedelta(hours=1)
        rid = await w.storage.ledger.reserve(record(w, w.bob, images=3), limits=UNLIMITED, now=earlier)
        await w.storage.ledger.settle(rid, billed=3, delivered=3)
        w.storage.ledger._clock = ReserveAt(last_second_of_previous_month())
        await w.run("imagine", {"prompt": "across the month's end"})
        rows = await w.ledger_rows()
        assert rows[-1]["status"] == "settled" and rows[-1]["cost_micros"] == PRICE
        [warning] = w.discord.channel_messages(mods)  # said as last month's, which it is
        assert f"in {last_second_of_previous_month():%Y-%m} (UTC)" in warning["content"], warning["content"]


async def test_refusals_name_the_next_utc_midnight_and_month_in_both_languages(tmp_path):
    # Checked correct: the reset moment of each refusal, English and Chinese.
    from storage.models import next_utc_midnight, next_utc_month  # noqa: PLC0415

    async with server(tmp_path, default_daily_images=1, default_monthly_usd="0.2") as w:
        await w.start_bot()
        await w.run("imagine", {"prompt": "one"})
        midnight = int(next_utc_midnight(utc_now()).timestamp())
        en = (await w.run("imagine", {"prompt": "two"})).all_text()
        assert f"It resets <t:{midnight}:R>." in en, en
        zh = (await w.run("imagine", {"prompt": "two"}, locale="zh-CN")).all_text()
        assert f"<t:{midnight}:R>重置" in zh, zh
    async with server(tmp_path / "m", default_monthly_usd="0.2") as w:
        await w.start_bot()
        await w.run("imagine", {"prompt": "one"})  # $0.162 of $0.20: not enough left for one more
        month = int(next_utc_month(utc_now()).timestamp())
        en = (await w.run("imagine", {"prompt": "two"})).all_text()
        assert "You have reached your monthly limit of $0.20" in en and f"It resets <t:{month}:R>." in en, en
        zh = (await w.run("imagine", {"prompt": "two"}, locale="zh-CN")).all_text()
        assert f"<t:{month}:R>重置" in zh, zh
