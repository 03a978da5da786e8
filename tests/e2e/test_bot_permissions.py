"""The bot's own permissions and the kinds of channel it is used in.

Interaction replies go through the interaction webhook and need no channel permission; what the
bot posts as itself (results once the 15-minute token is gone, approved requests, notices) does.
Whatever it cannot deliver must not be made and billed for nobody, and whoever is told must be
told the truth."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.harness import World, world
from tests.e2e.staff import add_staff, eventually, is_ephemeral
from tests.e2e.test_approval import approval_world, button

VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
ATTACH_FILES = 1 << 15
EMBED_LINKS = 1 << 14
SEND_MESSAGES_IN_THREADS = 1 << 38
QUOTAS = {"default_daily_images": 20, "default_monthly_usd": "5", "guild_monthly_budget_usd": "10"}


def bot_denied(w: World, bits: int) -> list[dict]:
    return [{"id": str(w.discord.bot_user.id), "type": 1, "allow": "0", "deny": str(bits)}]


async def all_settled(w: World, count: int, timeout: float = 20.0) -> list[dict]:
    async with asyncio.timeout(timeout):
        while len(rows := await w.ledger_rows()) < count or any(r["status"] == "pending" for r in rows):
            await asyncio.sleep(0.05)
    return rows


def asked(w: World) -> list[str]:
    return [r.json["prompt"] for r in w.gateway.generation_requests]


# -- 1: the reply is the way out -------------------------------------------------------------------
async def test_imagine_in_a_channel_closed_to_the_bot_is_answered_in_its_reply_and_charged_once(tmp_path):
    # Members may use commands where the bot may not see, post or attach (Discord sends the
    # interaction anyway): the reply is the interaction webhook's, so the images arrive there.
    async with world(tmp_path, **QUOTAS) as w:
        await w.discord.set_overwrites(w.channel, bot_denied(w, VIEW_CHANNEL | SEND_MESSAGES | ATTACH_FILES))
        inter = await w.run("imagine", {"prompt": "a cat", "count": 2})
        assert len(inter.files()) == 2 and "a cat" in inter.all_text(), inter.all_text()
        [row] = await w.ledger_rows()
        assert (row["status"], row["images_delivered"], row["cost_micros"], row["charged_micros"]) == (
            "settled", 2, 324_000, 324_000)


# -- 1/2: the reply is gone by the request's turn, and the bot cannot post where it was asked ------
@pytest.mark.parametrize("where", ["channel", "thread"])
async def test_a_turn_after_the_token_expired_where_the_bot_cannot_post_makes_nothing(tmp_path, where):
    # A busy bot: bob's request waits in line past his reply's 15 minutes (2 s in this double), in
    # a channel (or a thread of one) where members may use commands but the bot may not post.
    # By his turn the results could only go to the channel as the bot, which Discord refuses:
    # the gateway must not be asked (and the server billed) for images no one can get.
    async with world(tmp_path, start=False, discord={"token_ttl": 2.0}, gateway={"latency": 2.5},
                     max_concurrent_requests=1, progress_edit_seconds=0.2, **QUOTAS) as w:
        other = w.discord.add_channel(w.guild, "other")
        target = w.discord.add_thread(w.channel, "ideas") if where == "thread" else w.channel
        await w.start_bot()
        await w.discord.set_overwrites(w.channel, bot_denied(w, SEND_MESSAGES | SEND_MESSAGES_IN_THREADS))
        first = await w.discord.invoke_command("imagine", {"prompt": "alice"}, user=w.alice, guild=w.guild,
                                               channel=other)  # fmt: skip
        await first.wait_for_ack()
        await asyncio.sleep(0.2)
        bob = await w.discord.invoke_command("imagine", {"prompt": "bob"}, user=w.bob, guild=w.guild,
                                             channel=target)  # fmt: skip
        await bob.wait_for_ack()
        rows = {r["prompt"]: r for r in await all_settled(w, 2)}
        # alice's reply expired too, but the bot may post where she asked: her image is there
        assert [a for m in w.discord.channel_messages(other) for a in m.get("attachments", [])]
        assert "bob" not in asked(w), (
            "bob's images were made (and billed) although his reply had expired and the bot cannot post in "
            f"the {where}; his reply still reads: {bob.all_text()!r}"
        )
        assert rows["bob"]["cost_micros"] == 0, rows["bob"]


# -- 3: approval mode ------------------------------------------------------------------------------
async def test_an_approved_request_whose_channel_closed_while_it_waited_makes_nothing(tmp_path):
    # The moderator approves while the bot may still post for the member; the request then waits
    # its turn, and meanwhile an admin closes the channel to the bot. README: "nothing is made for
    # nobody" - a deleted channel withdraws a waiting request; a closed one must not be billed either.
    async with world(tmp_path, start=False, gateway={"latency": 3.0}, max_concurrent_requests=1,
                     progress_edit_seconds=0.2) as w:  # fmt: skip
        other = w.discord.add_channel(w.guild, "other")
        staff = await approval_world(w)
        await w.run("imagine", {"prompt": "alice's fox", "count": 1}, channel=other)
        await w.run("imagine", {"prompt": "bob's fox", "count": 1}, user=w.bob)
        first, second = w.discord.channel_messages(staff.mods_channel)
        await w.discord.click_button(first, button(first, "approve"), user=staff.moderator)
        await eventually(lambda: asked(w) == ["alice's fox"])
        pressed = await w.discord.click_button(second, button(second, "approve"), user=staff.moderator)
        await pressed.wait_for_final()
        await eventually(lambda: any("bob's fox" in (m.get("content") or "") or "position" in (m.get("content") or "")
                                     for m in w.discord.channel_messages(w.channel)))  # waiting in line, shown
        assert asked(w) == ["alice's fox"]  # bob's still waits for his turn
        await w.discord.set_overwrites(w.channel, bot_denied(w, SEND_MESSAGES))
        rows = {r["prompt"]: r for r in await all_settled(w, 2)}
        assert "bob's fox" not in asked(w), "made and billed for a channel the bot could no longer post in"
        assert rows["bob's fox"]["cost_micros"] == 0, rows["bob's fox"]


async def test_approving_after_the_members_channel_was_deleted_does_not_say_images_were_made(tmp_path):
    async with world(tmp_path, start=False) as w:
        side = w.discord.add_channel(w.guild, "side")
        staff = await approval_world(w)
        await w.run("imagine", {"prompt": "a fox by the river"}, channel=side)
        await w.discord.delete_channel(side)
        [review] = w.discord.channel_messages(staff.mods_channel)
        pressed = await w.discord.click_button(review, button(review, "approve"), user=staff.moderator)
        await pressed.wait_for_final()
        assert w.gateway.generation_requests == [] and await w.ledger_rows() == []  # nothing made, nothing billed
        [review] = w.discord.channel_messages(staff.mods_channel)
        for seen in (review["content"], pressed.all_text()):  # the review message, and the moderator's reply
            assert "were made" not in seen, (
                f"moderators are told the images were made and could not be posted, but nothing was made: {seen!r}"
            )
            assert any(word in seen for word in ("deleted", "gone", "no longer exists")), seen


async def test_approval_in_a_thread_where_the_bot_may_not_send_in_threads_is_refused_up_front(tmp_path):
    # Discord asks Send Messages in Threads (not Send Messages) there; the parent's Send Messages
    # stays allowed, so only the thread permission tells.
    async with world(tmp_path, start=False) as w:
        thread = w.discord.add_thread(w.channel, "ideas")
        staff = await approval_world(w)
        await w.discord.set_overwrites(w.channel, bot_denied(w, SEND_MESSAGES_IN_THREADS))
        inter = await w.run("imagine", {"prompt": "a fox in a thread"}, channel=thread)
        assert is_ephemeral(inter) and "the bot cannot post here" in inter.all_text(), inter.all_text()
        assert w.discord.channel_messages(staff.mods_channel) == []
        assert await w.storage.db.fetchall("SELECT id FROM approvals") == []
        assert await w.ledger_rows() == []


# -- 4: DMs ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "options"), [
    ("imagine", {"prompt": "a cat"}), ("series", {"prompt": "a cat in 2 panels", "count": 2}),
    ("usage", {}), ("history", {}),
])  # fmt: skip
async def test_a_command_sent_from_a_dm_is_refused_clearly_and_costs_nothing(tmp_path, name, options):
    # The commands are registered for servers only, but a stale or crafted client can still send one.
    async with world(tmp_path, **QUOTAS) as w:
        inter = await w.discord.invoke_command(name, options, user=w.alice)  # no guild: the DM channel
        await inter.wait_for_final()
        assert is_ephemeral(inter) and "only in a server" in inter.all_text(), inter.all_text()
        assert w.gateway.generation_requests == [] and await w.ledger_rows() == []


# -- 5: admin settings naming a channel --------------------------------------------------------------
@pytest.mark.parametrize("missing", [VIEW_CHANNEL, ATTACH_FILES, EMBED_LINKS])
async def test_approval_mode_refuses_a_moderators_channel_without_view_attach_or_embed(tmp_path, missing):
    # (Send Messages is covered in test_approval.) Without Attach Files the reference images of
    # /edit requests could not go on the review message; without View Channel nothing can; without
    # Embed Links Discord drops the review's embeds, where a long prompt is read in full.
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.discord.set_overwrites(staff.mods_channel, bot_denied(w, missing))
        on = await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin,
                         subcommand="approval")
        assert f"The bot cannot post in <#{staff.mods_channel.id}>" in on.all_text(), on.all_text()
        assert not w.bot.storage.guild_config.get(w.guild.id).needs_approval


async def test_a_moderators_channel_that_lost_embed_links_gets_no_review_moderators_cannot_read(tmp_path):
    # Approval mode was set while the bot could embed; then Embed Links was taken away. A review
    # posted there would show "in full below" over nothing (Discord drops the embed), and the
    # moderators would approve words they never saw: the member is refused, nothing is charged.
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await w.discord.set_overwrites(staff.mods_channel, bot_denied(w, EMBED_LINKS))
        inter = await w.run("imagine", {"prompt": "a calm landscape with soft light " * 55})
        assert "cannot post in the moderators' channel" in inter.all_text(), inter.all_text()
        assert is_ephemeral(inter)
        assert w.discord.channel_messages(staff.mods_channel) == []
        assert w.gateway.generation_requests == [] and await w.ledger_rows() == []
