"""The Discord double refuses what the real Discord refuses to the bot, in channels and threads.

- Every /channels/{id}/... route answers 403 Missing Access (50001) where the bot cannot see the
  channel: no View Channel there; for a thread, in its parent; for a private thread, not a member
  and no Manage Threads. Interaction replies (callback, webhook) need no channel permission.
- A message in a thread needs Send Messages in Threads (not Send Messages), 50013 without it; a
  locked thread takes it only with Manage Threads (160005); an archived, unlocked one is reopened.
- Forums (15) with their posts (public threads under the forum) and private threads (12) with
  their members, in GUILD_CREATE and channel payloads as Discord shapes them.

The double is checked directly (its REST answers to the bot's token) and through the real bot.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import discord
from jsonschema import Draft202012Validator

from tests.doubles.discord_double import DiscordDouble
from tests.doubles.discord_double.spec import DEFAULT_SPEC_PATH
from tests.e2e.harness import World, world
from tests.e2e.staff import add_staff, eventually, is_ephemeral
from tests.e2e.test_result_buttons import result_message

VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
ATTACH_FILES = 1 << 15
MANAGE_THREADS = 1 << 34
SEND_MESSAGES_IN_THREADS = 1 << 38
PRICE = 162_000  # Seedream 4.0 on gogogotoken.com, per image
QUOTAS = {"default_daily_images": 20, "default_monthly_usd": "5", "guild_monthly_budget_usd": "10"}


def bot_denied(dd: DiscordDouble, bits: int, allow: int = 0) -> list[dict]:
    return [{"id": str(dd.bot_user.id), "type": 1, "allow": str(allow), "deny": str(bits)}]


class AsBot:
    """The double's REST API called with the bot's token, as discord.py would."""

    def __init__(self, dd: DiscordDouble, http: aiohttp.ClientSession) -> None:
        self.dd, self.http = dd, http

    async def __call__(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bot {self.dd.bot_token}"}
        async with self.http.request(method, self.dd.api_base + path, json=body, headers=headers) as resp:
            return resp.status, (await resp.json() if resp.status != 204 else None)

    async def post(self, channel_id: int, content: str = "hello") -> tuple[int, Any]:
        return await self("POST", f"/channels/{channel_id}/messages", {"content": content})


def refusal(answer: tuple[int, Any]) -> tuple[int, int | None]:
    status, body = answer
    return status, (body or {}).get("code") if status >= 400 else None


async def as_bot(dd: DiscordDouble) -> tuple[AsBot, aiohttp.ClientSession]:
    http = aiohttp.ClientSession()
    return AsBot(dd, http), http


# -- the double alone --------------------------------------------------------------------------------
async def test_channel_routes_where_the_bot_cannot_see_answer_missing_access():
    async with DiscordDouble() as dd:
        guild = dd.add_guild()
        alice = dd.add_user("alice")
        dd.add_member(guild, alice)
        open_channel = dd.add_channel(guild, "open")
        hidden = dd.add_channel(guild, "hidden", overwrites=bot_denied(dd, VIEW_CHANNEL))
        hidden_thread = dd.add_thread(hidden, "under a hidden channel")
        private = dd.add_private_thread(open_channel, "secret", members=[alice])
        joined = dd.add_private_thread(open_channel, "with the bot", members=[alice, dd.bot_user])
        message = await dd.post_user_message(hidden, alice, "hi", dispatch=False)
        api, http = await as_bot(dd)
        try:
            for channel in (hidden, hidden_thread, private):
                mid = message["id"]
                for method, path, body in [
                    ("GET", f"/channels/{channel.id}", None),
                    ("GET", f"/channels/{channel.id}/messages?limit=5", None),
                    ("POST", f"/channels/{channel.id}/messages", {"content": "hello"}),
                    ("POST", f"/channels/{channel.id}/typing", None),
                    ("GET", f"/channels/{channel.id}/messages/{mid}", None),
                    ("PATCH", f"/channels/{channel.id}/messages/{mid}", {"content": "edited"}),
                    ("DELETE", f"/channels/{channel.id}/messages/{mid}", None),
                ]:
                    status, answer = await api(method, path, body)
                    assert (status, answer) == (403, {"message": "Missing Access", "code": 50001}), (
                        channel.name, method, path, status, answer)
            assert refusal(await api("GET", "/channels/123456789")) == (404, 10003)
            assert refusal(await api("GET", f"/channels/{joined.id}")) == (200, None)  # a member sees it
            assert refusal(await api.post(joined.id)) == (200, None)
            # Those who may manage threads see every private thread.
            keepers = dd.add_role(guild, "keepers", MANAGE_THREADS)
            guild.members[dd.bot_user.id].roles.append(keepers.id)
            assert refusal(await api.post(private.id)) == (200, None)
            # A message of another channel is unknown in this one (the channel's access comes first).
            assert refusal(await api("GET", f"/channels/{joined.id}/messages/{message['id']}")) == (404, 10008)
            await dd.delete_channel(hidden)  # its threads go with it
            assert refusal(await api("GET", f"/channels/{hidden_thread.id}")) == (404, 10003)
        finally:
            await http.close()
        assert dd.internal_errors == [] and dd.spec_violations == []


async def test_a_thread_takes_the_bots_message_with_send_messages_in_threads_and_unlocked():
    async with DiscordDouble() as dd:
        guild = dd.add_guild()
        # Send Messages denied, Send Messages in Threads allowed: the thread takes it, the channel not.
        channel = dd.add_channel(guild, "talk", overwrites=bot_denied(dd, SEND_MESSAGES, SEND_MESSAGES_IN_THREADS))
        thread = dd.add_thread(channel, "ideas")
        closed = dd.add_channel(guild, "closed", overwrites=bot_denied(dd, SEND_MESSAGES_IN_THREADS))
        closed_thread = dd.add_thread(closed, "no bots")
        locked = dd.add_thread(channel, "locked", locked=True)
        archived = dd.add_thread(channel, "old", archived=True)
        api, http = await as_bot(dd)
        try:
            assert refusal(await api.post(thread.id)) == (200, None)
            assert refusal(await api.post(channel.id)) == (403, 50013)
            assert refusal(await api.post(closed.id)) == (200, None)  # Send Messages, not in Threads, here
            assert refusal(await api.post(closed_thread.id)) == (403, 50013)
            assert await api.post(locked.id) == (403, {"message": "Thread is locked", "code": 160005})
            assert refusal(await api.post(archived.id)) == (200, None)
            assert not archived.archived  # a post reopens an archived, unlocked thread
            _status, shown = await api("GET", f"/channels/{archived.id}")
            assert shown["thread_metadata"]["archived"] is False
            keepers = dd.add_role(guild, "keepers", MANAGE_THREADS)
            guild.members[dd.bot_user.id].roles.append(keepers.id)
            assert refusal(await api.post(locked.id)) == (200, None)  # Manage Threads posts in a locked one
            forum = dd.add_forum(guild, "gallery")
            assert await api.post(forum.id) == (400, {"message": "Cannot send messages in a non-text channel",
                                                       "code": 50008})
        finally:
            await http.close()
        assert dd.internal_errors == [] and dd.spec_violations == []


async def test_forums_and_private_threads_are_shaped_as_discord_sends_them():
    import json  # noqa: PLC0415

    spec = json.loads(DEFAULT_SPEC_PATH.read_text())
    components = spec["components"]

    def check(payload: dict, schema: str) -> None:
        validator = Draft202012Validator({"$ref": f"#/components/schemas/{schema}", "components": components})
        errors = [e.message for e in validator.iter_errors(payload)]
        assert errors == [], (schema, errors, payload)

    async with DiscordDouble() as dd:
        guild = dd.add_guild()
        alice = dd.add_user("alice")
        dd.add_member(guild, alice)
        text = dd.add_channel(guild, "general")
        forum = dd.add_forum(guild, "gallery", tags=["herons", "foxes"])
        post = dd.add_forum_post(forum, "my herons", owner=alice, content="look", tags=["herons"])
        private = dd.add_private_thread(text, "secret", members=[alice, dd.bot_user])
        hidden = dd.add_private_thread(text, "not for bots", members=[alice])
        payload = guild.gateway_payload(include_all_members=False, bot_id=dd.bot_user.id)
        channels = {c["id"]: c for c in payload["channels"]}
        threads = {t["id"]: t for t in payload["threads"]}
        check(channels[str(forum.id)], "GuildChannelResponse")
        assert channels[str(forum.id)]["type"] == 15 and channels[str(forum.id)]["last_message_id"] == str(post.id)
        assert [t["name"] for t in channels[str(forum.id)]["available_tags"]] == ["herons", "foxes"]
        for thread in (post, private):
            check(threads[str(thread.id)], "ThreadResponse")
        assert (threads[str(post.id)]["type"], threads[str(post.id)]["parent_id"]) == (11, str(forum.id))
        assert threads[str(post.id)]["owner_id"] == str(alice.id)
        assert threads[str(post.id)]["applied_tags"] == [forum.available_tags[0]["id"]]
        assert threads[str(private.id)]["type"] == 12
        assert threads[str(private.id)]["thread_metadata"]["invitable"] is True
        assert str(hidden.id) not in threads  # GUILD_CREATE lists the active threads the bot may see
        # A forum post opens with its owner's starter message, whose id is the post's.
        [starter] = dd.channel_messages(post)
        assert (starter["id"], starter["author"]["id"], starter["content"]) == (str(post.id), str(alice.id), "look")


# -- through the real bot -----------------------------------------------------------------------------
async def test_the_bot_reads_forums_and_private_threads_from_guild_create(tmp_path):
    async with world(tmp_path, start=False) as w:
        forum = w.discord.add_forum(w.guild, "gallery")
        post = w.discord.add_forum_post(forum, "my herons", owner=w.alice)
        private = w.discord.add_private_thread(w.channel, "secret", members=[w.alice, w.discord.bot_user])
        hidden = w.discord.add_private_thread(w.channel, "not for bots", members=[w.alice])
        await w.start_bot()
        guild = w.bot.get_guild(w.guild.id)
        assert isinstance(guild.get_channel(forum.id), discord.ForumChannel)
        seen_post = guild.get_thread(post.id)
        assert seen_post is not None and seen_post.parent_id == forum.id and seen_post.owner_id == w.alice.id
        seen_private = guild.get_thread(private.id)
        assert seen_private is not None and seen_private.type is discord.ChannelType.private_thread
        assert guild.get_thread(hidden.id) is None


async def test_a_forum_post_gets_its_results_in_the_reply_and_as_the_bot_once_the_reply_is_gone(tmp_path):
    # README: allowed channels may be forums, "and their threads: a forum's posts". Alice's
    # request is answered in its reply. Bob's two wait in line, the last past its reply's lifetime
    # (2 s in the double): it is posted in the post by the bot, mentioning him.
    async with world(tmp_path, start=False, discord={"token_ttl": 2.0}, gateway={"latency": 1.2},
                     max_concurrent_requests=1, progress_edit_seconds=0.2, **QUOTAS) as w:
        staff = add_staff(w)
        forum = w.discord.add_forum(w.guild, "gallery")
        post = w.discord.add_forum_post(forum, "my herons", owner=w.alice)
        await w.start_bot()
        await w.run("settings", {"channel": forum}, user=staff.admin, subcommand="channels add")
        made = await w.discord.invoke_command("imagine", {"prompt": "alice's heron"}, user=w.alice,
                                              guild=w.guild, channel=post)
        await eventually(lambda: made.files() and any(m.get("components") for m in made.messages), timeout=15)
        assert len(made.files()) == 1 and not is_ephemeral(made), made.all_text()
        for prompt in ("bob's heron", "bob's crane"):
            queued = await w.discord.invoke_command("imagine", {"prompt": prompt}, user=w.bob, guild=w.guild,
                                                    channel=post)
            await queued.wait_for_ack()
        async with asyncio.timeout(20):
            while len(rows := await w.ledger_rows()) < 3 or any(r["status"] == "pending" for r in rows):
                await asyncio.sleep(0.05)
        posted = [m for m in w.discord.channel_messages(post)
                  if m.get("attachments") and "interaction_metadata" not in m]
        assert posted and all(m["author"]["id"] == str(w.discord.bot_user.id) and f"<@{w.bob.id}>" in m["content"]
                              for m in posted), posted
        assert [(r["prompt"], r["channel_id"], r["charged_micros"]) for r in rows] == [
            (p, post.id, PRICE) for p in ("alice's heron", "bob's heron", "bob's crane")]
        again = await w.discord.click_button(result_message(made), f"sd:reroll:{rows[0]['id']}", user=w.alice)
        await eventually(lambda: len(again.files()) == 1, timeout=15)
        assert not [r for r in w.discord.requests if r.status in (400, 403)], "Discord refused the bot in the post"


async def test_a_reply_needs_no_channel_permission_in_a_private_thread_the_bot_is_not_in(tmp_path):
    # The interaction webhook is not a channel route: Alice's results arrive in her reply.
    async with world(tmp_path, start=False, **QUOTAS) as w:
        private = w.discord.add_private_thread(w.channel, "secret", members=[w.alice])
        await w.start_bot()
        made = await w.run("imagine", {"prompt": "a heron", "count": 2}, channel=private)
        assert len(made.files()) == 2 and made.rejections == [], made.all_text()
        assert not [r for r in w.discord.requests if r.path.startswith(f"/channels/{private.id}")
                    and r.status < 400], "the bot posted as itself in a thread it cannot see"


async def expired_turn_in(w: World, where, *, during=None) -> tuple[dict, Any]:
    """Alice's request runs in another channel; Bob's waits in line in `where` past his reply's
    lifetime, so his results can only be posted by the bot. `during(w)` runs once his images
    are being made. Returns his closed ledger row and his interaction."""
    other = w.discord.add_channel(w.guild, "other")
    await w.start_bot()
    first = await w.discord.invoke_command("imagine", {"prompt": "alice"}, user=w.alice, guild=w.guild,
                                           channel=other)
    await first.wait_for_ack()
    await asyncio.sleep(0.2)
    bob = await w.discord.invoke_command("imagine", {"prompt": "bob"}, user=w.bob, guild=w.guild, channel=where)
    await bob.wait_for_ack()
    if during is not None:
        async with asyncio.timeout(20):
            while [r.json["prompt"] for r in w.gateway.generation_requests] != ["alice", "bob"]:
                await asyncio.sleep(0.02)
        await during(w)
    async with asyncio.timeout(30):
        while True:
            rows = {r["prompt"]: r for r in await w.ledger_rows()}
            if "bob" in rows and rows["bob"]["status"] != "pending":
                return rows["bob"], bob
            await asyncio.sleep(0.05)


EXPIRING = {"discord": {"token_ttl": 2.0}, "gateway": {"latency": 2.5}, "max_concurrent_requests": 1,
            "progress_edit_seconds": 0.2, **QUOTAS}


async def test_results_go_to_a_thread_where_the_bot_may_send_in_threads_only_and_reopen_it(tmp_path):
    # Send Messages is denied in the channel, Send Messages in Threads allowed: Discord takes the
    # bot's results in the (archived) thread, and the post reopens it.
    async with world(tmp_path, start=False, **EXPIRING) as w:
        w.channel.overwrites = bot_denied(w.discord, SEND_MESSAGES, SEND_MESSAGES_IN_THREADS)
        thread = w.discord.add_thread(w.channel, "ideas")
        row, _bob = await expired_turn_in(w, thread, during=lambda w: w.discord.update_thread(thread, archived=True))
        [posted] = [m for m in w.discord.channel_messages(thread) if m.get("attachments")]
        assert f"<@{w.bob.id}>" in posted["content"], posted["content"]
        assert (row["status"], row["charged_micros"]) == ("settled", PRICE), row
        assert not thread.archived


async def test_results_refused_in_a_thread_that_lost_send_messages_in_threads_are_not_charged(tmp_path):
    # While Bob's images are being made (his reply expired), an admin takes Send Messages in
    # Threads from the bot in the thread's channel (Send Messages stays). Discord would refuse the
    # bot's post in the thread (403, 50013); the bot knows from its cache and sends none. Bob is
    # not charged for images nobody got.
    async with world(tmp_path, start=False, **EXPIRING) as w:
        thread = w.discord.add_thread(w.channel, "ideas")

        async def close(w: World) -> None:
            await w.discord.set_overwrites(w.channel, bot_denied(w.discord, SEND_MESSAGES_IN_THREADS))

        row, _bob = await expired_turn_in(w, thread, during=close)
        posts = [r.status for r in w.discord.requests
                 if r.method == "POST" and r.path == f"/channels/{thread.id}/messages"]
        assert posts == [], posts
        assert not [m for m in w.discord.channel_messages(thread) if m.get("attachments")]
        assert row["charged_micros"] == 0, row


async def test_a_request_waiting_in_a_private_thread_the_bot_is_not_in_is_not_made_once_its_reply_expired(tmp_path):
    # README: "A request whose turn comes when neither way is open (its reply expired while it
    # waited, and the bot may not post in the channel) is withdrawn unbilled rather than made for
    # nobody." A private thread the bot was never added to is closed to it (50001), whatever its
    # parent channel allows.
    async with world(tmp_path, start=False, **EXPIRING) as w:
        private = w.discord.add_private_thread(w.channel, "secret", members=[w.alice, w.bob])
        row, bob = await expired_turn_in(w, private)
        asked = [r.json["prompt"] for r in w.gateway.generation_requests]
        assert "bob" not in asked, (
            f"Bob's images were made (and billed {row['cost_micros']} µ$ to the server) for a private thread the "
            f"bot cannot post in; his reply reads {bob.all_text()!r}")
        assert row["cost_micros"] == 0, row
