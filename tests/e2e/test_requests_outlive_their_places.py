"""Things that disappear or change while a request waits or runs: the member's reply deleted, the
bot removed from the server, the gateway's catalog changed under an open Variation form. (The
double has no helper for GUILD_DELETE: it is sent by hand.)"""

from __future__ import annotations

import asyncio

from tests.doubles.image_gateway_double.models import FLAVOURS
from tests.e2e.books import assert_books_balanced
from tests.e2e.harness import make_settings, world
from tests.e2e.staff import eventually, is_ephemeral
from tests.e2e.test_approval import approval_world, button
from tests.e2e.test_bot_permissions import ATTACH_FILES, SEND_MESSAGES, bot_denied
from tests.e2e.test_odd_places import PRICE, QUOTAS, bug_lines, rows_closed
from tests.e2e.test_result_buttons import _text_input_id, press, result_message


async def gateway_called(w, count: int = 1) -> None:
    async with asyncio.timeout(10):
        while len(w.gateway.generation_requests) < count:
            await asyncio.sleep(0.02)


async def bob_runs_alice_waits(w, *, alice_options: dict | None = None):
    """Bob's request runs; Alice's waits behind it (MAX_CONCURRENT_REQUESTS=1), her reply live."""
    running = await w.discord.invoke_command("imagine", {"prompt": "a running fox"}, user=w.bob,
                                             guild=w.guild, channel=w.channel)
    await gateway_called(w)
    waiting = await w.discord.invoke_command("imagine", {"prompt": "a waiting fox", **(alice_options or {})},
                                             user=w.alice, guild=w.guild, channel=w.channel)
    await waiting.wait_for_ack(10)
    await asyncio.sleep(0.3)
    return running, waiting


async def test_reply_deleted_mid_generation_in_a_channel_closed_to_the_bot_still_reaches_the_member(tmp_path):
    # Members may use commands where the bot may not post as itself (the reply is the interaction
    # webhook's and needs no permission). A moderator deletes Alice's "thinking..." reply while the
    # gateway works; her token still works for 15 minutes, so her image comes as a follow-up. It
    # was posted to the channel as the bot, which Discord refused: the paid image reached no one.
    async with world(tmp_path, gateway={"latency": 1.0}, **QUOTAS) as w:
        await w.discord.set_overwrites(w.channel, bot_denied(w, SEND_MESSAGES | ATTACH_FILES))
        inter = await w.discord.invoke_command("imagine", {"prompt": "a cat"}, user=w.alice, guild=w.guild,
                                               channel=w.channel)
        await inter.wait_for_ack(10)
        await gateway_called(w)
        inter.original.deleted = True  # a moderator tidied the channel
        [row] = await rows_closed(w, 1)
        await asyncio.sleep(0.5)
        assert row["cost_micros"] == PRICE  # the gateway made and billed it: the server paid
        assert len(inter.files()) == 1, (
            f"the paid image reached no one though the reply's token still worked; Alice saw: {inter.all_text()!r}")
        refused_posts = [r for r in w.discord.requests
                         if r.method == "POST" and r.path == f"/channels/{w.channel.id}/messages"]
        assert refused_posts == [], "the bot posted as itself where its permissions say it may not (403)"
        assert row["charged_micros"] == PRICE
        await assert_books_balanced(w.storage)


async def test_the_bot_removed_mid_generation_does_not_post_in_the_servers_channels(tmp_path):
    # Alice's reply token has expired (results would go to the channel as the bot); while the
    # gateway works, the server removes the bot (GUILD_DELETE). The server's spend records the
    # billed image, Alice pays nothing, and the bot sends nothing to a server it is no longer in
    # (it sent the upload and a failure notice, both refused: Discord counts refusals against a bot).
    async with world(tmp_path, discord={"token_ttl": 0.5}, gateway={"latency": 1.2}, **QUOTAS) as w:
        inter = await w.discord.invoke_command("imagine", {"prompt": "a cat"}, user=w.alice, guild=w.guild,
                                               channel=w.channel)
        await inter.wait_for_ack(10)
        await gateway_called(w)
        await asyncio.sleep(0.6)  # the token has expired
        before = len(w.discord.requests)
        w.discord.fail_next(100, status=403, path=f"^/channels/{w.channel.id}/",
                            body={"code": 50001, "message": "Missing Access"})
        await w.discord.dispatch("GUILD_DELETE", {"id": str(w.guild.id)})
        [row] = await rows_closed(w, 1)
        await asyncio.sleep(0.5)
        assert (row["cost_micros"], row["charged_micros"]) == (PRICE, 0), row  # books: right
        await assert_books_balanced(w.storage)
        assert bug_lines(w) == []
        after = [(r.method, r.path, r.status) for r in w.discord.requests[before:] if r.path.startswith("/channels/")]
        assert after == [], f"requests to a server that removed the bot: {after}"


async def test_reply_deleted_while_waiting_in_line_results_come_as_a_follow_up(tmp_path):
    # Alice's reply (her place in line) deleted while she waits; at her turn the image comes as a
    # follow-up through her token, charged once; the progress edit's 404 is no bug.
    async with world(tmp_path, gateway={"latency": 1.0}, max_concurrent_requests=1,
                     progress_edit_seconds=0.2, **QUOTAS) as w:
        _, waiting = await bob_runs_alice_waits(w)
        waiting.original.deleted = True
        rows = await rows_closed(w, 2)
        await asyncio.sleep(0.5)
        mine = next(r for r in rows if r["user_id"] == w.alice.id)
        posted = [m for m in waiting.messages if m.get("attachments")]
        assert len(posted) == 1 and "a waiting fox" in posted[0]["content"], waiting.kinds()
        assert (mine["status"], mine["charged_micros"]) == ("settled", PRICE)
        await assert_books_balanced(w.storage)
        assert bug_lines(w) == []


async def test_an_open_variation_form_submitted_after_its_model_left_the_catalog(tmp_path):
    # Alice opens Variation on a Seedream 4.5 result (gogogotoken.com); the bot is
    # restarted on gogogotoken.ai, whose ids differ (the result's model is gone). README: the
    # buttons and "an open Variation form" work after a restart; the model gives way as pick_model
    # does, and the cost is the new model's.
    async with world(tmp_path) as w:
        first = await w.run("imagine", {"prompt": "a castle", "model": "doubao-seedream-4-5-251128"})
        request_id = (await w.ledger_rows())[0]["id"]
        opened = await press(w, result_message(first), "variation", request_id)
        modal = opened.modal
        assert modal is not None, opened.kinds()
        await w.stop_bot()
        w.gateway.flavour = FLAVOURS["gogogotoken-ai"]
        w.settings = make_settings(w.tmp, w.discord, w.gateway, image_provider="gogogotoken-ai",
                                   image_prices={"doubao-seedream-5-0-lite": "0.035", "doubao-seedream-4-5": "0.04"})
        await w.start_bot()
        submitted = await w.discord.submit_modal(modal["custom_id"], {_text_input_id(modal): "a castle at night"},
                                                 user=w.alice, from_interaction=opened)
        rows = await rows_closed(w, 2)
        await submitted.wait_for_final(timeout=15)
        assert not is_ephemeral(submitted) and len(submitted.files()) == 1, submitted.all_text()
        assert [(r["model"], r["cost_micros"], r["charged_micros"]) for r in rows][1] == (
            w.gateway.generation_requests[-1].json["model"], 35_000, 35_000)
        await assert_books_balanced(w.storage)
        assert bug_lines(w) == []


async def test_an_approved_request_whose_channel_lost_attach_files_midway_is_told_in_words(tmp_path):
    # The bot may still write where it may no longer attach files: the images cannot be posted
    # (nothing is charged to the member) and the member is told so there, in a message without
    # files; no upload is sent that Discord would refuse.
    async with world(tmp_path, start=False, gateway={"latency": 1.0}, **QUOTAS) as w:
        staff = await approval_world(w)
        await w.run("imagine", {"prompt": "a moderated fox"})
        [review] = w.discord.channel_messages(staff.mods_channel)
        await w.discord.click_button(review, button(review, "approve"), user=staff.moderator)
        await gateway_called(w)
        await w.discord.set_overwrites(w.channel, bot_denied(w, ATTACH_FILES))
        [row] = await rows_closed(w, 1)
        await eventually(lambda: any(f"<@{w.alice.id}>" in (m.get("content") or "")
                                     for m in w.discord.channel_messages(w.channel)))  # fmt: skip
        [told] = [m for m in w.discord.channel_messages(w.channel) if f"<@{w.alice.id}>" in (m.get("content") or "")]
        assert not told.get("attachments") and "not charged" in told["content"], told["content"]
        assert (row["cost_micros"], row["charged_micros"]) == (PRICE, 0), row
        refused = [r for r in w.discord.requests if r.status == 403]
        assert refused == [], [(r.method, r.path) for r in refused]
        await assert_books_balanced(w.storage)
