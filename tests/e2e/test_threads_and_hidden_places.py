"""The bot used in threads, forum posts and channels where its own permissions differ, end to end.

What the Discord double cannot show by itself, and how these tests stand in for it:
- it has no forum (15), voice (2), stage (13), announcement-thread (10) or private-thread (12)
  channel type; a forum is stood in for by setting `type = 15` on a channel before the bot
  connects (discord.py reads a forum payload with `.get`), nothing else of the double is changed;
- its threads are always unlocked and unarchived in payloads: a lock is told to the bot with a
  THREAD_UPDATE event, as Discord sends one;
- it serves /channels/... routes whatever the bot may see there (no VIEW_CHANNEL check on GET or
  DELETE): where the bot cannot see a channel, the test injects the answer the real Discord gives
  (403, code 50001 Missing Access);
- it asks Send Messages (not Send Messages in Threads) for a post in a thread.
"""

from __future__ import annotations

import asyncio

from tests.e2e.books import assert_books_balanced
from tests.e2e.harness import World, world
from tests.e2e.staff import add_staff, eventually, is_ephemeral
from tests.e2e.test_approval import approval_world, button
from tests.e2e.test_odd_places import rows_closed
from tests.e2e.test_result_buttons import press, result_message

PRICE = 162_000  # Seedream 4.0 on gogogotoken.com, per image
QUOTAS = {"default_daily_images": 20, "default_monthly_usd": "5", "guild_monthly_budget_usd": "10"}
VIEW_CHANNEL = 1 << 10
GUILD_FORUM = 15
MANAGE_THREADS = 1 << 34


def bot_denied(w: World, bits: int) -> list[dict]:
    return [{"id": str(w.discord.bot_user.id), "type": 1, "allow": "0", "deny": str(bits)}]


def bug_lines(w: World) -> list[str]:
    return [line for line in w.logs.lines
            if "unexpected" in line or "Traceback" in line or line.startswith("ERROR")]


async def lock(w: World, thread) -> None:
    """A moderator locks the thread: Discord tells connected bots with THREAD_UPDATE."""
    payload = thread.to_payload()
    payload["thread_metadata"]["locked"] = True
    await w.discord.dispatch("THREAD_UPDATE", payload)
    await asyncio.sleep(0.1)


async def test_delete_in_a_thread_the_bot_cannot_see_says_so_instead_of_a_bot_failure(tmp_path):
    # A thread of a channel the bot may not see (an admin's overwrite; a private thread the bot was
    # never added to is the same to Discord). Members may still use /imagine there: the reply is
    # the interaction webhook's, and the images arrive (README; test_bot_permissions). Alice then
    # presses Delete under her result.
    # The bot deletes through the channel's route (DELETE /channels/{thread}/messages/{id}), which
    # the real Discord refuses without View Channel (403, 50001 Missing Access). Alice used to read
    # "Something went wrong on the bot's side" (and the log got a traceback); she is told that
    # Discord does not let the bot delete there, and whom to ask.
    async with world(tmp_path, start=False, **QUOTAS) as w:
        thread = w.discord.add_thread(w.channel, "sketches")
        await w.start_bot()
        await w.discord.set_overwrites(w.channel, bot_denied(w, VIEW_CHANNEL))
        made = await w.run("imagine", {"prompt": "a heron", "count": 2}, channel=thread)
        assert len(made.files()) == 2, made.all_text()  # the reply works where the bot cannot see
        [row] = await w.ledger_rows()
        # What the real Discord answers the bot for the thread's channel routes from now on.
        w.discord.fail_next(100, status=403, path=rf"^/channels/({w.channel.id}|{thread.id})/",
                            body={"code": 50001, "message": "Missing Access"})
        pressed = await press(w, result_message(made), "delete", row["id"])
        said = pressed.all_text()
        assert is_ephemeral(pressed), said
        assert "does not let the bot delete messages here" in said, said
        assert "went wrong on the bot's side" not in said, (
            f"Alice is told the bot broke (and the operator gets a traceback) when Delete meets a "
            f"channel the bot cannot see: {said!r}")
        assert bug_lines(w) == [], bug_lines(w)


async def test_approval_asked_in_a_locked_thread_is_refused_up_front_not_after_the_moderators_approve(tmp_path):
    # Approval mode. A thread was locked by a moderator (only those who may manage threads post
    # there; the bot may not). A member who can still use commands there (Alice, with Manage
    # Threads) runs /imagine in it.
    # The ask-time check read the permission bits only, not the lock, so the request went to the
    # moderators; an approval then could only fail (the decision's check reads the lock), and the
    # member's notice went into the locked thread, which Discord refuses (160005). README
    # (Moderation): where the member asks "is checked when they ask": they hear at once,
    # privately, that the thread is locked, and no review is posted.
    async with world(tmp_path, start=False, **QUOTAS) as w:
        keepers = w.discord.add_role(w.guild, "Thread keepers", MANAGE_THREADS)
        w.discord.add_member(w.guild, w.alice, [keepers])  # may still talk (and use commands) in a locked thread
        thread = w.discord.add_thread(w.channel, "announcements-talk")
        staff = await approval_world(w)
        await lock(w, thread)
        asked = await w.run("imagine", {"prompt": "a lighthouse"}, channel=thread)
        text = asked.all_text()
        assert is_ephemeral(asked), text
        assert w.discord.channel_messages(staff.mods_channel) == [], (
            f"a request from a locked thread the bot cannot post in went to the moderators; the member read: {text!r}")
        assert "thread is locked" in text, text


async def test_a_forum_post_under_an_allowed_forum_gets_its_results_and_reroll_there(tmp_path):
    # README: allowed channels may be forums, "and their threads: a forum's posts".
    # The forum is stood in for (the double has no forum type, see the module docstring).
    async with world(tmp_path, start=False, **QUOTAS) as w:
        staff = add_staff(w)
        forum = w.discord.add_channel(w.guild, "gallery")
        forum.type = GUILD_FORUM
        post = w.discord.add_thread(forum, "my herons")
        await w.start_bot()
        await w.run("settings", {"channel": forum}, user=staff.admin, subcommand="channels add")
        made = await w.run("imagine", {"prompt": "a heron"}, channel=post)
        assert len(made.files()) == 1 and not is_ephemeral(made), made.all_text()
        [row] = await w.ledger_rows()
        again = await press(w, result_message(made), "reroll", row["id"])
        assert len(again.files()) == 1, again.all_text()
        outside = await w.run("imagine", {"prompt": "a heron"})
        assert is_ephemeral(outside) and f"<#{forum.id}>" in outside.all_text(), outside.all_text()
        rows = await w.ledger_rows()
        assert [(r["channel_id"], r["status"], r["charged_micros"]) for r in rows] == [
            (post.id, "settled", PRICE), (post.id, "settled", PRICE), (w.channel.id, "refused", 0)]
        await assert_books_balanced(w.storage)


async def test_a_request_waiting_in_a_thread_locked_after_its_reply_expired_is_not_made(tmp_path):
    # Bob's request waits in line in a thread past his reply's lifetime (2 s in the
    # double); meanwhile a moderator locks the thread. His results could only be posted by the
    # bot in the locked thread, which Discord refuses: the gateway is not asked and nothing is billed.
    async with world(tmp_path, start=False, discord={"token_ttl": 2.0}, gateway={"latency": 2.5},
                     max_concurrent_requests=1, progress_edit_seconds=0.2, **QUOTAS) as w:
        other = w.discord.add_channel(w.guild, "other")
        thread = w.discord.add_thread(w.channel, "ideas")
        await w.start_bot()
        first = await w.discord.invoke_command("imagine", {"prompt": "alice"}, user=w.alice, guild=w.guild,
                                               channel=other)
        await first.wait_for_ack()
        await asyncio.sleep(0.2)
        bob = await w.discord.invoke_command("imagine", {"prompt": "bob"}, user=w.bob, guild=w.guild,
                                             channel=thread)
        await bob.wait_for_ack()
        await lock(w, thread)
        rows = {r["prompt"]: r for r in await rows_closed(w, 2)}
        await asyncio.sleep(0.3)
        assert [r.json["prompt"] for r in w.gateway.generation_requests] == ["alice"]
        assert (rows["bob"]["cost_micros"], rows["bob"]["charged_micros"]) == (0, 0), rows["bob"]
        assert not [m for m in w.discord.channel_messages(thread) if m.get("attachments")]
        await assert_books_balanced(w.storage)


async def test_an_approved_request_from_a_thread_the_bot_never_saw_lands_in_that_thread(tmp_path):
    # A thread made while the bot was connected but never announced to it (not in
    # its cache: read from the interaction, then fetched). Approved, the images go to the thread,
    # mentioning the member, charged once.
    async with world(tmp_path, start=False, **QUOTAS) as w:
        staff = await approval_world(w)
        thread = w.discord.add_thread(w.channel, "late")  # after the bot connected: no event
        asked = await w.run("imagine", {"prompt": "a late fox"}, channel=thread)
        assert is_ephemeral(asked) and "moderators" in asked.all_text(), asked.all_text()
        [review] = w.discord.channel_messages(staff.mods_channel)
        pressed = await w.discord.click_button(review, button(review, "approve"), user=staff.moderator)
        await pressed.wait_for_final()
        await eventually(lambda: any(m.get("attachments") for m in w.discord.channel_messages(thread)))
        [posted] = [m for m in w.discord.channel_messages(thread) if m.get("attachments")]
        assert posted["content"].startswith(f"<@{w.alice.id}>"), posted["content"]
        assert not [m for m in w.discord.channel_messages(w.channel) if m.get("attachments")]
        [row] = await rows_closed(w, 1)
        assert (row["channel_id"], row["status"], row["charged_micros"]) == (thread.id, "settled", PRICE)
