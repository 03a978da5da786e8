"""/quota as a server owner uses it: several roles, limits changed mid-request, what members are told."""

from __future__ import annotations

import asyncio

from tests.doubles.image_gateway_double import Fault
from tests.e2e.test_admin_quotas import PRICE, is_ephemeral, quota, server


async def start_slow(w, options, user=None, seconds=1.5):
    w.gateway.script(Fault.delay(seconds))
    inter = await w.discord.invoke_command("imagine", options, user=user or w.alice, guild=w.guild,
                                           channel=w.channel)
    await asyncio.sleep(0.5)  # admitted and reserved, waiting for the gateway
    return inter


async def test_several_roles_the_most_generous_wins_per_limit_and_zero_is_not_generous(tmp_path):
    async with server(tmp_path, default_daily_images=1, default_monthly_usd="0.10") as w:
        d = w.discord
        muted, artists, patrons = (d.add_role(w.guild, n) for n in ("Muted", "Artists", "Patrons"))
        d.add_member(w.guild, w.alice, roles=[muted, artists, patrons])
        await w.start_bot()
        await quota(w, "set", {"role": muted, "daily_images": 0, "monthly_usd": "0"})
        await quota(w, "set", {"role": artists, "daily_images": 2})  # no monthly
        await quota(w, "set", {"role": patrons, "monthly_usd": "1"})  # no daily
        shown = (await quota(w, "show", {"member": w.alice})).all_text()
        assert f"Daily images: 2 images a day (from: role <@&{artists.id}>" in shown, shown
        assert f"Monthly limit: $1.00 (from: role <@&{patrons.id}>" in shown, shown
        usage = (await w.run("usage", {})).all_text()
        assert "Images today: 0 of 2" in usage and "Spent this month: $0.00 of $1.00" in usage, usage
        assert len((await w.run("imagine", {"prompt": "a", "count": 2})).files()) == 2
        assert "daily limit of 2" in (await w.run("imagine", {"prompt": "b"})).all_text()


async def test_a_member_limit_of_zero_blocks_and_is_shown_as_such(tmp_path):
    async with server(tmp_path) as w:
        await w.start_bot()
        saved = await quota(w, "set", {"member": w.bob, "daily_images": 0})
        assert "0 images a day" in saved.all_text(), saved.all_text()
        refused = await w.run("imagine", {"prompt": "a"}, user=w.bob)
        assert is_ephemeral(refused) and refused.files() == []
        assert "Your daily limit is 0 images" in refused.all_text(), refused.all_text()
        assert "Images today: 0 of 0" in (await w.run("usage", {}, user=w.bob)).all_text()


async def test_a_limit_of_zero_does_not_tell_the_member_it_resets(tmp_path):
    # 0 images a day refuses tomorrow too: waiting for the reset would not help.
    async with server(tmp_path) as w:
        await w.start_bot()
        await quota(w, "set", {"member": w.bob, "daily_images": 0})
        text = (await w.run("imagine", {"prompt": "a"}, user=w.bob)).all_text()
        assert "resets" not in text, text
        zh = await w.discord.invoke_command("imagine", {"prompt": "a"}, user=w.bob, guild=w.guild,
                                            channel=w.channel, locale="zh-CN")
        assert "重置" not in (await zh.wait_for_final()).all_text()


async def test_asking_for_more_than_a_whole_days_limit_is_not_called_reaching_it(tmp_path):
    # Limit 3 a day, nothing used, count 4: nothing was reached, and no day allows 4.
    async with server(tmp_path, default_daily_images=3) as w:
        await w.start_bot()
        text = (await w.run("imagine", {"prompt": "a", "count": 4})).all_text()
        assert "more than your daily limit of 3 allows on any day" in text, text
        assert "You have reached" not in text and "resets" not in text, text
        assert len((await w.run("imagine", {"prompt": "b", "count": 3})).files()) == 3  # not reached


async def test_result_shows_what_is_left_under_the_limit_changed_while_it_ran(tmp_path):
    # Alice may make 10 a day; while her image is being made, an admin lowers her to 2: what is
    # left is told under the new limit (1), as her next request of 2 finds.
    async with server(tmp_path, default_daily_images=10) as w:
        await w.start_bot()
        slow = await start_slow(w, {"prompt": "slow"})
        await quota(w, "set", {"member": w.alice, "daily_images": 2})
        await slow.wait_for_final(timeout=20, quiet=0.5)
        assert len(slow.files()) == 1
        text = slow.all_text()
        assert "Left for you: 1 image today" in text, text
        assert "daily limit of 2" in (await w.run("imagine", {"prompt": "b", "count": 2})).all_text()


async def test_result_money_left_under_a_monthly_limit_lowered_while_it_ran(tmp_path):
    async with server(tmp_path, default_monthly_usd="5") as w:
        await w.start_bot()
        slow = await start_slow(w, {"prompt": "slow"})
        await quota(w, "set", {"member": w.alice, "monthly_usd": "0.20"})
        await slow.wait_for_final(timeout=20, quiet=0.5)
        text = slow.all_text()
        assert "Left for you: $0.038 this month" in text, text


async def test_a_limit_lowered_mid_request_is_not_overshot_by_the_next_one(tmp_path):
    # The running request keeps its reservation; the next request sees the new limit counting
    # what is held, so the month never goes past it by more than what was already promised.
    async with server(tmp_path, default_monthly_usd="5") as w:
        await w.start_bot()
        slow = await start_slow(w, {"prompt": "slow", "count": 2})  # $0.324 held
        await quota(w, "set", {"member": w.alice, "monthly_usd": "0.40"})
        refused = await w.run("imagine", {"prompt": "more"})  # $0.324 + $0.162 > $0.40
        assert "monthly limit of $0.40" in refused.all_text(), refused.all_text()
        await slow.wait_for_final(timeout=20, quiet=0.5)
        rows = await w.ledger_rows()
        assert sum(r["charged_micros"] for r in rows) == 2 * PRICE
        assert [r["status"] for r in rows] == ["settled", "refused"]


async def test_quota_show_and_usage_agree_for_a_member_with_an_exempt_and_a_limited_role(tmp_path):
    async with server(tmp_path, default_daily_images=1) as w:
        vip, low = w.discord.add_role(w.guild, "VIP"), w.discord.add_role(w.guild, "Low")
        w.discord.add_member(w.guild, w.alice, roles=[vip, low])
        await w.start_bot()
        await quota(w, "set", {"role": low, "daily_images": 1, "monthly_usd": "0.01"})
        await quota(w, "exempt", {"role": vip})
        shown = (await quota(w, "show", {"member": w.alice})).all_text()
        assert f"Daily images: unlimited (from: role <@&{vip.id}> is exempt)" in shown, shown
        assert f"Monthly limit: unlimited (from: role <@&{vip.id}> is exempt)" in shown, shown
        usage = (await w.run("usage", {})).all_text()
        assert "Images today: 0 (no limit)" in usage and "(no limit)" in usage.split("\n")[2], usage
        assert len((await w.run("imagine", {"prompt": "a", "count": 4})).files()) == 4
        # exempt ended: the Low role's limits apply again
        ended = await quota(w, "exempt", {"role": vip, "exempt": False})
        assert "no longer exempt" in ended.all_text()
        assert "daily limit of 1" in (await w.run("imagine", {"prompt": "b"})).all_text()


async def test_quota_commands_in_chinese_read_as_chinese(tmp_path):
    async with server(tmp_path) as w:
        await w.start_bot()

        async def zh(sub, options):
            inter = await w.discord.invoke_command("quota", options, user=w.admin, guild=w.guild,
                                                   channel=w.channel, subcommand=sub, locale="zh-CN")
            return (await inter.wait_for_final()).all_text()

        saved = await zh("set", {"member": w.bob, "daily_images": 3, "monthly_usd": "12,50"})
        assert f"已保存 <@{w.bob.id}> 的配额：每天 3 张图片，每月 $12.50（之前：未设置）。" == saved, saved
        shown = await zh("show", {"member": w.bob})
        for english in ("image", "a month", "from:", "unlimited", "Daily", "Monthly", "Order"):
            assert english not in shown, (english, shown)
        bad = await zh("set", {"member": w.bob})
        assert "请设置每日图片配额" in bad, bad
