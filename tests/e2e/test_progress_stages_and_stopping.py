"""Issue 5's promises about a request's visible progress and a graceful shutdown, checked end to end."""

from __future__ import annotations

import asyncio

from tests.doubles.image_gateway_double import Fault
from tests.e2e.harness import world
from tests.e2e.staff import add_staff, eventually
from tests.e2e.test_queue import content, submit

FAST = {"progress_edit_seconds": 0.2, "image_max_retries": 0}


async def test_the_uploading_stage_is_shown_while_the_images_go_up_to_discord(tmp_path):
    # Issue 5: "While it runs, the message shows the stage (generating, uploading) and elapsed time."
    # The reply used to read "Generating 1 image with Seedream 4.0… (0 s)" for the whole upload:
    # the stage changed when the image came, but the next edit was an interval away, and the
    # progress edits stop before the upload. A new stage is now shown at once (once edits began).
    async with world(tmp_path, gateway={"latency": 0.5}, **FAST) as w:
        upload = w.discord.fail_next(1, status=None, uploads_only=True)  # Discord slow to take the file
        inter = await w.discord.invoke_command(
            "imagine", {"prompt": "a slow upload"}, user=w.alice, guild=w.guild, channel=w.channel
        )
        await eventually(lambda: upload.hits == 1, timeout=10)
        await asyncio.sleep(1.5)  # seven progress intervals while the upload is held
        shown = [content(e) for e in inter.events if e.kind == "original_edit" and content(e)]
        upload.release()
        await inter.wait_for(lambda e: bool((e.message or {}).get("attachments")), timeout=10)
        await inter.wait_for_final(timeout=10)
        assert len(inter.files()) == 1
        assert any(text.startswith("Sending 1 image to Discord") for text in shown), shown


async def test_a_request_asked_during_a_shutdown_is_refused_in_approval_mode_too(tmp_path):
    # Issue 5: "Shutdown on SIGTERM or Ctrl-C is graceful: stop taking requests, and tell members
    # who try." In approval mode /imagine used to answer "Your request was sent to the moderators"
    # while the bot drained, and posted a new review; it gets the private "restarting" answer a
    # server without approval mode gets, and no review is posted.
    async with world(tmp_path, start=False, max_concurrent_requests=1, **FAST) as w:
        staff = add_staff(w)
        await w.start_bot()
        w.gateway.script(Fault.hang(), times=1)
        await submit(w, w.alice, "keeps the bot busy")  # running while the bot drains
        await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin,
                    subcommand="approval")
        reviews_before = len(w.discord.channel_messages(staff.mods_channel))
        stopping = asyncio.create_task(w.bot.shutdown(grace=2.0))
        await asyncio.sleep(0)  # the queue closes at once
        late = await w.run("imagine", {"prompt": "asked while stopping"}, user=w.bob)
        reviews_after = len(w.discord.channel_messages(staff.mods_channel))
        await stopping
        assert late.all_text() == "The bot is restarting; please try again in a minute.", late.all_text()
        assert reviews_after == reviews_before


async def test_a_reroll_pressed_during_a_shutdown_is_told_the_bot_is_restarting(tmp_path):
    # Issue 5: "stop taking requests, and tell members who try" (a button press is
    # a new request too: "Every press is a new request ... like a typed command").
    async with world(tmp_path, max_concurrent_requests=1, **FAST) as w:
        first = await w.run("imagine", {"prompt": "a red fox"})
        request_id = (await w.ledger_rows())[0]["id"]
        [message] = [m for m in first.messages if m.get("components")]
        w.gateway.script(Fault.hang(), times=1)
        await submit(w, w.bob, "keeps the bot busy")
        stopping = asyncio.create_task(w.bot.shutdown(grace=2.0))
        await asyncio.sleep(0)
        press = await w.discord.click_button(message, f"sd:reroll:{request_id}", user=w.alice)
        await press.wait_for_final(timeout=10)
        await stopping
        assert "The bot is restarting" in press.all_text(), press.all_text()
        assert press.callback_data["flags"] & 64
        assert [r["prompt"] for r in await w.ledger_rows()] == ["a red fox", "keeps the bot busy"]
