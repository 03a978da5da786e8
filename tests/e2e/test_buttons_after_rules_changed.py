"""Buttons pressed on results made before an admin changed the rules, and the bot losing Attach Files
while an approved request is generating."""

from __future__ import annotations

import asyncio

from tests.doubles.image_gateway_double import Fault
from tests.e2e.harness import world
from tests.e2e.staff import add_staff, eventually, is_ephemeral
from tests.e2e.test_approval import approval_world, channel_files, channel_text
from tests.e2e.test_approval_queue import approve, ask
from tests.e2e.test_queue import FAST
from tests.e2e.test_result_buttons import _text_input_id, pick, press, result_message

ATTACH_FILES = 1 << 15


async def test_buttons_and_open_forms_on_a_result_whose_prompt_was_blocked_since(tmp_path):
    # The Upscale menu and the Variation form were opened before the admin blocked
    # a word of the prompt; Re-roll, the menu's choice and the form's submission are each refused
    # privately, nothing reaches the gateway, each is a 'refused' row costing nothing.
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        first = await w.run("imagine", {"prompt": "a bloody sunset", "count": 2})
        request_id = (await w.ledger_rows())[0]["id"]
        message = result_message(first)
        menu = await press(w, message, "upscale", request_id)
        form = await press(w, message, "variation", request_id)
        assert form.modal is not None
        await w.run("blocklist", {"term": "bloody"}, user=staff.admin, subcommand="add")

        rerolled = await press(w, message, "reroll", request_id)
        chosen = await pick(w, menu.messages[-1], request_id, 2)
        sent = await w.discord.submit_modal(form.modal["custom_id"], {_text_input_id(form.modal): "a bloody dusk"},
                                            user=w.alice, from_interaction=form)
        await sent.wait_for_final(timeout=15)
        for answer in (rerolled, chosen, sent):
            assert is_ephemeral(answer) and "not charged" in answer.all_text(), answer.all_text()
            assert "refused" in answer.all_text() and "bloody" not in answer.all_text()
        assert len(w.gateway.generation_requests) == 1
        rows = [(r["command"], r["status"], r["error_code"], r["charged_micros"]) for r in await w.ledger_rows()]
        assert rows[1:] == [("reroll", "refused", "blocked_term", 0), ("upscale-image", "refused", "blocked_term", 0),
                            ("variation", "refused", "blocked_term", 0)]


async def test_approval_turned_on_sends_an_open_menus_choice_and_a_reroll_to_the_moderators(tmp_path):
    # A result made before approval mode; its Upscale menu was open when approval
    # was turned on: the choice and a Re-roll both go to the moderators, nothing is made or held.
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        first = await w.run("imagine", {"prompt": "a sunset", "count": 2})
        request_id = (await w.ledger_rows())[0]["id"]
        message = result_message(first)
        menu = await press(w, message, "upscale", request_id)
        await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin, subcommand="approval")
        chosen = await pick(w, menu.messages[-1], request_id, 2)
        rerolled = await press(w, message, "reroll", request_id)
        for answer in (chosen, rerolled):
            assert is_ephemeral(answer) and "sent to the moderators" in answer.all_text(), answer.all_text()
        reviews = [m["content"] for m in w.discord.channel_messages(staff.mods_channel)]
        assert len(reviews) == 2 and "4K · 1 image" in reviews[0] and "2 images" in reviews[1], reviews
        assert len(w.gateway.generation_requests) == 1
        assert [r["status"] for r in await w.ledger_rows()] == ["settled"]


async def test_attach_files_taken_away_while_an_approved_request_generates(tmp_path):
    # The bot loses Attach Files in the member's channel while the gateway makes an
    # approved request's images: the member is told in the channel that they could not be posted
    # and that they were not charged; the server pays what the gateway billed; nothing pending.
    async with world(tmp_path, start=False, **FAST) as w:
        staff = await approval_world(w)
        w.gateway.script(Fault.delay(1.5), times=1)
        await ask(w, w.alice, "a red kite", count=2)
        pressed = await approve(w, staff, "a red kite")
        await eventually(lambda: len(w.gateway.generation_requests) == 1)
        deny = [{"id": str(w.discord.bot_user.id), "type": 1, "allow": "0", "deny": str(ATTACH_FILES)}]
        await w.discord.set_overwrites(w.channel, deny)
        await pressed.wait_for_final()
        await eventually(lambda: "could not be posted" in channel_text(w))
        for _ in range(100):
            rows = await w.ledger_rows()
            if rows and rows[0]["status"] != "pending":
                break
            await asyncio.sleep(0.05)
        [row] = rows
        assert f"<@{w.alice.id}>" in channel_text(w) and "not charged" in channel_text(w)
        assert channel_files(w) == []
        assert (row["status"], row["images_billed"], row["images_delivered"], row["charged_micros"]) == (
            "settled", 2, 0, 0)
        assert row["cost_micros"] == 324_000  # what the gateway billed the server
