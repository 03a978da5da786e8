"""/spend, its CSV and chart, /history and /usage as an owner and members read them."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from storage.reports import period_bounds
from tests.doubles.image_gateway_double import Fault
from tests.e2e.test_admin_quotas import PRICE, budget, is_ephemeral, quota, server
from tests.e2e.test_midnight import UNLIMITED, last_second_of_previous_month, record
from tests.e2e.test_reports import PNG_SIGNATURE, csv_rows, png_bytes, spend

MANAGE_MESSAGES = 1 << 13


async def zh(w, name, options, user=None, sub=None):
    inter = await w.discord.invoke_command(name, options, user=user or w.admin, guild=w.guild,
                                           channel=w.channel, subcommand=sub, locale="zh-CN")
    return await inter.wait_for_final(timeout=30)


async def test_images_made_but_not_delivered_cost_the_server_not_the_member_and_add_up(tmp_path):
    async with server(tmp_path, image_max_retries=0) as w:
        await w.start_bot()
        w.gateway.script(Fault.missing_file())  # billed, never downloaded
        lost = await w.run("imagine", {"prompt": "lost", "count": 2})
        assert lost.files() == []
        await w.run("imagine", {"prompt": "kept", "count": 3}, user=w.bob)
        rows = await w.ledger_rows()
        cost, charged = sum(r["cost_micros"] for r in rows), sum(r["charged_micros"] for r in rows)
        assert (cost, charged) == (5 * PRICE, 3 * PRICE), rows

        report = await spend(w, {})
        text = report.all_text()
        assert "Total spend: $0.81 (charged to members for delivered images: $0.486)" in text, text
        assert "Images billed: 5, delivered: 3" in text, text
        lines = csv_rows(report)
        assert sum(Decimal(r["cost_usd"]) for r in lines) == Decimal("0.81")
        assert sum(Decimal(r["charged_usd"]) for r in lines) == Decimal("0.486")
        assert png_bytes(report).startswith(PNG_SIGNATURE)

        # the member who got nothing was charged nothing and is told so by /usage
        usage = (await w.run("usage", {})).all_text()
        assert "Spent this month: $0.00" in usage, usage
        # /history shows the split to the moderator
        history = (await w.run("history", {}, user=w.admin)).all_text()
        assert "$0.324 (charged $0.00)" in history, history


async def test_history_and_spend_while_a_request_is_in_progress(tmp_path):
    async with server(tmp_path) as w:
        await w.start_bot()
        w.gateway.script(Fault.delay(2.0))
        slow = await w.discord.invoke_command("imagine", {"prompt": "slow", "count": 2}, user=w.alice,
                                              guild=w.guild, channel=w.channel)
        await asyncio.sleep(0.6)
        own = (await w.run("history", {})).all_text()
        assert "in progress" in own and "$0.324 held" in own, own
        usage = (await w.run("usage", {})).all_text()
        assert "Spent this month: $0.324" in usage and "Of which $0.324 is held" in usage, usage
        # the owner's total is what was spent; what is still being made is named beside it
        running = (await spend(w, {})).all_text()
        assert "Total spend: $0.00" in running, running
        assert "Still in progress: 1 request holding $0.324, in the total only once it ends." in running, running
        running_zh = (await zh(w, "spend", {})).all_text()
        assert "仍在进行：1 个请求，预留 $0.324" in running_zh, running_zh
        await slow.wait_for_final(timeout=20, quiet=0.5)
        own = (await w.run("history", {})).all_text()
        assert "delivered 2 of 2" in own and "held" not in own, own
        report = (await spend(w, {})).all_text()
        assert "Total spend: $0.324" in report and "in progress" not in report, report


async def test_history_names_the_limit_that_refused_in_both_languages(tmp_path):
    async with server(tmp_path, default_daily_images=1) as w:
        await w.start_bot()
        await budget(w, "set", {"amount": "0.20"})
        await quota(w, "set", {"member": w.bob, "monthly_usd": "0.10"})
        await w.run("imagine", {"prompt": "first"})
        await w.run("imagine", {"prompt": "over the day"})  # daily limit
        await w.run("imagine", {"prompt": "over the month"}, user=w.bob)  # monthly limit
        await quota(w, "set", {"member": w.bob, "clear": "monthly_usd"})
        await w.run("imagine", {"prompt": "over the budget"}, user=w.bob)  # $0.162 + $0.162 > $0.20
        text = (await w.run("history", {}, user=w.admin)).all_text()
        assert "refused (daily image limit)" in text, text
        assert "refused (monthly limit)" in text, text
        assert "refused (server budget)" in text, text
        assert "the service failed" not in text, text
        chinese = (await zh(w, "history", {})).all_text()
        assert "已拒绝（每日图片额度）" in chinese and "已拒绝（服务器预算）" in chinese, chinese
        report = (await spend(w, {})).all_text()
        assert "Requests: 4 (3 refused before anything was spent, 0 with nothing generated)" in report, report


async def test_members_history_is_their_own_and_a_member_cannot_read_anothers(tmp_path):
    async with server(tmp_path) as w:
        await w.start_bot()
        await w.run("imagine", {"prompt": "alice cat"})
        await w.run("imagine", {"prompt": "bob dog"}, user=w.bob)
        own = await w.run("history", {}, user=w.bob)
        assert is_ephemeral(own)
        assert "bob dog" in own.all_text() and "alice cat" not in own.all_text()
        also_own = await w.run("history", {"member": w.bob}, user=w.bob)
        assert "bob dog" in also_own.all_text()
        other = await w.run("history", {"member": w.alice}, user=w.bob)
        assert "alice cat" not in other.all_text()
        assert "only your own requests" in other.all_text(), other.all_text()


async def test_spend_report_in_chinese(tmp_path):
    async with server(tmp_path) as w:
        await w.start_bot()
        await w.run("imagine", {"prompt": "猫", "count": 2})
        report = await zh(w, "spend", {"period": "week", "chart_by": "member"})
        text = report.all_text()
        assert "最近 7 天的花费" in text and "总花费：$0.324" in text, text
        assert "计费图片：2 张，已送达：2 张" in text, text
        for english in ("Spend", "Total", "Images", "Requests", "Per model", "Top members", "refused"):
            assert english not in text, (english, text)
        rows = csv_rows(report)
        assert rows[0]["prompt"] == "猫" and rows[0]["cost_usd"] == "0.324000"


async def test_spend_of_a_member_with_nothing_this_week_but_spend_earlier(tmp_path):
    # The report of one member covers only that member: someone else's spend is not counted.
    async with server(tmp_path) as w:
        await w.start_bot()
        await w.run("imagine", {"prompt": "a", "count": 3})
        report = await spend(w, {"period": "day", "member": w.bob})
        assert "Nothing was requested in this period." in report.all_text()
        assert "$0.486" not in report.all_text()
        mine = await spend(w, {"period": "day", "member": w.alice})
        assert "Total spend: $0.486" in mine.all_text()
        assert "Top members" not in mine.all_text()


async def test_usage_in_chinese_with_limits_and_a_budget(tmp_path):
    async with server(tmp_path, default_daily_images=5, default_monthly_usd="2") as w:
        await w.start_bot()
        await budget(w, "set", {"amount": "10"})
        await w.run("imagine", {"prompt": "a", "count": 2})
        text = (await zh(w, "usage", {}, user=w.alice)).all_text()
        assert "今日图片：2 / 5" in text, text
        assert "本月花费：$0.324 / $2.00" in text, text
        assert "本服务器本月预算剩余：$9.676 / $10.00" in text, text


async def test_last_months_request_is_in_the_week_but_not_in_this_months_spend_or_budget(tmp_path):
    async with server(tmp_path) as w:
        await w.start_bot()
        await budget(w, "set", {"amount": "1"})
        rid = await w.storage.ledger.reserve(record(w, w.bob, images=2), limits=UNLIMITED,
                                             now=last_second_of_previous_month())
        await w.storage.ledger.settle(rid, billed=2, delivered=2)
        await w.run("imagine", {"prompt": "this month"})
        month = (await spend(w, {"period": "month"})).all_text()
        assert "Total spend: $0.162" in month, month
        shown = (await budget(w, "show", {})).all_text()
        assert "Spent this month: $0.162, left: $0.838" in shown, shown
        in_week = last_second_of_previous_month() >= period_bounds("week")[0]
        week = await spend(w, {"period": "week"})
        total = "$0.486" if in_week else "$0.162"
        assert f"Total spend: {total}" in week.all_text(), week.all_text()
        assert len(csv_rows(week)) == (2 if in_week else 1)
