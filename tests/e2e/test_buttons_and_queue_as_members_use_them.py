"""The buttons under a result and the queue, as members use them: places, Cancel, limits, restarts, zh-CN."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.doubles.image_gateway_double import Fault
from tests.e2e.harness import world
from tests.e2e.staff import add_staff
from tests.e2e.test_queue import buttons, content, delivered
from tests.e2e.test_result_buttons import _text_input_id, is_ephemeral, pick, press, result_message

FAST = {"progress_edit_seconds": 0.2, "image_max_retries": 0}
MANAGE_MESSAGES = 1 << 13
PRICE = 162_000  # Seedream 4.0 on gogogotoken.com


async def click(w, message, custom_id, *, user, locale="en-US", wait=True):
    inter = await w.discord.click_button(message, custom_id, user=user, locale=locale)
    if wait:
        await inter.wait_for_final(timeout=15, quiet=0.3)
    return inter


async def _row_of(w, command: str, n: int = 1):
    rows = [r for r in await w.ledger_rows() if r["command"] == command]
    return rows[n - 1] if len(rows) >= n else None


async def _until(predicate, timeout=10.0):
    async with asyncio.timeout(timeout):
        while True:
            value = await predicate()
            if value:
                return value
            await asyncio.sleep(0.02)


async def test_a_reroll_waiting_in_line_in_chinese_shows_place_and_cancel_and_cancels_unbilled(tmp_path):
    async with world(tmp_path, max_concurrent_requests=1, default_daily_images=5, **FAST) as w:
        bobs = await w.run("imagine", {"prompt": "bob's lantern"}, user=w.bob, locale="zh-CN")
        bob_row = (await w.ledger_rows())[0]
        w.gateway.script(Fault.hang(), times=1)
        await w.discord.invoke_command("imagine", {"prompt": "alice busy"}, user=w.alice, guild=w.guild,
                                       channel=w.channel)  # fmt: skip
        await _until(lambda: _row_of(w, "imagine", 2))
        reroll = await click(w, result_message(bobs), f"sd:reroll:{bob_row['id']}", user=w.bob, locale="zh-CN",
                             wait=False)  # fmt: skip
        queued = (await reroll.wait_for(lambda e: "排队中" in content(e), timeout=10)).message
        assert re.search(r"排队中：第 1 位", queued["content"]), queued["content"]
        [cancel] = [c for row in queued["components"] for c in row["components"]]
        assert cancel["label"] == "取消" and cancel["custom_id"].startswith("queue:cancel:")

        # Someone else's press on that Cancel: told in their language, nothing withdrawn.
        other = await click(w, queued, cancel["custom_id"], user=w.alice, locale="zh-CN")
        assert is_ephemeral(other) and other.all_text() == "只有发起这个请求的成员才能取消它。"

        pressed = await click(w, queued, cancel["custom_id"], user=w.bob, locale="zh-CN")
        await reroll.wait_for(lambda e: "已取消" in content(e), timeout=10)
        assert reroll.original.payload["content"] == "已取消，未向你计费。"
        assert buttons(reroll.original.payload) == []
        assert pressed.callback_type in (6, 7)
        row = await _row_of(w, "reroll")
        assert (row["status"], row["charged_micros"], row["cost_micros"]) == ("released", 0, 0)
        usage = await w.run("usage", user=w.bob)
        assert "Images today: 1 of 5" in usage.all_text(), usage.all_text()
        # the Re-roll button works again at once: the cancelled press is not "still running"
        again = await click(w, result_message(bobs), f"sd:reroll:{bob_row['id']}", user=w.bob, wait=False)
        await again.wait_for(lambda e: bool(content(e)), timeout=10)
        assert "already on its way" not in again.all_text(), again.all_text()


async def test_a_reroll_when_the_server_budget_is_used_up_is_refused_privately_and_costs_nothing(tmp_path):
    async with world(tmp_path, guild_monthly_budget_usd="0.2") as w:
        first = await w.run("imagine", {"prompt": "a small boat"})
        request_id = (await w.ledger_rows())[0]["id"]
        message = result_message(first)
        calls = len(w.gateway.generation_requests)
        for action in ("reroll", "upscale"):
            refused = await press(w, message, action, request_id)
            assert is_ephemeral(refused), (action, refused.kinds())
            assert "monthly image budget" in refused.all_text(), (action, refused.all_text())
            assert refused.files() == []
        assert len(w.gateway.generation_requests) == calls
        rows = await w.ledger_rows()
        assert [r["status"] for r in rows] == ["settled", "refused", "refused"]
        assert sum(r["charged_micros"] or 0 for r in rows) == PRICE


async def test_a_moderator_deletes_a_members_result_and_cannot_reroll_it(tmp_path):
    async with world(tmp_path) as w:
        carol = w.discord.add_user("carol")
        mods = w.discord.add_role(w.guild, "mods", permissions=MANAGE_MESSAGES)
        w.discord.add_member(w.guild, carol, roles=[mods])
        first = await w.run("imagine", {"prompt": "a big tree", "count": 2})
        request_id = (await w.ledger_rows())[0]["id"]
        message = result_message(first)
        rerolled = await press(w, message, "reroll", request_id, user=carol)
        assert is_ephemeral(rerolled) and "Only the member who asked" in rerolled.all_text()
        bob_tries = await press(w, message, "delete", request_id, user=w.bob)
        assert is_ephemeral(bob_tries) and "or a moderator" in bob_tries.all_text()
        assert not w.discord.messages[int(message["id"])].deleted
        deleted = await press(w, message, "delete", request_id, user=carol, locale="zh-CN")
        assert is_ephemeral(deleted) and deleted.all_text() == "已删除。"
        assert w.discord.messages[int(message["id"])].deleted
        assert len(w.gateway.generation_requests) == 1


async def test_a_reroll_waiting_when_the_bot_restarts_is_withdrawn_unbilled_and_can_be_pressed_again(tmp_path):
    async with world(tmp_path, max_concurrent_requests=1, **FAST) as w:
        bobs = await w.run("imagine", {"prompt": "bob's kite"}, user=w.bob)
        bob_row = (await w.ledger_rows())[0]
        w.gateway.script(Fault.hang(), times=1)
        await w.discord.invoke_command("imagine", {"prompt": "alice busy"}, user=w.alice, guild=w.guild,
                                       channel=w.channel)  # fmt: skip
        await _until(lambda: _row_of(w, "imagine", 2))
        reroll = await click(w, result_message(bobs), f"sd:reroll:{bob_row['id']}", user=w.bob, wait=False)
        await reroll.wait_for(lambda e: "Queued: position 1" in content(e), timeout=10)
        await w.restart_bot()
        text = reroll.original.payload["content"]
        assert "withdrawn before it started" in text and "not charged" in text, text
        assert buttons(reroll.original.payload) == []
        row = await _row_of(w, "reroll")
        assert (row["status"], row["charged_micros"]) == ("released", 0)
        again = await press(w, result_message(bobs), "reroll", bob_row["id"], user=w.bob)
        assert len(again.files()) == 1, again.all_text()
        rows = [r for r in await w.ledger_rows() if r["command"] == "reroll"]
        assert [(r["status"], r["charged_micros"]) for r in rows] == [("released", 0), ("settled", PRICE)]


async def test_reroll_progress_shows_the_stage_and_the_result_keeps_no_progress_text(tmp_path):
    async with world(tmp_path, gateway={"latency": 1.5}, **FAST) as w:
        first = await w.discord.invoke_command("imagine", {"prompt": "a glass bird", "count": 2}, user=w.alice,
                                               guild=w.guild, channel=w.channel)  # fmt: skip
        await delivered(first)
        request_id = (await w.ledger_rows())[0]["id"]
        reroll = await click(w, result_message(first), f"sd:reroll:{request_id}", user=w.alice, locale="zh-CN",
                             wait=False)  # fmt: skip
        await reroll.wait_for(lambda e: bool((e.message or {}).get("attachments")), timeout=20)
        await reroll.wait_for_final(timeout=20)
        edits = [content(e) for e in reroll.events if e.kind == "original_edit"]
        stages = [text for text in edits if text.startswith("正在使用")]
        assert stages, edits
        assert re.fullmatch(r"正在使用 Seedream 4\.0 生成 2 张图片…（已用 \d+ 秒）", stages[0]), stages[0]
        final = result_message(reroll)
        assert "正在使用" not in final["content"] and len(final["attachments"]) == 2
        assert [c["label"] for row in final["components"] for c in row["components"]] == [
            "重新生成", "变体", "放大", "删除",
        ]


async def test_the_summary_of_a_reroll_shows_what_is_left_of_the_quota(tmp_path):
    async with world(tmp_path, default_daily_images=5, default_monthly_usd="1") as w:
        first = await w.run("imagine", {"prompt": "a red door", "count": 2})
        assert "Left for you: 3 images today, $0.676 this month." in first.all_text(), first.all_text()
        request_id = (await w.ledger_rows())[0]["id"]
        again = await press(w, result_message(first), "reroll", request_id)
        assert "Left for you: 1 image today, $0.352 this month." in again.all_text(), again.all_text()
        rows = await w.ledger_rows()
        assert [(r["command"], r["charged_micros"]) for r in rows] == [("imagine", 2 * PRICE), ("reroll", 2 * PRICE)]


async def test_a_failed_reroll_is_told_and_costs_nothing(tmp_path):
    async with world(tmp_path, default_daily_images=3, **FAST) as w:
        first = await w.run("imagine", {"prompt": "a candle"})
        request_id = (await w.ledger_rows())[0]["id"]
        w.gateway.script(Fault.status(500), times=5)
        failed = await press(w, result_message(first), "reroll", request_id)
        assert failed.files() == []
        text = failed.all_text()
        assert "went wrong" not in text.lower() or "charged" in text.lower(), text
        row = await _row_of(w, "reroll")
        assert row["status"] != "pending" and (row["charged_micros"] or 0) == 0, row
        usage = await w.run("usage")
        assert "Images today: 1 of 3" in usage.all_text(), usage.all_text()


async def test_an_upscale_choice_after_the_quota_ran_out_is_refused_privately_and_costs_nothing(tmp_path):
    async with world(tmp_path, default_daily_images=4) as w:
        first = await w.run("imagine", {"prompt": "three owls", "count": 3})
        request_id = (await w.ledger_rows())[0]["id"]
        asked = await press(w, result_message(first), "upscale", request_id)
        assert is_ephemeral(asked) and "Which image" in asked.all_text()
        await w.run("imagine", {"prompt": "one more owl"})  # the last image of the day
        calls = len(w.gateway.generation_requests)
        chosen = await pick(w, asked.messages[-1], request_id, 2)
        assert is_ephemeral(chosen) and "daily limit of 4" in chosen.all_text(), (chosen.kinds(), chosen.all_text())
        assert chosen.files() == []
        assert len(w.gateway.generation_requests) == calls
        rows = await w.ledger_rows()
        assert [(r["command"], r["status"]) for r in rows] == [
            ("imagine", "settled"), ("imagine", "settled"), ("upscale-image", "refused"),
        ]


@pytest.mark.parametrize("setting", ["required-role", "channels add"])
async def test_a_server_setting_made_after_the_result_refuses_its_buttons_before_anything(tmp_path, setting):
    # A required role, or allowed channels without this one: Re-roll, Upscale and Variation are
    # refused privately, naming what is needed; Delete (no image made) still tidies up.
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        first = await w.run("imagine", {"prompt": "a sailing ship", "count": 2})
        request_id = (await w.ledger_rows())[0]["id"]
        if setting == "required-role":
            option, named = {"role": staff.artists}, f"<@&{staff.artists.id}>"
        else:
            option, named = {"channel": staff.mods_channel}, f"<#{staff.mods_channel.id}>"
        await w.run("settings", option, user=staff.admin, subcommand=setting)
        message = result_message(first)
        for action in ("reroll", "upscale", "variation"):
            refused = await press(w, message, action, request_id)
            assert is_ephemeral(refused) and refused.modal is None, (action, refused.kinds())
            assert named in refused.all_text(), (action, refused.all_text())
        deleted = await press(w, message, "delete", request_id)
        assert deleted.all_text() == "Deleted.", deleted.all_text()
        assert len(w.gateway.generation_requests) == 1


async def _busy_alice(w):
    """Alice's request takes the only slot and keeps it (the gateway hangs on it)."""
    w.gateway.script(Fault.hang(), times=1)
    await w.discord.invoke_command("imagine", {"prompt": "alice busy"}, user=w.alice, guild=w.guild,
                                   channel=w.channel)  # fmt: skip
    await _until(lambda: _row_of(w, "imagine", 2))


async def test_a_queued_variation_can_be_cancelled_and_costs_nothing(tmp_path):
    async with world(tmp_path, max_concurrent_requests=1, **FAST) as w:
        bobs = await w.run("imagine", {"prompt": "bob's harbour"}, user=w.bob)
        bob_row = (await w.ledger_rows())[0]
        await _busy_alice(w)
        opened = await press(w, result_message(bobs), "variation", bob_row["id"], user=w.bob)
        submitted = await w.discord.submit_modal(
            opened.modal["custom_id"], {_text_input_id(opened.modal): "bob's harbour at night"}, user=w.bob,
            from_interaction=opened,
        )  # fmt: skip
        queued = (await submitted.wait_for(lambda e: "Queued: position 1" in content(e), timeout=10)).message
        [cancel] = [b for b in buttons(queued) if b.startswith("queue:cancel:")]
        pressed = await click(w, queued, cancel, user=w.bob)
        await submitted.wait_for(lambda e: "Cancelled" in content(e), timeout=10)
        assert not is_ephemeral(pressed) or "Cancelled" in pressed.all_text(), pressed.all_text()
        row = await _row_of(w, "variation")
        assert (row["status"], row["charged_micros"]) == ("released", 0), row
        assert [r.json["prompt"] for r in w.gateway.generation_requests] == ["bob's harbour", "alice busy"]


async def test_a_queued_upscale_choice_can_be_cancelled_and_costs_nothing(tmp_path):
    async with world(tmp_path, max_concurrent_requests=1, **FAST) as w:
        bobs = await w.run("imagine", {"prompt": "bob's owls", "count": 2}, user=w.bob)
        bob_row = (await w.ledger_rows())[0]
        await _busy_alice(w)
        asked = await press(w, result_message(bobs), "upscale", bob_row["id"], user=w.bob)
        chosen = await w.discord.click_button(asked.messages[-1], f"sd:upscale-pick:{bob_row['id']}", user=w.bob,
                                              component_type=3, values=["2"])  # fmt: skip
        queued = (await chosen.wait_for(lambda e: "Queued: position 1" in content(e), timeout=10)).message
        [cancel] = [b for b in buttons(queued) if b.startswith("queue:cancel:")]
        await click(w, queued, cancel, user=w.bob)
        await chosen.wait_for(lambda e: "Cancelled" in content(e), timeout=10)
        row = await _row_of(w, "upscale-image")
        assert (row["status"], row["charged_micros"]) == ("released", 0), row


async def test_a_variation_submitted_at_the_daily_limit_is_refused_privately_and_costs_nothing(tmp_path):
    async with world(tmp_path, default_daily_images=2) as w:
        first = await w.run("imagine", {"prompt": "a quiet lake"})
        request_id = (await w.ledger_rows())[0]["id"]
        opened = await press(w, result_message(first), "variation", request_id)
        assert opened.modal is not None, opened.all_text()
        await w.run("imagine", {"prompt": "the last one today"})  # the day's limit is used up meanwhile
        submitted = await w.discord.submit_modal(
            opened.modal["custom_id"], {_text_input_id(opened.modal): "a quiet lake at dawn"}, user=w.alice,
            from_interaction=opened,
        )  # fmt: skip
        await submitted.wait_for_final(timeout=15)
        assert is_ephemeral(submitted) and "daily limit of 2" in submitted.all_text(), submitted.all_text()
        assert len(w.gateway.generation_requests) == 2
        assert [r["status"] for r in await w.ledger_rows()] == ["settled", "settled", "refused"]
        # Pressed again now, the form does not open: no prompt could change the limit.
        again = await press(w, result_message(first), "variation", request_id)
        assert again.modal is None and is_ephemeral(again) and "daily limit of 2" in again.all_text(), again.all_text()
        assert [r["status"] for r in await w.ledger_rows()][3:] == ["refused"]  # kept, as every quota refusal is


async def test_a_member_with_requests_in_flight_is_told_so_by_reroll_and_the_upscale_menu(tmp_path):
    async with world(tmp_path, max_requests_per_member=1, **FAST) as w:
        first = await w.run("imagine", {"prompt": "two cranes", "count": 2})
        request_id = (await w.ledger_rows())[0]["id"]
        asked = await press(w, result_message(first), "upscale", request_id)
        w.gateway.script(Fault.hang(), times=1)
        await w.discord.invoke_command("imagine", {"prompt": "hanging"}, user=w.alice, guild=w.guild,
                                       channel=w.channel)  # fmt: skip
        await _until(lambda: _row_of(w, "imagine", 2))
        rerolled = await press(w, result_message(first), "reroll", request_id)
        assert is_ephemeral(rerolled) and "You already have 1 request" in rerolled.all_text(), rerolled.all_text()
        chosen = await pick(w, asked.messages[-1], request_id, 1)
        assert is_ephemeral(chosen) and "You already have 1 request" in chosen.all_text(), chosen.all_text()
        assert [r["command"] for r in await w.ledger_rows()] == ["imagine", "imagine"]


async def test_a_reroll_stopped_by_a_restart_is_told_and_costs_nothing(tmp_path):
    async with world(tmp_path, shutdown_grace_seconds=0.5, **FAST) as w:
        first = await w.run("imagine", {"prompt": "a clock tower"})
        request_id = (await w.ledger_rows())[0]["id"]
        w.gateway.script(Fault.hang(), times=1)
        reroll = await click(w, result_message(first), f"sd:reroll:{request_id}", user=w.alice, wait=False)
        await _until(lambda: _row_of(w, "reroll"))
        await reroll.wait_for_ack()
        await w.bot.shutdown(0.3)
        await w.restart_bot()
        await reroll.wait_for(lambda e: "restarting" in content(e), timeout=10)
        assert "stopped" in reroll.original.payload["content"], reroll.original.payload["content"]
        row = await _row_of(w, "reroll")
        assert (row["status"], row["charged_micros"]) == ("released", 0), row
        again = await press(w, result_message(first), "reroll", request_id)
        assert len(again.files()) == 1, again.all_text()


async def test_reroll_of_a_series_makes_the_same_series_and_charges_what_was_made(tmp_path):
    async with world(tmp_path, flavour="aiearth", image_prices="doubao-seedream-5-0-260128=0.035",
                     gateway={"per_image_latency": 0.05}) as w:
        first = await w.run("series", {"prompt": "a seed growing, in stages", "count": 3}, timeout=20)
        row = (await w.ledger_rows())[0]
        again = await press(w, result_message(first), "reroll", row["id"])
        await again.wait_for_final(timeout=20, quiet=0.5)
        assert len(again.files()) == 3, again.all_text()
        rows = await w.ledger_rows()
        assert [(r["command"], r["images_requested"], r["images_delivered"], r["charged_micros"]) for r in rows] == [
            ("series", 3, 3, 105_000), ("series", 3, 3, 105_000),
        ]
        assert rows[1]["prompt"] == "a seed growing, in stages"
        body = w.gateway.generation_requests[-1].json
        assert body.get("sequential_image_generation") == "auto", body
