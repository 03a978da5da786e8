"""Private threads after the bot's membership changes: removed from one, added to one."""

from __future__ import annotations

import asyncio

from tests.e2e.harness import world
from tests.e2e.staff import is_ephemeral
from tests.e2e.test_approval import approval_world
from tests.e2e.test_discord_double_permissions import EXPIRING, expired_turn_in


async def test_a_request_waiting_in_a_private_thread_the_bot_was_removed_from_is_not_made(tmp_path):
    # Bob asks in a private thread the bot is a member of; his request waits in line past
    # his reply's lifetime. Meanwhile the thread's owner removes the bot from the thread: Discord
    # tells the bot with THREAD_MEMBERS_UPDATE (removed_member_ids holds the bot's id) and from then
    # on refuses its posts there (50001). README: a request whose turn comes when neither way is
    # open "is withdrawn unbilled rather than made for nobody" (as dfef949 does for a private
    # thread the bot was never in).
    # discord.py keeps the thread in its cache after the bot's removal (it only dispatches
    # thread_remove), where it was taken for the bot's own: the images were made and billed, and
    # Discord refused the post. The bot now drops a private thread it leaves from the cache.
    async with world(tmp_path, start=False, **EXPIRING) as w:
        private = w.discord.add_private_thread(w.channel, "bob and the bot", members=[w.bob, w.discord.bot_user])

        # Remove the bot as soon as Bob's request is queued (before its turn).
        original = w.discord.invoke_command

        async def invoke_and_remove(name, options, **kwargs):
            handle = await original(name, options, **kwargs)
            if options.get("prompt") == "bob":
                await handle.wait_for_ack()
                await asyncio.sleep(0.2)
                private.member_ids.remove(w.discord.bot_user.id)
                await w.discord.dispatch("THREAD_MEMBERS_UPDATE", {
                    "id": str(private.id), "guild_id": str(w.guild.id),
                    "member_count": len(private.member_ids), "removed_member_ids": [str(w.discord.bot_user.id)]})
                await asyncio.sleep(0.1)
            return handle

        w.discord.invoke_command = invoke_and_remove
        row, _bob = await expired_turn_in(w, private)
        asked = [r.json["prompt"] for r in w.gateway.generation_requests]
        refused = [(r.method, r.path, r.status) for r in w.discord.requests
                   if r.status >= 400 and r.path.startswith(f"/channels/{private.id}")]
        assert "bob" not in asked, (
            f"Bob's images were made (server billed {row['cost_micros']} µ$ by the gateway) for a private thread "
            f"the bot was removed from; Discord refused: {refused}; ledger: {row['status']}/{row['error_code']}")


async def test_approval_accepted_in_a_private_thread_the_bot_was_added_to_after_start(tmp_path):
    # The bot is added to Alice's private thread while it runs (THREAD_CREATE with
    # its thread member, as Discord sends it): her request in approval mode is accepted for the
    # moderators, not refused as "the bot cannot post here".
    async with world(tmp_path, start=False, default_daily_images=20) as w:
        private = w.discord.add_private_thread(w.channel, "alice's", members=[w.alice])
        await approval_world(w)
        await w.discord.add_thread_member(private, w.discord.bot_user)
        await asyncio.sleep(0.2)
        asked = await w.run("imagine", {"prompt": "a fox"}, channel=private)
        assert is_ephemeral(asked) and "moderators" in asked.all_text(), asked.all_text()
