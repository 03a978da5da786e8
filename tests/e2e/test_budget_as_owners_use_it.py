"""/budget as a server owner uses it: spellings, $0, the refusals members see, zh-CN."""

from __future__ import annotations

import asyncio

from tests.doubles.image_gateway_double import Fault
from tests.e2e.test_admin_quotas import PRICE, budget, is_ephemeral, quota, server


async def budget_zh(w, sub, options):
    inter = await w.discord.invoke_command("budget", options, user=w.admin, guild=w.guild,
                                           channel=w.channel, subcommand=sub, locale="zh-CN")
    return await inter.wait_for_final()


async def test_every_documented_off_word_removes_the_budget(tmp_path):
    # README: `off` (or `none`, `clear`, `remove`, `关闭`, `无`, `取消`) removes the budget.
    async with server(tmp_path, guild_monthly_budget_usd="50") as w:
        await w.start_bot()
        for word in ("off", "OFF", " Off ", "none", "clear", "remove", "关闭", "无", "取消"):
            saved = await budget(w, "set", {"amount": "5"})
            assert "$5.00" in saved.all_text()
            removed = await budget(w, "set", {"amount": word})
            text = removed.all_text()
            assert "budget setting is removed" in text and "$50.00" in text, (word, text)
            assert is_ephemeral(removed)
            assert await w.storage.quotas.budget(w.guild.id) is None, word


async def test_chinese_off_as_the_bot_itself_words_it(tmp_path):
    # The bot's own Chinese for "off" is 关闭 (/设置 审核 offers 开启/关闭), 关 for short: an admin
    # typing either means off.
    async with server(tmp_path) as w:
        await w.start_bot()
        for word in ("关闭", "关"):
            await budget(w, "set", {"amount": "5"})
            removed = await budget_zh(w, "set", {"amount": word})
            text = removed.all_text()
            assert "不是有效的美元金额" not in text, text
            assert await w.storage.quotas.budget(w.guild.id) is None, word


async def test_amount_spellings_from_the_readme_and_the_descriptions(tmp_path):
    async with server(tmp_path) as w:
        await w.start_bot()
        for written, micros in (("$5", 5_000_000), ("5.00", 5_000_000), ("12.50", 12_500_000),
                                ("$1,000", 1_000_000_000), ("12,50", 12_500_000), ("0,162", 162_000),
                                ("100", 100_000_000), ("0", 0), (" $ 7 ", 7_000_000)):
            saved = await budget(w, "set", {"amount": written})
            assert "not a dollar amount" not in saved.all_text(), written
            assert (await w.storage.quotas.budget(w.guild.id)).monthly_micros == micros, written


async def test_full_width_amounts_typed_with_a_chinese_input_method(tmp_path):
    # "５" is read as 5; the same IME's "１２．５０" (full-width point) or "＄５" should be too.
    async with server(tmp_path) as w:
        await w.start_bot()
        saved = await budget_zh(w, "set", {"amount": "５"})
        assert (await w.storage.quotas.budget(w.guild.id)).monthly_micros == 5_000_000, saved.all_text()
        for written, micros in (("１２．５０", 12_500_000), ("＄５", 5_000_000)):
            saved = await budget_zh(w, "set", {"amount": written})
            assert "不是有效的美元金额" not in saved.all_text(), (written, saved.all_text())
            assert (await w.storage.quotas.budget(w.guild.id)).monthly_micros == micros, written


async def test_a_zero_budget_stops_all_spending_with_a_clear_refusal(tmp_path):
    async with server(tmp_path) as w:
        await w.start_bot()
        saved = await budget(w, "set", {"amount": "0"})
        assert "The server's monthly budget is now $0.00" in saved.all_text(), saved.all_text()
        refused = await w.run("imagine", {"prompt": "a cat"})
        text = refused.all_text()
        assert is_ephemeral(refused) and refused.files() == []
        assert "This server's monthly image budget is $0.00" in text, text
        assert "something went wrong" not in text.lower()
        rows = await w.ledger_rows()
        assert [r["status"] for r in rows] == ["refused"] and sum(r["cost_micros"] for r in rows) == 0
        # /usage agrees: nothing left.
        usage = (await w.run("usage", {})).all_text()
        assert "Server budget left this month: $0.00 of $0.00" in usage, usage


async def test_a_zero_budget_refusal_does_not_promise_it_resets(tmp_path):
    # A budget of $0 is a stop, not a month's allowance that runs out: "It resets in N days"
    # tells the member to wait for something that will not happen.
    async with server(tmp_path) as w:
        await w.start_bot()
        await budget(w, "set", {"amount": "0"})
        text = (await w.run("imagine", {"prompt": "a cat"})).all_text()
        assert "used up" not in text and "resets" not in text, text


async def test_budget_refusal_when_only_the_request_is_too_big_does_not_say_used_up(tmp_path):
    # $1.00 budget, $0.486 spent, 4 images ($0.648) asked for: $0.514 is left, not "used up".
    async with server(tmp_path) as w:
        await w.start_bot()
        await budget(w, "set", {"amount": "1"})
        await w.run("imagine", {"prompt": "a", "count": 3})  # $0.486
        refused = (await w.run("imagine", {"prompt": "b", "count": 4})).all_text()  # $0.648 > $0.514
        assert "This would take the server past its monthly image budget of $1.00" in refused, refused
        assert "used up" not in refused, refused
        # and indeed the budget was not used up: three more images still fit
        assert len((await w.run("imagine", {"prompt": "c", "count": 3})).files()) == 3


async def test_one_image_dearer_than_the_whole_budget_is_not_told_to_ask_for_fewer(tmp_path):
    # $0.10 budget, one image at $0.162: "Ask for fewer images" was said to a request for one.
    async with server(tmp_path) as w:
        await w.start_bot()
        await budget(w, "set", {"amount": "0.10"})
        refused = (await w.run("imagine", {"prompt": "a"})).all_text()
        assert refused.startswith("One image of this model costs $0.162, more than this server's whole monthly "
                                  "image budget of $0.10."), refused
        assert "fewer" not in refused, refused


async def test_exempt_role_does_not_bypass_the_server_budget(tmp_path):
    async with server(tmp_path) as w:
        vip = w.discord.add_role(w.guild, "VIP")
        w.discord.add_member(w.guild, w.alice, roles=[vip])
        await w.start_bot()
        await quota(w, "exempt", {"role": vip})
        await budget(w, "set", {"amount": "0.30"})
        assert len((await w.run("imagine", {"prompt": "a"})).files()) == 1
        refused = (await w.run("imagine", {"prompt": "b"})).all_text()
        assert "monthly image budget of $0.30" in refused, refused
        assert sum(r["cost_micros"] for r in await w.ledger_rows()) == PRICE


async def test_budget_show_during_a_request_in_progress_and_after(tmp_path):
    async with server(tmp_path, image_max_retries=0) as w:
        await w.start_bot()
        await budget(w, "set", {"amount": "2"})
        w.gateway.script(Fault.delay(1.5))
        slow = await w.discord.invoke_command("imagine", {"prompt": "slow", "count": 2}, user=w.bob,
                                              guild=w.guild, channel=w.channel)
        await asyncio.sleep(0.6)
        during = (await budget(w, "show", {})).all_text()
        assert "Spent this month: $0.324, left: $1.676" in during, during
        assert "Of which $0.324 is held" in during, during
        await slow.wait_for_final(timeout=20, quiet=0.5)
        after = (await budget(w, "show", {})).all_text()
        assert "Spent this month: $0.324, left: $1.676" in after, after
        assert "held" not in after, after


async def test_budget_lowered_below_spend_shows_nothing_left_and_refuses(tmp_path):
    async with server(tmp_path) as w:
        await w.start_bot()
        await w.run("imagine", {"prompt": "a", "count": 2})  # $0.324
        await budget(w, "set", {"amount": "0.20"})
        shown = (await budget(w, "show", {})).all_text()
        assert "Spent this month: $0.324, left: $0.00" in shown, shown
        usage = (await w.run("usage", {}, user=w.bob)).all_text()
        assert "Server budget left this month: $0.00 of $0.20" in usage, usage
        refused = await w.run("imagine", {"prompt": "b"}, user=w.bob)
        assert refused.files() == [] and "$0.20" in refused.all_text()


async def test_budget_show_in_chinese_has_no_english_left(tmp_path):
    async with server(tmp_path) as w:
        mods = w.discord.add_channel(w.guild, "mods")
        await w.start_bot()
        await budget(w, "set", {"amount": "10", "warn_percent": 50, "warn_channel": mods})
        await w.run("imagine", {"prompt": "a"})
        shown = (await budget_zh(w, "show", {})).all_text()
        for english in ("Spent", "left", "Server budget", "warning", "a month", "Recent"):
            assert english not in shown, (english, shown)
        assert "本月已花费：$0.162，剩余：$9.838" in shown, shown
        assert f"达到 50% 时，会在 <#{mods.id}> 发出预警" in shown, shown


async def test_a_budget_set_to_zero_stops_requests_still_waiting_in_line(tmp_path):
    # The owner sets the budget to $0 ("stop now") while Bob's request waits for a free slot
    # (nothing asked of the gateway yet): when its turn comes it is refused, privately, unbilled.
    async with server(tmp_path, max_concurrent_requests=1, image_max_retries=0) as w:
        await w.start_bot()
        await budget(w, "set", {"amount": "10"})
        w.gateway.script(Fault.delay(2.0))
        running = await w.discord.invoke_command("imagine", {"prompt": "running"}, user=w.alice,
                                                 guild=w.guild, channel=w.channel)
        await asyncio.sleep(0.4)
        waiting = await w.discord.invoke_command("imagine", {"prompt": "waiting", "count": 4}, user=w.bob,
                                                 guild=w.guild, channel=w.channel)
        await asyncio.sleep(0.4)
        assert len(w.gateway.generation_requests) == 1, "bob's request should still be waiting for its turn"
        await budget(w, "set", {"amount": "0"})
        await running.wait_for_final(timeout=20, quiet=0.5)
        await waiting.wait_for_final(timeout=20, quiet=0.5)
        rows = await w.ledger_rows()
        bob = [r for r in rows if r["user_id"] == w.bob.id]
        assert [(r["status"], r["error_code"], r["cost_micros"]) for r in bob] == [("released", "guild_budget", 0)]
        assert waiting.files() == [] and len(w.gateway.generation_requests) == 1
        text = waiting.all_text()
        assert "monthly image budget is $0.00" in text, text
        assert [m for m in waiting.messages if not m.get("flags", 0) & 64] == [], "told privately"


async def test_budget_warning_in_a_chinese_server_reads_as_chinese(tmp_path):
    async with server(tmp_path) as w:
        w.guild.preferred_locale = "zh-CN"
        mods = w.discord.add_channel(w.guild, "mods")
        await w.start_bot()
        await budget(w, "set", {"amount": "1", "warn_percent": 10, "warn_channel": mods})
        await w.run("imagine", {"prompt": "a"})
        [warning] = w.discord.channel_messages(mods)
        text = warning["content"]
        assert "已花费 $0.162，每月图片预算为 $1.00，已达到 10% 的预警线" in text, text
        assert " 年 " in text and "budget" not in text, text


async def test_exempt_false_on_a_role_that_never_was_exempt_says_so(tmp_path):
    # "/quota exempt role:Artists exempt:False" on a role with no exemption: the reply should not
    # claim a change ("is no longer exempt") that did not happen; the audit log records none.
    async with server(tmp_path) as w:
        artists = w.discord.add_role(w.guild, "Artists")
        await w.start_bot()
        reply = (await quota(w, "exempt", {"role": artists, "exempt": False})).all_text()
        assert await w.storage.audit.recent(w.guild.id) == []
        assert "no longer exempt" not in reply, reply
