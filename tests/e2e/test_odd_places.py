"""Members using the bot where and when a busy server does: threads, two
servers at once, a double click, the bot removed from the server mid-request, a zh-CN member in
an English server and the other way round."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.books import assert_books_balanced
from tests.e2e.harness import world
from tests.e2e.staff import add_staff, eventually
from tests.e2e.test_approval import button

PRICE = 162_000  # Seedream 4.0 on gogogotoken.com, per image
QUOTAS = {"default_daily_images": 20, "default_monthly_usd": "5", "guild_monthly_budget_usd": "10"}


def bug_lines(w) -> list[str]:
    return [line for line in w.logs.lines
            if "failed unexpectedly" in line or "Traceback" in line or line.startswith("ERROR")]


async def rows_closed(w, count: int, timeout: float = 30.0) -> list[dict]:
    async with asyncio.timeout(timeout):
        while True:
            rows = await w.ledger_rows()
            if len(rows) >= count and all(r["status"] != "pending" for r in rows):
                return rows
            await asyncio.sleep(0.05)


async def test_a_double_click_on_imagine_is_two_requests_each_charged_exactly(tmp_path):
    # Two identical /imagine 50 ms apart (a member double-pressing Enter): two commands, each
    # answered with its own image and charged once; /usage adds them up exactly.
    async with world(tmp_path, gateway={"latency": 0.3}, **QUOTAS) as w:
        first = await w.discord.invoke_command("imagine", {"prompt": "a red fox"}, user=w.alice,
                                               guild=w.guild, channel=w.channel)
        await asyncio.sleep(0.05)
        second = await w.discord.invoke_command("imagine", {"prompt": "a red fox"}, user=w.alice,
                                                guild=w.guild, channel=w.channel)
        await first.wait_for_final(timeout=20)
        await second.wait_for_final(timeout=20)
        assert (len(first.files()), len(second.files())) == (1, 1), (first.all_text(), second.all_text())
        rows = await rows_closed(w, 2)
        assert [(r["status"], r["charged_micros"], r["images_delivered"]) for r in rows] == [
            ("settled", PRICE, 1), ("settled", PRICE, 1)]
        usage = await w.run("usage")
        text = usage.all_text()
        assert "Images today: 2 of 20" in text, text
        assert "$0.324" in text, text
        await assert_books_balanced(w.storage)
        assert bug_lines(w) == []


async def test_one_member_in_two_servers_at_once_is_charged_in_each_server_only_its_own(tmp_path):
    async with world(tmp_path, start=False, gateway={"latency": 0.3}, **QUOTAS) as w:
        other = w.discord.add_guild("Other Server")
        other_channel = w.discord.add_channel(other, "art")
        w.discord.add_member(other, w.alice)
        await w.start_bot()
        here = await w.discord.invoke_command("imagine", {"prompt": "a red fox", "count": 2}, user=w.alice,
                                              guild=w.guild, channel=w.channel)
        there = await w.discord.invoke_command("imagine", {"prompt": "a blue whale"}, user=w.alice,
                                               guild=other, channel=other_channel)
        await here.wait_for_final(timeout=20)
        await there.wait_for_final(timeout=20)
        assert (len(here.files()), len(there.files())) == (2, 1)
        # each reply says what is left in its own server
        assert "18 images today" in here.all_text(), here.all_text()
        assert "19 images today" in there.all_text(), there.all_text()
        rows = await rows_closed(w, 2)
        by_guild = {r["guild_id"]: r for r in rows}
        assert by_guild[w.guild.id]["charged_micros"] == 2 * PRICE
        assert by_guild[other.id]["charged_micros"] == PRICE
        assert by_guild[other.id]["channel_id"] == other_channel.id
        there_usage = await w.discord.invoke_command("usage", {}, user=w.alice, guild=other, channel=other_channel)
        text = (await there_usage.wait_for_final(timeout=10)).all_text()
        assert "Images today: 1 of 20" in text and "$0.162" in text, text
        await assert_books_balanced(w.storage)


async def test_imagine_in_a_thread_answers_in_the_thread_and_records_it(tmp_path):
    async with world(tmp_path, start=False, **QUOTAS) as w:
        thread = w.discord.add_thread(w.channel, "ideas")
        await w.start_bot()
        inter = await w.run("imagine", {"prompt": "a red fox"}, channel=thread)
        assert len(inter.files()) == 1, inter.all_text()
        [row] = await rows_closed(w, 1)
        assert row["channel_id"] == thread.id
        assert (row["status"], row["charged_micros"]) == ("settled", PRICE)


async def test_results_in_a_thread_after_the_defer_was_refused_go_to_the_thread(tmp_path):
    # Discord refuses the acknowledgement: the results go to the channel the member asked in,
    # here a thread, mentioning them (README: "in the channel mentioning the member when that
    # reply is gone ... or Discord refused the acknowledgement").
    async with world(tmp_path, start=False, gateway={"latency": 0.3}, **QUOTAS) as w:
        thread = w.discord.add_thread(w.channel, "ideas")
        await w.start_bot()
        w.discord.fail_next(1, status=404, method="POST", path="/callback$",
                            body={"code": 10062, "message": "Unknown interaction"})  # came after the 3 s
        await w.discord.invoke_command("imagine", {"prompt": "a red fox"}, user=w.alice, guild=w.guild,
                                       channel=thread)
        [row] = await rows_closed(w, 1, timeout=60)
        await asyncio.sleep(0.5)
        posted = [m for m in w.discord.channel_messages(thread) if m.get("attachments")]
        assert len(posted) == 1 and posted[0]["content"].startswith(f"<@{w.alice.id}>"), posted
        assert not [m for m in w.discord.channel_messages(w.channel) if m.get("attachments")]
        assert (row["status"], row["charged_micros"]) == ("settled", PRICE)
        assert posted[0]["mentions"] and [u["id"] for u in posted[0]["mentions"]] == [str(w.alice.id)]


async def _waiting_in(w, channel=None):
    """Bob's request runs (in the main channel); Alice's waits behind it in `channel` (the main
    one by default). Both interactions, running first."""
    running = await w.discord.invoke_command("imagine", {"prompt": "a running fox"}, user=w.bob,
                                             guild=w.guild, channel=w.channel)
    async with asyncio.timeout(10):
        while not w.gateway.generation_requests:
            await asyncio.sleep(0.02)
    waiting = await w.discord.invoke_command("imagine", {"prompt": "a waiting fox"}, user=w.alice,
                                             guild=w.guild, channel=channel or w.channel)
    await waiting.wait_for_ack(10)
    await asyncio.sleep(0.2)
    return running, waiting


async def test_the_bot_removed_from_the_server_while_a_request_waits_in_line(tmp_path):
    # The server removes the bot (GUILD_DELETE without "unavailable") while Alice's request
    # waits behind Bob's, both with live replies. Nothing is left pending, the bot logs no bug, and
    # what is charged matches what reached someone.
    async with world(tmp_path, gateway={"latency": 1.0}, max_concurrent_requests=1, **QUOTAS) as w:
        running, waiting = await _waiting_in(w)
        await w.discord.dispatch("GUILD_DELETE", {"id": str(w.guild.id)})
        rows = await rows_closed(w, 2, timeout=30)
        await asyncio.sleep(0.5)
        await waiting.wait_for_final(timeout=10)
        await running.wait_for_final(timeout=10)
        # Both replies are interaction webhooks, which do not need the bot in the server: each
        # member got what was made, and was charged for exactly that.
        for inter, row in ((running, rows[0]), (waiting, rows[1])):
            assert row["images_delivered"] == len(inter.files()), (row, inter.kinds())
            assert row["charged_micros"] == PRICE * row["images_delivered"]
        await assert_books_balanced(w.storage)
        assert bug_lines(w) == []


async def test_the_channel_deleted_while_a_request_runs_with_its_reply_live_charges_the_member_nothing(tmp_path):
    # The reply ("thinking...") is live and the channel is deleted while the gateway works: the
    # reply goes with the channel (edits answer 404 Unknown Message), nothing can be posted. The
    # server's spend records what the gateway billed; the member pays nothing; no bug is logged.
    async with world(tmp_path, gateway={"latency": 1.0}, **QUOTAS) as w:
        other = w.discord.add_channel(w.guild, "other")
        inter = await w.discord.invoke_command("imagine", {"prompt": "a cat", "count": 2}, user=w.alice,
                                               guild=w.guild, channel=other)
        await inter.wait_for_ack(10)
        async with asyncio.timeout(10):
            while not w.gateway.generation_requests:
                await asyncio.sleep(0.02)
        inter.original.deleted = True
        await w.discord.delete_channel(other)
        [row] = await rows_closed(w, 1)
        await asyncio.sleep(0.5)
        assert row["charged_micros"] == 0 and row["images_delivered"] == 0, row
        assert row["cost_micros"] in (0, 2 * PRICE)
        await assert_books_balanced(w.storage)
        assert bug_lines(w) == []
        usage = await w.run("usage")
        assert "Images today: 0 of 20" in usage.all_text(), usage.all_text()


async def test_a_server_outage_guild_delete_unavailable_does_not_lose_a_waiting_request(tmp_path):
    # GUILD_DELETE with "unavailable": true is Discord's outage, not a removal: the waiting request
    # still runs and is delivered in its reply, charged once.
    async with world(tmp_path, gateway={"latency": 0.8}, max_concurrent_requests=1, **QUOTAS) as w:
        _, waiting = await _waiting_in(w)
        await w.discord.dispatch("GUILD_DELETE", {"id": str(w.guild.id), "unavailable": True})
        rows = await rows_closed(w, 2)
        await waiting.wait_for_final(timeout=20)
        assert len(waiting.files()) == 1, waiting.all_text()
        assert [(r["status"], r["charged_micros"]) for r in rows] == [("settled", PRICE)] * 2
        await assert_books_balanced(w.storage)
        assert bug_lines(w) == []


async def test_the_bot_removed_from_the_server_while_a_request_with_an_expired_reply_waits(tmp_path):
    # Alice's reply token expires while she waits in line (her results would go to the channel);
    # then the server removes the bot (GUILD_DELETE, and Discord answers 403 Missing Access for its
    # channels from then on). README: "A request whose turn comes when neither way is open (its
    # reply expired while it waited, and the bot may not post in the channel) is withdrawn
    # unbilled rather than made for nobody."
    async with world(tmp_path, discord={"token_ttl": 0.5}, gateway={"latency": 1.5},
                     max_concurrent_requests=1, **QUOTAS) as w:
        await _waiting_in(w)
        await asyncio.sleep(0.4)  # her token has expired
        # removed: every later request for the server's channels is refused
        w.discord.fail_next(100, status=403, path=f"^/channels/{w.channel.id}/",
                            body={"code": 50001, "message": "Missing Access"})
        await w.discord.dispatch("GUILD_DELETE", {"id": str(w.guild.id)})
        rows = await rows_closed(w, 2)
        await asyncio.sleep(0.5)
        mine = next(r for r in rows if r["user_id"] == w.alice.id)
        asked = [r.json["prompt"] for r in w.gateway.generation_requests]
        assert "a waiting fox" not in asked and mine["cost_micros"] == 0, (asked, mine)
        await assert_books_balanced(w.storage)
        assert bug_lines(w) == []


async def test_an_approved_request_waiting_in_line_when_the_bot_is_removed_from_the_server_is_not_made(tmp_path):
    # Approval mode: an approved request's results always go to the channel, as the bot. It waits
    # behind another; the server removes the bot (GUILD_DELETE; Discord answers 403 Missing Access
    # for the server's channels from then on). README (Moderation): the bot checks it can post
    # "again when the approved request's turn comes (nothing is made for nobody ...)": the gateway
    # is not asked, and the server's budget pays for no images no one could see.
    async with world(tmp_path, start=False, gateway={"latency": 1.5}, max_concurrent_requests=1, **QUOTAS) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin,
                    subcommand="approval")
        await w.run("imagine", {"prompt": "a running fox"}, user=w.bob)
        await w.run("imagine", {"prompt": "a waiting fox"})
        first, second = w.discord.channel_messages(staff.mods_channel)
        await w.discord.click_button(first, button(first, "approve"), user=staff.moderator)
        async with asyncio.timeout(10):
            while not w.gateway.generation_requests:
                await asyncio.sleep(0.02)
        pressed = await w.discord.click_button(second, button(second, "approve"), user=staff.moderator)
        await pressed.wait_for_final(timeout=10)
        await eventually(lambda: len(w.discord.channel_messages(w.channel)) >= 1)  # her place in line
        w.discord.fail_next(100, status=403, path=r"^/channels/\d+/messages",
                            body={"code": 50001, "message": "Missing Access"})
        await w.discord.dispatch("GUILD_DELETE", {"id": str(w.guild.id)})
        rows = await rows_closed(w, 2)
        await asyncio.sleep(0.5)
        asked = [r.json["prompt"] for r in w.gateway.generation_requests]
        mine = next(r for r in rows if r["user_id"] == w.alice.id)
        assert "a waiting fox" not in asked and mine["cost_micros"] == 0, (asked, mine["status"], mine["cost_micros"])
        await assert_books_balanced(w.storage)


@pytest.mark.parametrize("deleted", ["thread", "its channel"])
async def test_a_request_waiting_in_a_deleted_thread_leaves_the_line_unbilled(tmp_path, deleted):
    # The thread deleted (THREAD_DELETE), or its channel (Discord sends CHANNEL_DELETE for the
    # parent only; its threads go with it).
    async with world(tmp_path, start=False, gateway={"latency": 1.0}, max_concurrent_requests=1, **QUOTAS) as w:
        parent = w.discord.add_channel(w.guild, "forum-ish")
        thread = w.discord.add_thread(parent, "ideas")
        await w.start_bot()
        await _waiting_in(w, thread)
        w.discord.channels.pop(thread.id)
        w.guild.threads.pop(thread.id)
        if deleted == "thread":
            await w.discord.dispatch("THREAD_DELETE", {"id": str(thread.id), "guild_id": str(w.guild.id),
                                                       "parent_id": str(parent.id), "type": 11})
        else:
            await w.discord.delete_channel(parent)
        rows = await rows_closed(w, 2)
        await asyncio.sleep(0.5)
        assert [r.json["prompt"] for r in w.gateway.generation_requests] == ["a running fox"]
        mine = next(r for r in rows if r["user_id"] == w.alice.id)
        assert (mine["status"], mine["error_code"], mine["cost_micros"]) == ("released", "channel_gone", 0)
        await assert_books_balanced(w.storage)


async def test_a_chinese_member_in_an_english_server_and_an_english_member_in_a_chinese_one(tmp_path):
    # Each reads the bot in their own language: the place in line and its Cancel button, the
    # result and its buttons, a refusal; the other's public result stays in the other's language.
    async with world(tmp_path, start=False, gateway={"latency": 0.8}, max_concurrent_requests=1, **QUOTAS) as w:
        staff = add_staff(w)
        zh_server = w.discord.add_guild("中文服务器", locale="zh-CN")
        zh_channel = w.discord.add_channel(zh_server, "画图")
        w.discord.add_member(zh_server, w.bob)
        await w.start_bot()
        await w.run("blocklist", {"term": "forbidden"}, user=staff.admin, subcommand="add")
        first = await w.discord.invoke_command("imagine", {"prompt": "a fox"}, user=w.bob, guild=w.guild,
                                               channel=w.channel)
        async with asyncio.timeout(10):
            while not w.gateway.generation_requests:
                await asyncio.sleep(0.02)
        zh = await w.discord.invoke_command("imagine", {"prompt": "一只狐狸"}, user=w.alice, guild=w.guild,
                                            channel=w.channel, locale="zh-CN")
        waiting = await zh.wait_for(lambda e: "Cancel" in str(e.request) or "取消" in str(e.request), timeout=10)
        assert "取消" in str(waiting.request) and "Cancel" not in str(waiting.request), waiting.request
        await rows_closed(w, 2)
        await first.wait_for_final(timeout=20)
        await zh.wait_for_final(timeout=20)
        labels = [c["label"] for m in zh.messages for row in m.get("components") or [] for c in row["components"]]
        assert labels == ["重新生成", "变体", "放大", "删除"], labels
        assert "费用" in zh.all_text()
        en_labels = [c["label"] for m in first.messages for row in m.get("components") or [] for c in row["components"]]
        assert en_labels == ["Re-roll", "Variation", "Upscale", "Delete"], en_labels
        refused = await w.run("imagine", {"prompt": "something forbidden"}, locale="zh-CN")
        assert "forbidden" not in refused.all_text() and any("\u4e00" <= c <= "\u9fff" for c in refused.all_text())
        english = await w.discord.invoke_command("imagine", {"prompt": "a fox"}, user=w.bob, guild=zh_server,
                                                 channel=zh_channel, locale="en-GB")
        await english.wait_for_final(timeout=20)
        assert "cost $0.162" in english.all_text(), english.all_text()
        assert not any("\u4e00" <= c <= "\u9fff" for c in english.all_text())
