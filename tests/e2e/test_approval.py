"""Approval mode end to end: requests wait for a moderator; approve runs them once, reject tells the
member; the buttons work after a restart and only for moderators."""

from __future__ import annotations

import asyncio
import base64
import io
import re
from datetime import UTC, datetime, timedelta

from PIL import Image

from tests.e2e.harness import World, world
from tests.e2e.staff import EPHEMERAL, Staff, add_staff, eventually, is_ephemeral


async def approval_world(w: World) -> Staff:
    staff = add_staff(w)
    await w.start_bot()
    on = await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin,
                     subcommand="approval")
    assert f"<#{staff.mods_channel.id}>" in on.all_text()
    return staff


async def lower_daily_limit(w: World, staff: Staff, images: int) -> None:
    """Alice's daily limit lowered by an admin while her request waits for a moderator (one over
    a limit no decision could change is refused when asked: `screen_for_approval`)."""
    done = await w.run("quota", {"member": w.alice, "daily_images": images}, user=staff.admin, subcommand="set")
    assert is_ephemeral(done), done.all_text()


def review_message(w: World, staff: Staff) -> dict:
    [message] = w.discord.channel_messages(staff.mods_channel)
    return message


def button(message: dict, action: str) -> str:
    ids = [c["custom_id"] for row in message["components"] for c in row["components"]]
    [custom_id] = [i for i in ids if i.startswith(f"approval:{action}:")]
    return custom_id


def channel_text(w: World) -> str:
    return "\n".join(m.get("content") or "" for m in w.discord.channel_messages(w.channel))


def channel_files(w: World) -> list[dict]:
    return [a for m in w.discord.channel_messages(w.channel) for a in m.get("attachments", [])]


async def submit(w: World, prompt: str = "a red fox in snow", count: int = 2):
    inter = await w.run("imagine", {"prompt": prompt, "count": count})
    assert "sent to the moderators" in inter.all_text()
    assert is_ephemeral(inter)
    assert w.gateway.generation_requests == []
    assert await w.ledger_rows() == []  # nothing reserved while waiting
    return inter


async def test_approve_posts_the_images_where_the_member_asked_and_charges_once(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await submit(w)
        message = review_message(w, staff)
        text = message["content"]
        assert "a red fox in snow" in text and f"<@{w.alice.id}>" in text
        assert "$0.324" in text  # 2 images x $0.162, the most it can cost

        # Two moderators press Approve at the same moment: one decides, the other is told.
        first, second = await asyncio.gather(
            w.discord.click_button(message, button(message, "approve"), user=staff.moderator),
            w.discord.click_button(message, button(message, "approve"), user=staff.admin),
        )
        await eventually(lambda: len(channel_files(w)) == 2 and "cost" in channel_text(w))
        await first.wait_for_final()
        await second.wait_for_final()
        told = [h for h in (first, second) if "already approved" in h.all_text()]
        assert len(told) == 1 and is_ephemeral(told[0])

        assert f"<@{w.alice.id}>" in channel_text(w)
        assert "a red fox in snow" in channel_text(w)
        assert len(w.gateway.generation_requests) == 1
        [row] = await w.ledger_rows()
        assert row["status"] == "settled" and row["user_id"] == w.alice.id
        assert row["cost_micros"] == 324_000
        decided = review_message(w, staff)
        assert "Approved by" in decided["content"] and not decided.get("components")
        [entry] = [e for e in await w.storage.audit.recent(w.guild.id) if e.action == "request.approved"]
        assert entry.request_id == row["id"]


async def test_reject_tells_the_member_and_spends_nothing(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await submit(w, "a castle at night", count=1)
        message = review_message(w, staff)
        pressed = await w.discord.click_button(message, button(message, "reject"), user=staff.moderator)
        await pressed.wait_for_final()
        await eventually(lambda: "rejected" in channel_text(w))
        text = channel_text(w)
        assert f"<@{w.alice.id}>" in text and "Mod Mia" in text and "not charged" in text
        # what a moderator rejected is not repeated in public: the request is named by when it was made
        assert "castle" not in text and re.search(r"request of <t:\d+:f> was rejected", text), text
        assert "Rejected by" in review_message(w, staff)["content"]
        assert w.gateway.generation_requests == []
        assert await w.ledger_rows() == []
        assert [e.action for e in await w.storage.audit.recent(w.guild.id, action_prefix="request.")] == [
            "request.rejected"
        ]


async def test_the_buttons_still_work_after_a_restart(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await submit(w, "a lighthouse", count=1)
        await w.restart_bot()
        message = review_message(w, staff)
        pressed = await w.discord.click_button(message, button(message, "approve"), user=staff.moderator)
        await eventually(lambda: len(channel_files(w)) == 1 and "cost" in channel_text(w))
        await pressed.wait_for_final()
        [row] = await w.ledger_rows()
        assert row["status"] == "settled" and row["cost_micros"] == 162_000


async def test_a_member_without_moderator_rights_cannot_decide(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await submit(w, "a lighthouse", count=1)
        message = review_message(w, staff)
        for action in ("approve", "reject"):
            pressed = await w.discord.click_button(message, button(message, action), user=w.bob)
            await pressed.wait_for_final()
            assert "Only moderators" in pressed.all_text() and is_ephemeral(pressed)
        assert w.gateway.generation_requests == []
        assert await w.ledger_rows() == []
        assert "Approved by" not in review_message(w, staff)["content"]
        # The request is still waiting; a moderator can still approve it.
        pressed = await w.discord.click_button(message, button(message, "approve"), user=staff.moderator)
        await eventually(lambda: len(channel_files(w)) == 1)
        await pressed.wait_for_final()


async def test_a_quota_refusal_at_approval_is_told_to_moderator_and_member(tmp_path):
    async with world(tmp_path, start=False, default_daily_images=2) as w:
        staff = await approval_world(w)
        await submit(w, "two foxes", count=2)
        await lower_daily_limit(w, staff, 1)
        message = review_message(w, staff)
        pressed = await w.discord.click_button(message, button(message, "approve"), user=staff.moderator)
        await pressed.wait_for_final()
        await eventually(lambda: "could not run" in channel_text(w))
        assert "daily limit of 1" in pressed.all_text()
        assert "daily limit of 1" in channel_text(w)
        assert "could not run" in review_message(w, staff)["content"]
        assert w.gateway.generation_requests == []


async def test_blocked_terms_are_refused_before_reaching_the_moderators(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await w.run("blocklist", {"term": "gore"}, user=staff.admin, subcommand="add")
        inter = await w.run("imagine", {"prompt": "lots of gore"})
        assert "refused" in inter.all_text()
        assert w.discord.channel_messages(staff.mods_channel) == []


async def test_reference_images_are_shown_to_the_moderators_and_sent_after_approval(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "PNG")
    png = buf.getvalue()
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        inter = await w.run("edit", {"prompt": "make the sky purple"}, attachments=[("photo.png", png, "image/png")])
        assert "sent to the moderators" in inter.all_text()
        message = review_message(w, staff)
        [attached] = message["attachments"]
        assert w.discord.attachment_bytes(attached) == png
        await w.restart_bot()
        pressed = await w.discord.click_button(message, button(message, "approve"), user=staff.moderator)
        await eventually(lambda: len(channel_files(w)) == 1 and "cost" in channel_text(w))
        await pressed.wait_for_final()
        images = w.gateway.generation_requests[-1].json["image"]
        [uri] = [images] if isinstance(images, str) else images
        assert base64.b64decode(uri.split(",", 1)[1]) == png


async def test_approve_during_a_shutdown_keeps_the_request_waiting_for_after_the_restart(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await submit(w, "a lighthouse", count=1)
        await w.bot.queue.drain(0)  # the bot is shutting down: it starts no new request
        message = review_message(w, staff)
        pressed = await w.discord.click_button(message, button(message, "approve"), user=staff.moderator)
        await pressed.wait_for_final()
        told = [m["content"] for m in pressed.messages if (m.get("flags") or 0) & EPHEMERAL]
        assert len(told) == 1 and "press Approve again" in told[0], pressed.all_text()
        review = review_message(w, staff)
        assert "Approved by" not in review["content"] and "could not run" not in review["content"]
        assert button(review, "approve") and button(review, "reject")
        assert "could not run" not in channel_text(w)  # the member has nothing to be told yet
        assert w.gateway.generation_requests == [] and await w.ledger_rows() == []

        await w.restart_bot()
        again = await w.discord.click_button(review, button(review, "approve"), user=staff.moderator)
        await eventually(lambda: len(channel_files(w)) == 1 and "cost" in channel_text(w))
        await again.wait_for_final()
        assert "Approved by" in review_message(w, staff)["content"]
        [row] = await w.ledger_rows()
        assert row["status"] == "settled"


async def test_moderators_read_the_whole_prompt_however_long(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        middle = "a calm meadow under a pale sky, " * 15 + "||hidden|| and then a red barn"  # ~500 chars
        await submit(w, middle, count=1)
        [review] = w.discord.channel_messages(staff.mods_channel)
        assert "and then a red barn" in review["content"] and not review.get("embeds")
        assert "\\|\\|hidden\\|\\|" in review["content"]  # shown as typed, not as a spoiler

        long = "a calm meadow under a pale sky, " * 60 + "and a burning barn at the very end"  # ~1950 chars
        await w.run("imagine", {"prompt": long, "count": 1})
        latest = w.discord.channel_messages(staff.mods_channel)[-1]
        assert f"{len(long)} characters, in full below" in latest["content"]
        [embed] = latest["embeds"]
        assert embed["description"] == long.strip()
        pressed = await w.discord.click_button(latest, button(latest, "approve"), user=staff.moderator)
        await pressed.wait_for_final()
        await eventually(lambda: len(channel_files(w)) == 1)
        assert w.gateway.generation_requests[-1].json["prompt"] == long.strip()


async def test_an_approved_request_gets_the_limits_of_the_roles_the_member_has_now(tmp_path):
    async with world(tmp_path, start=False, default_daily_images=2) as w:
        staff = add_staff(w)
        vip = w.discord.add_role(w.guild, "VIP")
        w.discord.add_member(w.guild, w.alice, roles=[vip])
        await w.start_bot()
        await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin,
                    subcommand="approval")
        await w.run("quota", {"role": vip}, user=staff.admin, subcommand="exempt")
        await submit(w, "four foxes", count=4)  # exempt when she asks
        w.discord.add_member(w.guild, w.alice, roles=[])  # VIP taken away while it waits
        message = review_message(w, staff)
        pressed = await w.discord.click_button(message, button(message, "approve"), user=staff.moderator)
        await pressed.wait_for_final()
        await eventually(lambda: "could not run" in channel_text(w))
        assert "daily limit of 2" in pressed.all_text()
        assert channel_files(w) == [] and w.gateway.generation_requests == []


async def test_approving_the_request_of_a_member_who_left_is_refused(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await submit(w, "a fox")
        del w.guild.members[w.alice.id]  # she left the server while it waited
        message = review_message(w, staff)
        pressed = await w.discord.click_button(message, button(message, "approve"), user=staff.moderator)
        await pressed.wait_for_final()
        assert f"<@{w.alice.id}> is not a member of this server." in pressed.all_text()
        assert "could not run" in review_message(w, staff)["content"]
        assert w.gateway.generation_requests == [] and await w.ledger_rows() == []


async def test_edit_in_approval_mode_is_acknowledged_privately_as_imagine_is(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 30, 200)).save(buf, "PNG")
    async with world(tmp_path, start=False) as w:
        await approval_world(w)
        inter = await w.run("edit", {"prompt": "a hat"}, attachments=[("p.png", buf.getvalue(), "image/png")])
        assert "sent to the moderators" in inter.all_text()
        assert is_ephemeral(inter)  # the channel does not read about it
        assert not [m for m in w.discord.channel_messages(w.channel) if "moderators" in (m.get("content") or "")]


def pinged(w: World, user) -> list[dict]:
    """The bot's messages in the member's channel that notify `user`."""
    return [
        m for m in w.discord.channel_messages(w.channel)
        if any(u["id"] == str(user.id) for u in m.get("mentions") or [])
    ]  # fmt: skip


async def test_an_approved_series_pings_the_member_once(tmp_path):
    async with world(tmp_path, start=False, gateway={"per_image_latency": 0.2}) as w:
        staff = await approval_world(w)
        inter = await w.run("series", {"prompt": "a fox in four seasons", "count": 4})
        assert "sent to the moderators" in inter.all_text()
        message = review_message(w, staff)
        pressed = await w.discord.click_button(message, button(message, "approve"), user=staff.moderator)
        await eventually(lambda: len(channel_files(w)) == 4 and "cost" in channel_text(w))
        await pressed.wait_for_final()
        posted = w.discord.channel_messages(w.channel)
        assert len(posted) > 1
        assert pinged(w, w.alice) == posted[:1]  # the first message notifies her, no other does
        assert all(f"<@{w.alice.id}>" in m["content"] for m in posted)  # each still names her


SEND_MESSAGES = 1 << 11


async def deny_bot_send(w: World, channel) -> None:
    await w.discord.set_overwrites(
        channel, [{"id": str(w.discord.bot_user.id), "type": 1, "allow": "0", "deny": str(SEND_MESSAGES)}]
    )


async def test_a_channel_the_bot_cannot_post_in_is_refused_before_the_moderators_see_it(tmp_path):
    # Slash commands work where the bot may not post: approved, its images would go to nobody.
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await deny_bot_send(w, w.channel)
        inter = await w.run("imagine", {"prompt": "a fox in a read-only channel"})
        assert "the bot cannot post here" in inter.all_text() and is_ephemeral(inter)
        assert w.discord.channel_messages(staff.mods_channel) == []
        assert await w.storage.db.fetchall("SELECT id FROM approvals") == []


async def test_a_decision_once_the_bot_cannot_post_for_the_member_makes_nothing_and_says_so(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await submit(w, "a fox approved", count=2)
        await submit(w, "a fox rejected", count=1)
        await deny_bot_send(w, w.channel)  # lost since they asked
        approved, rejected = w.discord.channel_messages(staff.mods_channel)
        yes = await w.discord.click_button(approved, button(approved, "approve"), user=staff.moderator)
        await yes.wait_for_final()
        no = await w.discord.click_button(rejected, button(rejected, "reject"), user=staff.moderator)
        await no.wait_for_final()
        assert w.gateway.generation_requests == []  # nothing made (and billed) for nobody
        assert [r["status"] for r in await w.ledger_rows()] in ([], ["refused"])
        assert "can no longer post in" in yes.all_text()
        for decision in (yes, no):  # the moderator knows the member was not told
            assert f"<@{w.alice.id}> could not be told in <#{w.channel.id}>" in decision.all_text()


async def test_approval_mode_refuses_a_moderators_channel_the_bot_cannot_post_in(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await deny_bot_send(w, staff.mods_channel)
        await w.start_bot()
        on = await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin,
                         subcommand="approval")
        assert f"The bot cannot post in <#{staff.mods_channel.id}>" in on.all_text()
        assert not w.bot.storage.guild_config.get(w.guild.id).needs_approval


async def test_history_of_a_request_the_moderators_never_saw_says_so(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await deny_bot_send(w, staff.mods_channel)  # the bot lost access to the moderators' channel
        inter = await w.run("imagine", {"prompt": "a fox nobody saw"})
        assert "cannot post in the moderators' channel" in inter.all_text()
        history = (await w.run("history", {}, user=w.alice)).all_text()
        assert "never decided (its review message could not be posted, or was removed), nothing charged" in history
        assert "<@None>" not in history and "<t:None" not in history


async def test_a_request_whose_review_message_was_deleted_is_withdrawn_and_its_member_told(tmp_path, monkeypatch):
    # A moderator tidied the channel: no one can decide it any more. Found at start, and while running.
    monkeypatch.setattr("cogs.approval.ORPHAN_SWEEP_SECONDS", 0.2)
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await submit(w, "a fox tidied away", count=1)
        await submit(w, "a fox still waiting", count=1)
        tidied, waiting = w.discord.channel_messages(staff.mods_channel)
        w.discord.messages[int(tidied["id"])].deleted = True
        await eventually(lambda: "a fox tidied away** was withdrawn" in channel_text(w))
        assert f"<@{w.alice.id}>" in channel_text(w) and "not charged" in channel_text(w)
        assert "a fox still waiting" not in channel_text(w)  # its review message is there: it waits
        history = (await w.run("history", {}, user=w.alice)).all_text()
        assert "never decided" in history and "waiting for a moderator" in history
        # The other one is decided as usual.
        yes = await w.discord.click_button(waiting, button(waiting, "approve"), user=staff.moderator)
        await yes.wait_for_final()
        await eventually(lambda: len(channel_files(w)) == 1)
        assert w.gateway.generation_requests[0].json["prompt"] == "a fox still waiting"
        assert len(w.gateway.generation_requests) == 1


async def test_a_request_left_without_a_review_message_by_a_crash_is_withdrawn_and_its_member_told(tmp_path):
    # The bot stopped between storing the request and recording its review message: no moderator
    # has buttons for it. Found at the next start.
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        record = {"prompt": "a fox nobody saw", "locale": "en-US", "model": "doubao-seedream-4-0-250828", "count": 1}
        approval_id = await w.bot.storage.approvals.create(
            guild_id=w.guild.id, channel_id=w.channel.id, user_id=w.alice.id, job=record,
            now=datetime.now(UTC) - timedelta(hours=1),
        )  # fmt: skip
        await w.restart_bot()
        await eventually(lambda: "a fox nobody saw** was withdrawn" in channel_text(w))
        assert (await w.bot.storage.approvals.get(approval_id)).status == "failed"
        assert w.discord.channel_messages(staff.mods_channel) == []
