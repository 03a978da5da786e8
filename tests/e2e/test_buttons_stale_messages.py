"""Stale views: a wait that outlived Discord's token, Upscale of a series made from a photo, presses in a restart."""

from __future__ import annotations

import asyncio

import pytest

from tests.doubles.discord_double.cdn import AttachmentStore
from tests.doubles.image_gateway_double import Fault
from tests.e2e.harness import world
from tests.e2e.staff import add_staff
from tests.e2e.test_buttons_and_queue_as_members_use_them import FAST, _row_of, _until
from tests.e2e.test_edit import image_bytes, slow_cdn
from tests.e2e.test_queue import POSITION, buttons, content
from tests.e2e.test_result_buttons import _text_input_id, is_ephemeral, pick, press, result_message


async def test_a_request_that_ran_after_its_token_expired_does_not_leave_a_live_queued_message(tmp_path):
    # Bob waits longer than Discord's 15 minutes (2 s here): his results go to the channel. The
    # reply he was looking at must not keep saying he is in line with a working Cancel button;
    # at the latest, his press on that Cancel (a fresh token) corrects it, as it does for a
    # withdrawal the bot could not tell him about.
    async with world(tmp_path, discord={"token_ttl": 2.0}, gateway={"latency": 2.5}, max_concurrent_requests=1,
                     **FAST) as w:  # fmt: skip
        await w.discord.invoke_command("imagine", {"prompt": "alice first"}, user=w.alice, guild=w.guild,
                                       channel=w.channel)  # fmt: skip
        await _until(lambda: _row_of(w, "imagine", 1))
        bob = await w.discord.invoke_command("imagine", {"prompt": "bob second"}, user=w.bob, guild=w.guild,
                                             channel=w.channel)  # fmt: skip
        queued = (await bob.wait_for(lambda e: bool(POSITION.search(content(e))), timeout=10)).message
        await _until(lambda: _settled(w, "bob second"), timeout=20)
        await asyncio.sleep(0.5)
        in_channel = [m for m in w.discord.channel_messages(w.channel) if m.get("attachments")
                      and f"<@{w.bob.id}>" in (m.get("content") or "")]  # fmt: skip
        assert in_channel, "bob's images were not posted in the channel"
        [cancel] = [b for b in buttons(queued) if b.startswith("queue:cancel:")]
        pressed = await w.discord.click_button(queued, cancel, user=w.bob)
        await pressed.wait_for_final(timeout=10)
        message = w.discord.messages[int(queued["id"])].payload
        assert not POSITION.search(message.get("content") or "") and not buttons(message), (
            f"the reply still says {message.get('content')!r} with {buttons(message)}; "
            f"the press answered {pressed.all_text()!r}"
        )


async def _settled(w, prompt):
    return any(r["prompt"] == prompt and r["status"] == "settled" for r in await w.ledger_rows())


async def test_presses_while_the_bot_is_stopping_are_told_privately_and_cost_nothing(tmp_path):
    async with world(tmp_path, **FAST) as w:
        first = await w.run("imagine", {"prompt": "a paper crane", "count": 2})
        request_id = (await w.ledger_rows())[0]["id"]
        message = result_message(first)
        asked = await press(w, message, "upscale", request_id)
        opened = await press(w, message, "variation", request_id)
        w.gateway.script(Fault.hang(), times=1)
        await w.discord.invoke_command("imagine", {"prompt": "hanging"}, user=w.bob, guild=w.guild,
                                       channel=w.channel)  # fmt: skip
        await _until(lambda: _row_of(w, "imagine", 2))
        stopping = asyncio.create_task(w.bot.shutdown(3.0))
        await asyncio.sleep(0.3)
        calls = len(w.gateway.generation_requests)
        rerolled = await press(w, message, "reroll", request_id)
        chosen = await pick(w, asked.messages[-1], request_id, 1)
        submitted = await w.discord.submit_modal(
            opened.modal["custom_id"], {_text_input_id(opened.modal): "a paper crane at night"}, user=w.alice,
            from_interaction=opened,
        )  # fmt: skip
        await submitted.wait_for_final(timeout=10)
        for inter in (rerolled, chosen, submitted):
            assert is_ephemeral(inter), inter.kinds()
            assert "restarting" in inter.all_text(), inter.all_text()
        assert len(w.gateway.generation_requests) == calls
        await stopping
        rows = await w.ledger_rows()
        assert [r["command"] for r in rows] == ["imagine", "imagine"], rows


async def test_a_variation_with_a_blocked_or_blank_prompt_is_refused_privately_and_costs_nothing(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        first = await w.run("imagine", {"prompt": "a garden"})
        request_id = (await w.ledger_rows())[0]["id"]
        await w.run("blocklist", {"term": "gore"}, user=staff.admin, subcommand="add")
        for prompt, expected in (("a garden with gore", "does not allow"), ("   ", "prompt is empty")):
            opened = await press(w, result_message(first), "variation", request_id)
            submitted = await w.discord.submit_modal(
                opened.modal["custom_id"], {_text_input_id(opened.modal): prompt}, user=w.alice,
                from_interaction=opened,
            )  # fmt: skip
            await submitted.wait_for_final(timeout=15)
            assert is_ephemeral(submitted), (prompt, submitted.kinds())
            assert expected in submitted.all_text().lower(), (prompt, submitted.all_text())
        assert len(w.gateway.generation_requests) == 1
        assert all((r["charged_micros"] or 0) == 0 for r in (await w.ledger_rows())[1:])


@pytest.mark.parametrize("count", [2, 3])
async def test_upscale_of_a_series_whose_reference_took_seconds_asks_which_image(tmp_path, monkeypatch, count):
    # A /series made from a large photo on a slow link: its reply (deferred before the download)
    # carries image 1 and is older than the request's row by the download time. Every image is
    # offered, and nothing is made before the member chooses.
    serve = slow_cdn(monkeypatch, 4.0)
    async with world(tmp_path, flavour="aiearth", gateway={"per_image_latency": 0.1}) as w:
        photo = ("cat.png", image_bytes("PNG"), "image/png")
        series = await w.run("series", {"prompt": f"the cat's day in {count} images", "count": count},
                             attachments=[photo], timeout=40)  # fmt: skip
        await series.wait_for_final(timeout=20, quiet=0.5)
        row = (await w.ledger_rows())[-1]
        assert row["images_delivered"] == count, row
        monkeypatch.setattr(AttachmentStore, "handle", serve)
        calls = len(w.gateway.generation_requests)
        asked = await press(w, result_message(series), "upscale", row["id"])
        made = len(w.gateway.generation_requests) - calls
        menus = [c for m in asked.messages for r in m.get("components") or [] for c in r["components"]
                 if c.get("type") == 3]  # fmt: skip
        offered = [o["value"] for o in menus[0]["options"]] if menus else []
        assert made == 0 and offered == [str(n) for n in range(1, count + 1)], (
            f"offered {offered}, made {made} image(s); the press answered {asked.all_text()!r}"
        )
