"""A request's turn: the edit replacing its place in line (before its gateway call, only when a
place was shown), and a request withdrawn then because its results could reach no one."""

from __future__ import annotations

import asyncio
import re

from tests.e2e.harness import World, world
from tests.e2e.test_approval import approval_world, button

POSITION = re.compile(r"Queued: position (\d+)")
FAST = {"progress_edit_seconds": 0.2, "image_max_retries": 0}
SEND_MESSAGES = 1 << 11
SEND_MESSAGES_IN_THREADS = 1 << 38
QUOTAS = {"default_daily_images": 20, "default_monthly_usd": "5", "guild_monthly_budget_usd": "10"}


def content(event) -> str:
    return (event.message or {}).get("content") or ""


def buttons(message: dict | None) -> list[str]:
    rows = (message or {}).get("components") or []
    return [c.get("custom_id", "") for row in rows for c in row.get("components", [])]


async def turn_and_ask(w: World, prompt: str) -> tuple[float, float]:
    """When `prompt`'s place got its turn, and when the gateway was asked for it."""
    loop = asyncio.get_running_loop()
    turn_at = asked_at = None
    async with asyncio.timeout(15):
        while asked_at is None:
            rows = [r for r in await w.ledger_rows() if r["prompt"] == prompt]
            place = w.bot.queue.find(rows[0]["id"]) if rows else None
            if turn_at is None and place is not None and place.state == "running":
                turn_at = loop.time()
            if any(r.json["prompt"] == prompt for r in w.gateway.generation_requests):
                asked_at = loop.time()
            await asyncio.sleep(0.01)
    assert turn_at is not None
    return turn_at, asked_at


# -- latency ------------------------------------------------------------------------------------
async def test_a_request_that_waited_a_moment_waits_for_its_slow_defer_before_its_gateway_call(tmp_path):
    # Bob's request waits ~0.3 s behind alice's; Discord is slow to answer his defer (1.5 s, under
    # the 3 s limit). His place in line was never shown (its edit waits for the defer and is called
    # off at his turn): nothing is replaced, and his gateway call does not wait for the defer.
    async with world(tmp_path, gateway={"latency": 0.3}, max_concurrent_requests=1, **FAST) as w:
        alice = await w.discord.invoke_command("imagine", {"prompt": "alice"}, user=w.alice, guild=w.guild,
                                               channel=w.channel)  # fmt: skip
        await alice.wait_for_ack()
        slow_defer = w.discord.hold_next(1, method="POST", path="/callback")
        bob = await w.discord.invoke_command("imagine", {"prompt": "bob"}, user=w.bob, guild=w.guild,
                                             channel=w.channel)  # fmt: skip
        asyncio.get_running_loop().call_later(1.5, slow_defer.release)
        turn_at, asked_at = await turn_and_ask(w, "bob")
        await bob.wait_for(lambda e: bool((e.message or {}).get("attachments")), timeout=15)
        await bob.wait_for_final(timeout=10)
        assert slow_defer.hits == 1
        assert not any(POSITION.search(content(e)) for e in bob.events), "the place was never shown"
        assert asked_at - turn_at < 0.5, f"bob's gateway call waited {asked_at - turn_at:.2f} s after his turn"


# -- a request withdrawn at its turn ---------------------------------------------------------------
async def _bob_withdrawn_at_his_turn(w: World):
    await w.start_bot()
    await w.discord.set_overwrites(w.channel, [{"id": str(w.discord.bot_user.id), "type": 1, "allow": "0",
                                                "deny": str(SEND_MESSAGES | SEND_MESSAGES_IN_THREADS)}])
    other = w.discord.add_channel(w.guild, "other")
    first = await w.discord.invoke_command("imagine", {"prompt": "alice"}, user=w.alice, guild=w.guild,
                                           channel=other)  # fmt: skip
    await first.wait_for_ack()
    await asyncio.sleep(0.2)
    bob = await w.discord.invoke_command("imagine", {"prompt": "bob"}, user=w.bob, guild=w.guild,
                                         channel=w.channel)  # fmt: skip
    queued = (await bob.wait_for(lambda e: bool(POSITION.search(content(e))), timeout=5)).message
    async with asyncio.timeout(20):
        while not any(r["prompt"] == "bob" and r["status"] == "released" for r in await w.ledger_rows()):
            await asyncio.sleep(0.05)
    bob_row = next(r for r in await w.ledger_rows() if r["prompt"] == "bob")
    assert bob_row["error_code"] == "cannot_post", bob_row
    return bob, queued


async def test_cancel_pressed_after_a_cannot_post_withdrawal_tells_the_member_what_happened(tmp_path):
    # The withdrawal could not be said (reply expired, channel closed to the bot): the reply still
    # shows "Queued" with Cancel. The Cancel press has a fresh token of its own, the one way left
    # to tell the member (it used to answer only "no longer waiting ... can't be cancelled").
    async with world(tmp_path, start=False, discord={"token_ttl": 2.0}, gateway={"latency": 2.5},
                     max_concurrent_requests=1, progress_edit_seconds=0.2, **QUOTAS) as w:
        _bob, queued = await _bob_withdrawn_at_his_turn(w)
        [cancel] = [b for b in buttons(queued) if b.startswith("queue:cancel:")]
        click = await w.discord.click_button(queued, cancel, user=w.bob)
        await click.wait_for_final(timeout=10)
        message = w.discord.messages[int(queued["id"])].payload
        assert "can no longer post" in (message.get("content") or ""), (
            f"message: {message.get('content')!r}; press answered: {click.all_text()!r}"
        )
        history = (await w.run("history", {}, user=w.bob)).all_text()  # /history answers privately
        assert "nothing generated (the bot could not post there)" in history, history


async def test_a_request_withdrawn_at_its_turn_does_not_count_as_a_run_in_the_wait_estimate(tmp_path):
    async with world(tmp_path, start=False, discord={"token_ttl": 2.0}, gateway={"latency": 2.5},
                     max_concurrent_requests=1, progress_edit_seconds=0.2, **QUOTAS) as w:
        await _bob_withdrawn_at_his_turn(w)
        await asyncio.sleep(0.3)
        # "about N s" comes from recent runs: alice's (~2.5 s), not bob's withdrawal at once
        assert w.bot.queue.average_seconds() > 2.0, w.bot.queue.average_seconds()


# -- approval from a voice channel's text chat -------------------------------------------------------
async def test_approving_a_request_from_a_voice_channels_text_chat_does_not_say_it_was_deleted(tmp_path):
    async with world(tmp_path, start=False) as w:
        voice = w.discord.add_channel(w.guild, "lounge")
        voice.type = 2  # GUILD_VOICE: members may use commands in its text chat
        plain = voice.to_payload

        def voice_payload():
            return {**plain(), "bitrate": 64000, "user_limit": 0, "rtc_region": None}

        voice.to_payload = voice_payload  # type: ignore[method-assign]
        staff = await approval_world(w)
        inter = await w.run("imagine", {"prompt": "a fox by the river"}, channel=voice)
        assert "submitted" in inter.all_text() or "moderator" in inter.all_text(), inter.all_text()
        [review] = w.discord.channel_messages(staff.mods_channel)
        pressed = await w.discord.click_button(review, button(review, "approve"), user=staff.moderator)
        await pressed.wait_for_final()
        await asyncio.sleep(1.0)
        [review] = w.discord.channel_messages(staff.mods_channel)
        seen = review["content"] + "\n" + pressed.all_text()
        assert "deleted" not in seen, f"the voice channel exists, yet moderators read: {seen!r}"
