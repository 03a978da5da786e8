"""The server's rules on what is asked and where (blocked terms, allowed channels) applied again when
a queued request's turn comes, for a member's command and for a request a moderator approved; the
required role is not (the member's roles are as when they asked)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tests.doubles.image_gateway_double import Fault
from tests.e2e.books import assert_books_balanced, closed_row_of
from tests.e2e.harness import world
from tests.e2e.staff import EPHEMERAL, add_staff, eventually
from tests.e2e.test_approval import approval_world, channel_text
from tests.e2e.test_approval_queue import approve, ask, in_line
from tests.e2e.test_queue import FAST, submit
from tests.e2e.test_rules_changed_while_requests_wait import the_one_slot_taken


async def test_an_approved_request_refused_at_its_turn_by_a_blocked_term(tmp_path):
    # Approval mode, one slot. A moderator approves bob's (Chinese client) "a bloody
    # battlefield"; it waits in line behind alice's ("<@bob> 排队中：第 1 位 ... [取消]"). An admin blocks
    # "bloody". At bob's turn nothing reaches the gateway, nothing is charged or left pending, the
    # place-in-line message goes, bob is told in Chinese in his channel without his prompt being
    # repeated there (only the moderators saw it), and /history says why.
    async with world(tmp_path, start=False, max_concurrent_requests=1, flavour="aiearth",
                     image_prices={"doubao-seedream-5-0-260128": Decimal("0.135")}, **FAST) as w:  # fmt: skip
        staff = await approval_world(w)
        w.gateway.script(Fault.delay(2.0), times=1)
        await ask(w, w.alice, "first fox")
        await ask(w, w.bob, "a bloody battlefield", locale="zh-CN")
        await approve(w, staff, "first fox")
        await eventually(lambda: len(w.gateway.generation_requests) == 1)
        await approve(w, staff, "a bloody battlefield")
        await in_line(w, "a bloody battlefield")
        await eventually(lambda: f"<@{w.bob.id}> 排队中" in channel_text(w))
        added = await w.run("blocklist", {"term": "bloody"}, user=staff.admin, subcommand="add")
        assert "Blocked term added" in added.all_text()

        row = await closed_row_of(w, "a bloody battlefield")
        await asyncio.sleep(0.5)
        assert (row["status"], row["error_code"], row["charged_micros"]) == ("released", "blocked_term", 0), row
        assert [r.json["prompt"] for r in w.gateway.generation_requests] == ["first fox"]
        text = channel_text(w)
        assert f"<@{w.bob.id}> 你的提示词被拒绝" in text, text
        assert "bloody" not in text, text
        assert f"<@{w.bob.id}> 排队中" not in text, text
        history = await w.run("history", {}, user=w.bob, locale="zh-CN")
        assert "未生成图片（屏蔽词）" in history.all_text(), history.all_text()
        await eventually(lambda: len([m for m in w.discord.channel_messages(w.channel) if m.get("attachments")]) == 1)
        await asyncio.sleep(0.3)
        rows = await assert_books_balanced(w.storage)
        assert all(r["status"] != "pending" for r in rows)


async def test_a_member_given_the_required_role_while_waiting_is_not_refused_at_the_turn(tmp_path):
    # An admin makes the bot members-only (/settings required-role Artists) and gives the role to
    # the members who use it, bob among them, while bob's "an owl in a tuxedo" waits in line. At
    # his turn the rule was checked against the roles he had when he asked, and he was refused.
    # The roles are as when the member asked (the bot hears of no role change), and the rule is
    # theirs: not applied again at the turn.
    async with world(tmp_path, start=False, max_concurrent_requests=1, **FAST) as w:
        staff = add_staff(w)
        await w.start_bot()
        await the_one_slot_taken(w)
        bob = await submit(w, w.bob, "an owl in a tuxedo")
        w.guild.members[w.alice.id].roles.append(staff.artists.id)
        w.guild.members[w.bob.id].roles.append(staff.artists.id)
        done = await w.run("settings", {"role": staff.artists}, user=staff.admin, subcommand="required-role")
        assert "Artists" in done.all_text() or str(staff.artists.id) in done.all_text(), done.all_text()

        row = await closed_row_of(w, "an owl in a tuxedo")
        await bob.wait_for_final(timeout=10)
        assert "role" not in bob.all_text(), f"bob, who has the role, was told: {bob.all_text()!r}"
        assert (row["status"], row["error_code"]) == ("settled", None), row
        assert [r.json["prompt"] for r in w.gateway.generation_requests] == ["a quiet harbour", "an owl in a tuxedo"]


async def test_a_rule_at_the_turn_for_a_member_in_chinese_is_private(tmp_path):
    # Bob (Chinese client) waits in line; an admin closes every channel but #mods
    # (/channels add #mods). At his turn: refused privately in Chinese, the public "排队中 [取消]"
    # reply gone, nothing made or charged, and /history names the rule.
    async with world(tmp_path, start=False, max_concurrent_requests=1, **FAST) as w:
        staff = add_staff(w)
        await w.start_bot()
        await the_one_slot_taken(w)
        bob = await w.discord.invoke_command("imagine", {"prompt": "一只穿燕尾服的猫头鹰"}, user=w.bob,
                                             guild=w.guild, channel=w.channel, locale="zh-CN")  # fmt: skip
        await bob.wait_for_ack()
        await eventually(lambda: any("排队中" in (m.get("content") or "") for m in bob.messages))
        await w.run("settings", {"channel": staff.mods_channel}, user=staff.admin, subcommand="channels add")

        row = await closed_row_of(w, "一只穿燕尾服的猫头鹰")
        await bob.wait_for_final(timeout=10)
        assert (row["status"], row["error_code"], row["charged_micros"]) == ("released", "wrong_channel", 0), row
        assert f"在本服务器中，图片命令只能在 <#{staff.mods_channel.id}> 中使用" in bob.all_text(), bob.all_text()
        assert [bool(m.get("flags", 0) & EPHEMERAL) for m in bob.messages] == [True], bob.messages
        assert [r.json["prompt"] for r in w.gateway.generation_requests] == ["a quiet harbour"]
        history = await w.run("history", {}, user=w.bob, locale="zh-CN")
        assert "未生成图片" in history.all_text(), history.all_text()
