"""Approval mode from the moderator's and the member's side: decisions re-checked when made (a term
or role set meanwhile), who is told what and in which language, and the result buttons (Re-roll,
Variation, Upscale and its menu) while approval mode is on."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

from tests.e2e.harness import world
from tests.e2e.staff import eventually, is_ephemeral
from tests.e2e.test_approval import approval_world, button, channel_files, channel_text
from tests.e2e.test_approval_queue import approve, ask, review_of
from tests.e2e.test_result_buttons import _reference_bytes, _text_input_id, pick, press


def _reviews(w, staff) -> list[dict]:
    return w.discord.channel_messages(staff.mods_channel)


async def _approved_result(w, staff, prompt: str, count: int = 1) -> tuple[dict, int]:
    """An approved request delivered in the member's channel: its result message and request id."""
    await ask(w, w.alice, prompt, count=count)
    pressed = await approve(w, staff, prompt)
    await eventually(lambda: any(m.get("components") for m in w.discord.channel_messages(w.channel)))
    await pressed.wait_for_final()
    [result] = [m for m in w.discord.channel_messages(w.channel) if m.get("components")]
    [row] = [r for r in await w.ledger_rows() if r["prompt"] == prompt]
    return result, row["id"]


async def test_a_term_blocked_after_the_request_refuses_it_at_approval(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await ask(w, w.alice, "a bloody battlefield")
        await w.run("blocklist", {"term": "bloody"}, user=staff.admin, subcommand="add")
        pressed = await approve(w, staff, "a bloody battlefield")
        await pressed.wait_for_final()
        await eventually(lambda: "could not run" in channel_text(w))
        assert w.gateway.generation_requests == []
        assert all(r["charged_micros"] == 0 for r in await w.ledger_rows())


async def test_a_required_role_set_after_the_request_refuses_it_at_approval(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await ask(w, w.alice, "a quiet pond")
        await w.run("settings", {"role": staff.artists}, user=staff.admin, subcommand="required-role")
        pressed = await approve(w, staff, "a quiet pond")
        await pressed.wait_for_final()
        await eventually(lambda: "could not run" in channel_text(w))
        assert f"<@&{staff.artists.id}>" in channel_text(w)
        assert w.gateway.generation_requests == []


async def test_a_zh_cn_member_hears_of_a_rejection_in_chinese(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await ask(w, w.alice, "一只猫", locale="zh-CN")
        message = review_of(w, staff, "一只猫")
        pressed = await w.discord.click_button(message, button(message, "reject"), user=staff.moderator)
        await pressed.wait_for_final()
        await eventually(lambda: "拒绝" in channel_text(w))
        text = channel_text(w)
        assert "rejected" not in text and "charged" not in text, text
        assert "一只猫" not in text, text  # what was rejected is not repeated in public


async def test_a_moderator_may_approve_their_own_request(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await ask(w, staff.moderator, "my own fox")
        message = review_of(w, staff, "my own fox")
        pressed = await w.discord.click_button(message, button(message, "approve"), user=staff.moderator)
        await pressed.wait_for_final()
        await eventually(lambda: len(channel_files(w)) == 1 and "cost" in channel_text(w))
        [row] = await w.ledger_rows()
        assert row["user_id"] == staff.moderator.id and row["status"] == "settled"


async def test_reroll_of_an_approved_result_goes_to_the_moderators_again(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        result, request_id = await _approved_result(w, staff, "a blue heron")
        calls = len(w.gateway.generation_requests)
        again = await press(w, result, "reroll", request_id)
        assert "sent to the moderators" in again.all_text() and is_ephemeral(again)
        assert len(w.gateway.generation_requests) == calls
        assert len(_reviews(w, staff)) == 2


async def test_a_reroll_pressed_twice_waits_for_the_moderators_once(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        result, request_id = await _approved_result(w, staff, "a green kite")
        first, second = await asyncio.gather(
            press(w, result, "reroll", request_id), press(w, result, "reroll", request_id)
        )
        third = await press(w, result, "reroll", request_id)
        assert len(_reviews(w, staff)) == 2  # the original request's and one Re-roll
        answers = [h.all_text() for h in (first, second, third)]
        assert sum("sent to the moderators" in a for a in answers) == 1, answers
        assert all(is_ephemeral(h) for h in (first, second, third))
        assert sum("already waiting for the moderators" in a or "already on its way" in a for a in answers) == 2

        # Decided, the same request may be asked again; and another prompt was never held back.
        pressed = await w.discord.click_button(_reviews(w, staff)[-1], button(_reviews(w, staff)[-1], "reject"),
                                               user=staff.moderator)  # fmt: skip
        await pressed.wait_for_final()
        again = await press(w, result, "reroll", request_id)
        assert "sent to the moderators" in again.all_text(), again.all_text()
        await ask(w, w.alice, "a red kite")
        assert len(_reviews(w, staff)) == 4


async def test_the_same_command_sent_twice_at_once_waits_for_the_moderators_once(tmp_path):
    # Two interactions a moment apart (Enter pressed twice): the check and the insert are one
    # transaction, so both cannot pass the check before either is stored.
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        both = await asyncio.gather(*(w.run("imagine", {"prompt": "a paper boat"}) for _ in range(2)))
        answers = [h.all_text() for h in both]
        assert sum("sent to the moderators" in a for a in answers) == 1, answers
        assert sum("already waiting for the moderators" in a for a in answers) == 1, answers
        assert len(_reviews(w, staff)) == 1


async def test_upscale_menu_in_approval_mode_sends_the_chosen_image_for_approval(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        result, request_id = await _approved_result(w, staff, "three robots", count=3)
        asked = await press(w, result, "upscale", request_id)
        assert is_ephemeral(asked) and asked.messages[-1].get("components"), asked.all_text()
        calls = len(w.gateway.generation_requests)
        chosen = await pick(w, asked.messages[-1], request_id, 2)
        assert "sent to the moderators" in chosen.all_text(), chosen.all_text()
        assert len(w.gateway.generation_requests) == calls
        review = _reviews(w, staff)[-1]
        [attached] = review["attachments"]
        pressed = await w.discord.click_button(review, button(review, "approve"), user=staff.moderator)
        await pressed.wait_for_final()
        await eventually(lambda: len(w.gateway.generation_requests) == calls + 1)
        image_two = next(a for m in w.discord.channel_messages(w.channel) for a in m.get("attachments", [])
                         if a["filename"].startswith(f"seedream-{request_id}-2."))  # fmt: skip
        assert _reference_bytes(w.gateway.generation_requests[-1].json) == w.discord.attachment_bytes(image_two)
        assert w.discord.attachment_bytes(attached) == w.discord.attachment_bytes(image_two)


async def test_variation_in_approval_mode_is_sent_for_approval_and_runs_after_a_restart(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        result, request_id = await _approved_result(w, staff, "a paper crane")
        opened = await press(w, result, "variation", request_id)
        submitted = await w.discord.submit_modal(
            opened.modal["custom_id"], {_text_input_id(opened.modal): "a golden paper crane"}, user=w.alice,
            from_interaction=opened,
        )  # fmt: skip
        await submitted.wait_for_final(timeout=15)
        assert "sent to the moderators" in submitted.all_text(), submitted.all_text()
        calls = len(w.gateway.generation_requests)
        await w.restart_bot()
        review = review_of(w, staff, "a golden paper crane")
        pressed = await w.discord.click_button(review, button(review, "approve"), user=staff.moderator)
        await pressed.wait_for_final()
        await eventually(lambda: len(w.gateway.generation_requests) == calls + 1)
        await eventually(lambda: "a golden paper crane" in channel_text(w) and "cost" in channel_text(w))
        [image] = result["attachments"]
        assert _reference_bytes(w.gateway.generation_requests[-1].json) == w.discord.attachment_bytes(image)


async def test_approval_mode_turned_off_leaves_waiting_requests_decidable(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await ask(w, w.alice, "a waiting fox")
        off = await w.run("settings", {"mode": "off"}, user=staff.admin, subcommand="approval")
        # the admin hears that it still waits, where, and that a moderator still decides it
        assert ("Approval mode is off: requests are generated right away. 1 request asked before still waits "
                f"for a moderator in <#{staff.mods_channel.id}>, to be approved or rejected there.") == off.all_text()
        pressed = await approve(w, staff, "a waiting fox")
        await pressed.wait_for_final()
        await eventually(lambda: len(channel_files(w)) == 1)


async def test_a_request_from_a_thread_rejected_after_a_restart_is_told_there_in_chinese(tmp_path):
    async with world(tmp_path, start=False) as w:
        thread = w.discord.add_thread(w.channel, "ideas")
        staff = await approval_world(w)
        inter = await w.run("imagine", {"prompt": "一座桥"}, channel=thread, locale="zh-CN")
        assert is_ephemeral(inter) and "版主" in inter.all_text(), inter.all_text()
        await w.restart_bot()
        message = review_of(w, staff, "一座桥")
        pressed = await w.discord.click_button(message, button(message, "reject"), user=staff.moderator)
        await pressed.wait_for_final()
        await eventually(lambda: any("拒绝" in (m.get("content") or "") for m in w.discord.channel_messages(thread)))
        [told] = [m["content"] for m in w.discord.channel_messages(thread)]
        assert f"<@{w.alice.id}>" in told and "rejected" not in told and "一座桥" not in told, told


async def test_the_moderators_name_is_shown_as_typed_in_the_members_notice(tmp_path):
    # A display name with Markdown in it ("~~x~~", "||x||") used to render as formatting in the
    # member's "... was rejected by <name>" instead of the name.
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        fancy = w.discord.add_user("fancy", global_name="~~Mod~~ ||Mia||")
        mods = next(r for r in w.guild.roles.values() if r.name == "Moderators")
        w.discord.add_member(w.guild, fancy, [mods])
        await ask(w, w.alice, "a quiet lake", count=1)
        message = review_of(w, staff, "a quiet lake")
        pressed = await w.discord.click_button(message, button(message, "reject"), user=fancy)
        await pressed.wait_for_final()
        await eventually(lambda: "rejected" in channel_text(w))
        told = channel_text(w)
        assert "~~Mod~~" not in told and "||Mia||" not in told and "Mia" in told, (
            f"the member should read the moderator's name as typed (Markdown escaped), got: {told!r}"
        )


async def test_a_chinese_server_gets_its_review_messages_in_chinese_whatever_the_member_speaks(tmp_path):
    async with world(tmp_path, start=False) as w:
        w.guild.preferred_locale = "zh-CN"
        staff = await approval_world(w)
        await ask(w, w.alice, "a red kite", count=2)
        message = review_of(w, staff, "a red kite")
        pressed = await w.discord.click_button(message, button(message, "approve"), user=staff.moderator)
        await pressed.wait_for_final()
        await eventually(lambda: len(channel_files(w)) == 2)
        review = review_of(w, staff, "a red kite")["content"]
        leftover = re.findall(r"[A-Za-z]{3,}", re.sub(r"a red kite|Seedream|<[@#]\d+>", "", review))
        assert leftover == [], review


async def test_the_approval_review_of_a_series_shows_the_size_it_will_be_made_at(tmp_path):
    # The member names no size: the review told moderators "auto", then the gateway was asked
    # for 2048x2048.
    price = {"doubao-seedream-5-0-260128": Decimal("0.135")}
    async with world(tmp_path, flavour="aiearth", image_prices=price, start=False) as w:
        staff = await approval_world(w)
        await ask(w, w.alice, "frames of a falling leaf", command="series", count=4)
        review = review_of(w, staff, "frames of a falling leaf")["content"]
        assert "· auto ·" not in review and "2048x2048" in review, review
