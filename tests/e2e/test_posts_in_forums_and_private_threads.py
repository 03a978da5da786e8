"""What the bot posts as itself (not as an interaction reply) in forum posts, private threads,
locked and archived threads: budget warnings, approved requests, requests whose reply expired.
"""

from __future__ import annotations

import asyncio

from i18n import t
from tests.e2e.harness import World, world
from tests.e2e.staff import MANAGE_GUILD, add_staff, eventually, is_ephemeral
from tests.e2e.test_approval import approval_world, button

PRICE = 162_000  # Seedream 4.0 on gogogotoken.com, per image
QUOTAS = {"default_daily_images": 20, "default_monthly_usd": "5", "guild_monthly_budget_usd": "10"}
MANAGE_THREADS = 1 << 34


def refused(w: World) -> list[tuple[str, str, int]]:
    """Channel requests Discord refused the bot (not expired interaction tokens)."""
    return [(r.method, r.path, r.status) for r in w.discord.requests
            if r.status >= 400 and r.path.startswith("/channels/")]


def bug_lines(w: World) -> list[str]:
    return [line for line in w.logs.lines if "Traceback" in line or line.startswith("ERROR")]


async def closed_row(w: World, prompt: str, timeout: float = 30.0) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            rows = {r["prompt"]: r for r in await w.ledger_rows()}
            if prompt in rows and rows[prompt]["status"] != "pending":
                return rows[prompt]
            await asyncio.sleep(0.05)


async def test_budget_warning_set_in_a_locked_thread_is_refused_not_confirmed_and_lost(tmp_path):
    # An admin (Manage Server and Manage Threads, so they may still talk in the locked thread)
    # runs `/budget set 0.5 warn_percent:50` in a locked thread: no warn_channel, no approval
    # channel, so the warning goes to "the channel of the command" (README). The bot may not
    # post in a locked thread (no Manage Threads: Discord answers 160005).
    # It used to be confirmed ("A warning goes to <#thread> when 50% ...") and then refused by
    # Discord when the threshold came, told only in the operator's log. It is refused up front, as
    # a channel the bot cannot see is.
    async with world(tmp_path, start=False, **QUOTAS) as w:
        staff = add_staff(w)
        keepers = w.discord.add_role(w.guild, "Thread keepers", MANAGE_GUILD | MANAGE_THREADS)
        w.discord.add_member(w.guild, staff.admin, [keepers])
        thread = w.discord.add_thread(w.channel, "budget-talk", locked=True)
        await w.start_bot()
        done = await w.run("budget", {"amount": "0.5", "warn_percent": 50}, user=staff.admin, channel=thread,
                           subcommand="set")
        said = done.all_text()
        made = await w.run("imagine", {"prompt": "a heron", "count": 2})  # $0.324 of $0.50: over 50%
        assert len(made.files()) == 2, made.all_text()
        await asyncio.sleep(0.3)
        warned = [m for m in w.discord.channel_messages(thread) if "budget" in (m.get("content") or "")]
        assert warned or f"cannot post in <#{thread.id}>" in said, (
            f"the admin was told {said!r}, and the warning was then refused by Discord "
            f"(refused: {refused(w)}): nobody is warned")


async def test_an_approved_request_from_an_archived_private_thread_the_bot_is_in_is_made_there(tmp_path):
    # Alice asks in a private thread the bot was added to (approval mode). Moderators take longer
    # than the thread's auto-archive time: Discord archives it (THREAD_UPDATE). A moderator
    # approves. Discord would take the bot's post there (it is a member; a post reopens an
    # archived, unlocked thread).
    # An archived thread is not in discord.py's cache, which was read as "a private thread Discord
    # never told the bot of": the approval could not run, and the bot said so in that very thread.
    # The images are made and posted there, mentioning her, charged once.
    async with world(tmp_path, start=False, **QUOTAS) as w:
        private = w.discord.add_private_thread(w.channel, "alice and the bot", members=[w.alice, w.discord.bot_user])
        staff = await approval_world(w)
        asked = await w.run("imagine", {"prompt": "a fox"}, channel=private)
        assert is_ephemeral(asked) and "moderators" in asked.all_text(), asked.all_text()
        await w.discord.update_thread(private, archived=True)  # auto-archived while it waits
        await asyncio.sleep(0.2)
        [review] = w.discord.channel_messages(staff.mods_channel)
        pressed = await w.discord.click_button(review, button(review, "approve"), user=staff.moderator)
        await pressed.wait_for_final()
        decision = pressed.all_text()
        try:
            await eventually(lambda: any(m.get("attachments") for m in w.discord.channel_messages(private)),
                             timeout=8)
        except TimeoutError:
            notices = [m.get("content") for m in w.discord.channel_messages(private)]
            raise AssertionError(
                f"approved but not made; the moderator read {decision!r}; the bot posted in the thread it "
                f"says it cannot post in: {notices!r}") from None
        [posted] = [m for m in w.discord.channel_messages(private) if m.get("attachments")]
        assert posted["content"].startswith(f"<@{w.alice.id}>"), posted["content"]
        row = await closed_row(w, "a fox")
        assert (row["status"], row["charged_micros"]) == ("settled", PRICE), row


async def test_a_request_waiting_in_a_private_thread_the_bot_is_in_survives_the_thread_being_archived(tmp_path):
    # Bob asks in a private thread the bot is a member of; his request waits in line past his
    # reply's lifetime (2 s in the double), so his results can only be posted by the bot. The
    # thread is archived meanwhile (Discord auto-archives idle threads). Discord would take the
    # bot's post (a member; the post reopens the thread).
    # The archived thread was taken for one the bot is not in: the request was withdrawn, with a
    # notice the bot posted in that very thread. His image is made and posted there, charged once.
    async with world(tmp_path, start=False, discord={"token_ttl": 2.0}, gateway={"latency": 2.5},
                     max_concurrent_requests=1, progress_edit_seconds=0.2, **QUOTAS) as w:
        other = w.discord.add_channel(w.guild, "other")
        private = w.discord.add_private_thread(w.channel, "bob and the bot", members=[w.bob, w.discord.bot_user])
        await w.start_bot()
        first = await w.discord.invoke_command("imagine", {"prompt": "alice"}, user=w.alice, guild=w.guild,
                                               channel=other)
        await first.wait_for_ack()
        await asyncio.sleep(0.2)
        bob = await w.discord.invoke_command("imagine", {"prompt": "bob"}, user=w.bob, guild=w.guild, channel=private)
        await bob.wait_for_ack()
        await asyncio.sleep(0.3)
        await w.discord.update_thread(private, archived=True)
        row = await closed_row(w, "bob")
        await asyncio.sleep(0.3)
        said = [m.get("content") for m in w.discord.channel_messages(private)]
        assert "bob" in [r.json["prompt"] for r in w.gateway.generation_requests], (
            f"Bob's request was withdrawn ({row['error_code']}); the bot posted in the thread: {said!r}")
        posted = [m for m in w.discord.channel_messages(private) if m.get("attachments")]
        assert posted and f"<@{w.bob.id}>" in posted[0]["content"], said
        assert (row["status"], row["charged_micros"]) == ("settled", PRICE), row


async def test_approved_requests_from_a_forum_post_wait_in_line_and_arrive_in_the_post(tmp_path):
    # Approval mode, one slot. Alice's approved request runs in #images; Bob's,
    # asked in a forum post, is approved behind it: its place in line (with Cancel) is posted in
    # the post, mentioning him, deleted when his turn comes, and his image follows there.
    async with world(tmp_path, start=False, gateway={"latency": 1.5}, max_concurrent_requests=1, **QUOTAS) as w:
        forum = w.discord.add_forum(w.guild, "gallery")
        post = w.discord.add_forum_post(forum, "bob's herons", owner=w.bob)
        staff = await approval_world(w)
        await w.run("imagine", {"prompt": "first"})
        await w.run("imagine", {"prompt": "second"}, user=w.bob, channel=post)
        for review in w.discord.channel_messages(staff.mods_channel):
            pressed = await w.discord.click_button(review, button(review, "approve"), user=staff.moderator)
            await pressed.wait_for_final()
            await asyncio.sleep(0.3)

        def queued() -> list[dict]:
            return [m for m in w.discord.channel_messages(post) if "Queued" in (m.get("content") or "")]

        await eventually(queued, timeout=5)
        [waiting] = queued()
        assert waiting["content"].startswith(f"<@{w.bob.id}>"), waiting["content"]
        assert "queue:cancel:" in str(waiting["components"]), waiting
        row = await closed_row(w, "second")
        await eventually(lambda: not queued(), timeout=5)  # deleted when the turn came
        [posted] = [m for m in w.discord.channel_messages(post) if m.get("attachments")]
        assert posted["content"].startswith(f"<@{w.bob.id}>"), posted["content"]
        assert (row["channel_id"], row["status"], row["charged_micros"]) == (post.id, "settled", PRICE), row
        assert refused(w) == [] and bug_lines(w) == [], (refused(w), bug_lines(w))


async def test_budget_warning_is_refused_in_a_private_thread_the_bot_is_not_in(tmp_path):
    # /budget set with a warning, run in a private thread the bot was never added
    # to (the reply works there; a post by the bot would be refused, 50001), is refused up front.
    async with world(tmp_path, start=False, **QUOTAS) as w:
        staff = add_staff(w)
        private = w.discord.add_private_thread(w.channel, "admins only", members=[staff.admin])
        await w.start_bot()
        done = await w.run("budget", {"amount": "5", "warn_percent": 80}, user=staff.admin, channel=private,
                           subcommand="set")
        text = done.all_text()
        assert is_ephemeral(done), text
        assert text == t("budget.warn_cannot_post", "en-US", channel=f"<#{private.id}>"), text
