"""What a server owner relies on: the exact moment a cap is reached (the request that fits passes,
the one that would cross is refused), and, over a mixed history in two servers, the summary,
/usage, /history, /spend, /budget show and the gateway's own count all agreeing.
"""

from __future__ import annotations

from decimal import Decimal

from tests.doubles.image_gateway_double import Fault
from tests.e2e.books import assert_books_balanced
from tests.e2e.test_admin_quotas import budget, quota, server
from tests.e2e.test_reports import csv_rows
from tests.e2e.test_result_buttons import pick, press, result_message

PRICE = 162_000  # Seedream 4.0 on gogogotoken.com


async def test_daily_cap_the_request_that_fits_passes_the_one_that_would_cross_is_refused(tmp_path):
    async with server(tmp_path) as w:
        await w.start_bot()
        await quota(w, "set", {"member": w.alice, "daily_images": 4})
        first = await w.run("imagine", {"prompt": "a", "count": 3})
        assert len(first.files()) == 3 and "Left for you: 1 image today" in first.all_text()
        over = await w.run("imagine", {"prompt": "b", "count": 2})
        refused = over.all_text()
        assert "daily limit of 4 images (3 made or held for requests in progress, this asks for 2)" in refused, refused
        exact = await w.run("imagine", {"prompt": "c", "count": 1})  # 3 + 1 = 4: exactly the cap
        assert len(exact.files()) == 1 and "Left for you: 0 images today" in exact.all_text()
        again = await w.run("imagine", {"prompt": "d"})
        assert "daily limit of 4 images (4 made or held for requests in progress, this asks for 1)" in again.all_text()
        usage = (await w.run("usage", {})).all_text()
        assert "Images today: 4 of 4" in usage
        assert [r["status"] for r in await w.ledger_rows()] == ["settled", "refused", "settled", "refused"]


async def test_monthly_cap_and_budget_of_exactly_n_images(tmp_path):
    async with server(tmp_path) as w:
        await w.start_bot()
        await quota(w, "set", {"member": w.alice, "monthly_usd": "0.486"})  # exactly three images
        await budget(w, "set", {"amount": "0,81"})  # exactly five images (decimal comma)
        ok = await w.run("imagine", {"prompt": "a", "count": 3})
        assert len(ok.files()) == 3 and "$0.00 this month" in ok.all_text(), ok.all_text()
        refused = await w.run("imagine", {"prompt": "b"})
        assert "monthly limit of $0.486 ($0.486 spent or held" in refused.all_text(), refused.all_text()
        bob2 = await w.run("imagine", {"prompt": "c", "count": 2}, user=w.bob)  # 3 + 2 = 5: the budget exactly
        assert len(bob2.files()) == 2
        over = await w.run("imagine", {"prompt": "d"}, user=w.bob)
        assert "monthly image budget of $0.81 is used up ($0.81 spent" in over.all_text(), over.all_text()
        zh = await w.run("imagine", {"prompt": "e"}, user=w.bob, locale="zh-CN")
        assert "本服务器每月 $0.81 的图片预算已用完" in zh.all_text()
        shown = (await budget(w, "show", {})).all_text()
        assert "Spent this month: $0.81, left: $0.00" in shown
        await assert_books_balanced(w.storage)


async def test_a_mixed_history_agrees_everywhere_and_with_what_the_gateway_billed(tmp_path):
    async with server(tmp_path, image_max_retries=0) as w:
        mods = w.discord.add_channel(w.guild, "mods")
        other = w.discord.add_guild("Other server")
        other_channel = w.discord.add_channel(other, "img")
        w.discord.add_member(other, w.alice)
        await w.start_bot()
        await budget(w, "set", {"amount": "2", "warn_percent": 50, "warn_channel": mods})
        a = await w.run("imagine", {"prompt": "a cat", "count": 3})
        w.gateway.script(Fault.status(500))
        await w.run("imagine", {"prompt": "a dog"}, user=w.bob)  # nothing generated
        w.gateway.script(Fault.missing_file())
        await w.run("imagine", {"prompt": "lost"}, user=w.bob)  # billed, never delivered
        w.discord.fail_uploads(1, status=400)
        await w.run("imagine", {"prompt": "unposted"}, user=w.bob)  # billed, Discord refused it
        w.gateway.script(Fault.partial(failed=(1,)))
        await w.run("imagine", {"prompt": "half", "count": 2}, user=w.bob)  # one refused by the filter
        rows = await w.ledger_rows()
        asked = await press(w, result_message(a), "upscale", rows[0]["id"])
        await pick(w, asked.messages[-1], rows[0]["id"], 3)
        elsewhere = await w.discord.invoke_command("imagine", {"prompt": "far away", "count": 2}, user=w.alice,
                                                   guild=other, channel=other_channel)
        await elsewhere.wait_for_final(timeout=15)

        rows = await assert_books_balanced(w.storage)
        here = [r for r in rows if r["guild_id"] == w.guild.id]
        # The server paid exactly what the gateway billed (both servers share the gateway).
        assert sum(r["cost_micros"] for r in rows) == w.gateway.images_billed * PRICE
        cost = sum(r["cost_micros"] for r in here)
        charged = sum(r["charged_micros"] for r in here)
        assert (cost, charged) == (7 * PRICE, 5 * PRICE)  # 3 + lost 1 + unposted 1 + half 1 + upscale 1 billed

        report = await w.run("spend", {}, user=w.admin, timeout=30)
        text = report.all_text()
        assert f"Total spend: ${Decimal(cost) / 1_000_000} (charged to members for delivered images: " \
               f"${Decimal(charged) / 1_000_000})" in text, text
        lines = csv_rows(report)
        assert sum(Decimal(r["cost_usd"]) for r in lines) * 1_000_000 == cost
        assert {int(r["request_id"]) for r in lines} == {r["id"] for r in here}  # not the other server's
        shown = (await budget(w, "show", {})).all_text()
        assert "Spent this month: $1.134, left: $0.866" in shown
        assert "left: $0.866 of $2.00" in (await w.run("usage", {}, user=w.bob)).all_text().replace(
            "Server budget left this month: ", "left: ")
        bob_paid = sum(r["charged_micros"] for r in here if r["user_id"] == w.bob.id)
        bob_usage = (await w.run("usage", {}, user=w.bob)).all_text()
        assert f"Spent this month: ${Decimal(bob_paid) / 1_000_000}" in bob_usage
        [warning] = w.discord.channel_messages(mods)
        assert "of its monthly image budget of $2.00" in warning["content"]
