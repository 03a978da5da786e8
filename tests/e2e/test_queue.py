"""The fair queue end to end: order across members, position updates, Cancel, per-member limit."""

from __future__ import annotations

import asyncio
import re

from tests.doubles.image_gateway_double import Fault
from tests.e2e.harness import make_settings, world

POSITION = re.compile(r"Queued: position (\d+)")
FAST = {"progress_edit_seconds": 0.2, "image_max_retries": 0}


def members(w, *names):
    users = [w.discord.add_user(name) for name in names]
    for user in users:
        w.discord.add_member(w.guild, user)
    return users


def content(event) -> str:
    return (event.message or {}).get("content") or ""


def buttons(message: dict | None) -> list[str]:
    rows = (message or {}).get("components") or []
    return [c.get("custom_id", "") for row in rows for c in row.get("components", [])]


async def delivered(inter, timeout: float = 20.0):
    """Wait for the images (a queued message is final-looking long before its turn comes)."""
    await inter.wait_for(lambda e: bool((e.message or {}).get("attachments")), timeout=timeout)
    return await inter.wait_for_final(timeout=timeout)


async def submit(w, user, prompt: str):
    """Invoke /imagine and return once the request is in line (or already done)."""
    inter = await w.discord.invoke_command(
        "imagine", {"prompt": prompt}, user=user, guild=w.guild, channel=w.channel
    )
    await inter.wait_for_ack()
    while True:
        row = next((r for r in await w.ledger_rows() if r["prompt"] == prompt), None)
        if row is not None and (w.bot.queue.find(row["id"]) is not None or row["status"] != "pending"):
            return inter
        await asyncio.sleep(0.01)


async def test_requests_start_first_come_first_served_within_the_concurrency_limit(tmp_path):
    gateway = {"latency": 0.3, "max_concurrent": 2}  # the double answers 429 beyond two at once
    async with world(tmp_path, gateway=gateway, max_concurrent_requests=2, **FAST) as w:
        carol, dave = members(w, "carol", "dave")
        order = [(w.alice, "alice 1"), (w.bob, "bob 1"), (w.alice, "alice 2"), (carol, "carol 1"), (dave, "dave 1")]
        handles = [await submit(w, user, prompt) for user, prompt in order]
        for handle in handles:
            await delivered(handle)
        assert [len(h.files()) for h in handles] == [1] * 5, [h.all_text() for h in handles]
        started = [r.json["prompt"] for r in w.gateway.generation_requests]
        assert started == [prompt for _, prompt in order]


async def test_a_member_over_the_in_flight_limit_is_refused_and_nothing_is_reserved(tmp_path):
    async with world(tmp_path, max_concurrent_requests=1, max_requests_per_member=2, **FAST) as w:
        w.gateway.script(Fault.hang(), times=1)
        await submit(w, w.alice, "one")
        await submit(w, w.alice, "two")
        refused = await w.run("imagine", {"prompt": "three"})
        assert "You already have 2 requests waiting or running" in refused.all_text()
        assert refused.callback_type == 4 and refused.callback_data["flags"] & 64  # only alice sees it
        assert [row["prompt"] for row in await w.ledger_rows()] == ["one", "two"]
        other = await submit(w, w.bob, "bob's turn")  # other members are not limited by alice
        await other.wait_for(lambda e: "Queued: position 2" in content(e))


async def test_a_waiting_request_shows_its_position_moving_up_then_its_stage(tmp_path):
    async with world(tmp_path, gateway={"latency": 0.4}, max_concurrent_requests=1, **FAST) as w:
        carol, dave = members(w, "carol", "dave")
        w.gateway.script(Fault.delay(1.0), times=1)  # alice's takes a while: the rest line up behind
        ahead = [await submit(w, user, f"{user.username}'s picture") for user in (w.alice, w.bob, carol)]
        last = await submit(w, dave, "dave's picture")
        await delivered(last)
        edits = [e for e in last.events if e.kind == "original_edit"]
        positions = [int(m[1]) for m in (POSITION.search(content(e)) for e in edits) if m]
        assert positions == [3, 2, 1]
        assert "queue:cancel:" in buttons(edits[0].message)[0]
        generating = next(i for i, e in enumerate(edits) if content(e).startswith("Generating"))
        assert generating > max(i for i, e in enumerate(edits) if POSITION.search(content(e)))
        assert not any("queue:cancel" in b for b in buttons(last.messages[0]))  # no Cancel on the result
        assert len(last.files()) == 1
        for handle in ahead:
            await delivered(handle)


async def test_cancel_withdraws_a_waiting_request_and_releases_its_reservation(tmp_path):
    async with world(tmp_path, max_concurrent_requests=1, default_daily_images=1, **FAST) as w:
        (carol,) = members(w, "carol")
        w.gateway.script(Fault.hang(), times=1)  # alice's request keeps the only slot busy
        await submit(w, w.alice, "alice's picture")
        waiting = await submit(w, w.bob, "bob's picture")
        queued = (await waiting.wait_for(lambda e: bool(POSITION.search(content(e))))).message
        [cancel] = [b for b in buttons(queued) if b.startswith("queue:cancel:")]

        stranger = await w.discord.click_button(queued, cancel, user=carol)
        await stranger.wait_for_final(timeout=10)
        assert "Only the member who asked" in stranger.all_text()
        assert POSITION.search(waiting.original.payload["content"])  # still waiting

        click = await w.discord.click_button(queued, cancel, user=w.bob)
        await click.wait_for_ack()
        await waiting.wait_for(lambda e: "Cancelled" in content(e), timeout=10)
        assert waiting.original.payload["content"] == "Cancelled. You were not charged."
        assert buttons(waiting.original.payload) == []
        bob_row = next(r for r in await w.ledger_rows() if r["user_id"] == w.bob.id)
        assert (bob_row["status"], bob_row["charged_micros"]) == ("released", 0)
        assert [r.json["prompt"] for r in w.gateway.generation_requests] == ["alice's picture"]

        usage = await w.run("usage", user=w.bob)
        assert "Images today: 0 of 1" in usage.all_text()  # the reserved image was given back


async def test_a_double_click_on_cancel_cancels_once_and_says_so_both_times(tmp_path):
    async with world(tmp_path, max_concurrent_requests=1, **FAST) as w:
        waiting, queued, cancel = await _waiting_with_cancel(w)
        first, second = await asyncio.gather(*(w.discord.click_button(queued, cancel, user=w.bob) for _ in range(2)))
        for press in (first, second):
            await press.wait_for_final(timeout=5)
            assert "no longer waiting" not in press.all_text(), press.all_text()
        await waiting.wait_for(lambda e: "Cancelled" in content(e), timeout=10)
        bob_row = next(r for r in await w.ledger_rows() if r["user_id"] == w.bob.id)
        assert (bob_row["status"], bob_row["error_code"]) == ("released", "cancelled")


async def _waiting_with_cancel(w):
    """Alice's request keeps the only slot busy; bob's waits with its Cancel button."""
    w.gateway.script(Fault.hang(), times=1)
    await submit(w, w.alice, "alice's picture")
    waiting = await submit(w, w.bob, "bob's picture")
    queued = (await waiting.wait_for(lambda e: bool(POSITION.search(content(e))))).message
    [cancel] = [b for b in buttons(queued) if b.startswith("queue:cancel:")]
    return waiting, queued, cancel


async def _after_the_token_expired(w, waiting) -> None:
    """Discord's 15 minutes for the request's own reply are over (3 s in this double)."""
    deadline = w.discord.token_ttl + 0.3
    await asyncio.sleep(max(deadline - (w.discord.loop_time() - waiting.dispatched_at), 0))


async def test_cancel_after_the_request_token_expired_answers_on_the_message_itself(tmp_path):
    async with world(tmp_path, discord={"token_ttl": 3}, max_concurrent_requests=1, **FAST) as w:
        w.guild.preferred_locale = "zh-CN"
        waiting, queued, cancel = await _waiting_with_cancel(w)
        await _after_the_token_expired(w, waiting)
        click = await w.discord.click_button(queued, cancel, user=w.bob, locale="de")  # no catalog: the server's
        await click.wait_for_final(timeout=10)
        message = w.discord.messages[int(queued["id"])].payload
        assert message["content"] == "已取消，未向你计费。"
        assert buttons(message) == []
        bob_row = next(r for r in await w.ledger_rows() if r["user_id"] == w.bob.id)
        assert (bob_row["status"], bob_row["charged_micros"]) == ("released", 0)


async def test_cancel_on_a_request_a_restart_stopped_says_so_and_that_nothing_was_charged(tmp_path):
    async with world(tmp_path, discord={"token_ttl": 3}, max_concurrent_requests=1, **FAST) as w:
        waiting, queued, cancel = await _waiting_with_cancel(w)
        await _after_the_token_expired(w, waiting)  # the restart cannot update the message any more
        await w.restart_bot()
        assert buttons(w.discord.messages[int(queued["id"])].payload) == [cancel]

        stranger = await w.discord.click_button(queued, cancel, user=w.alice)
        await stranger.wait_for_final(timeout=10)
        assert "Only the member who asked" in stranger.all_text()

        click = await w.discord.click_button(queued, cancel, user=w.bob)
        await click.wait_for_final(timeout=10)
        message = w.discord.messages[int(queued["id"])].payload
        assert message["content"] == (
            "This request was stopped when the bot restarted, so there is nothing to cancel. You were not charged."
        )
        assert buttons(message) == []
        bob_row = next(r for r in await w.ledger_rows() if r["user_id"] == w.bob.id)
        assert (bob_row["status"], bob_row["charged_micros"]) == ("released", 0)


async def test_an_old_cancel_button_does_not_withdraw_another_servers_request(tmp_path):
    # The operator starts afresh; in another server bob's request waits under the id the old
    # button carries: pressing that button must leave it alone.
    async with world(tmp_path, discord={"token_ttl": 3}, max_concurrent_requests=1, **FAST) as w:
        waiting, queued, cancel = await _waiting_with_cancel(w)
        await _after_the_token_expired(w, waiting)  # the restart cannot take the button away
        other = w.discord.add_guild("Other Server")
        for user in (w.alice, w.bob):
            w.discord.add_member(other, user)
        art = w.discord.add_channel(other, "art")
        w.settings = make_settings(tmp_path / "fresh", w.discord, w.gateway, max_concurrent_requests=1, **FAST)
        await w.restart_bot()
        w.gateway.script(Fault.hang(), times=1)
        for user, prompt in ((w.alice, "alice elsewhere"), (w.bob, "bob elsewhere")):
            await w.discord.invoke_command("imagine", {"prompt": prompt}, user=user, guild=other, channel=art)
        request_id = int(cancel.rsplit(":", 1)[1])
        async with asyncio.timeout(10):
            while (place := w.bot.queue.find(request_id)) is None or place.state != "waiting":
                await asyncio.sleep(0.02)

        click = await w.discord.click_button(queued, cancel, user=w.bob)
        await click.wait_for_final(timeout=10)
        assert click.callback_data["flags"] & 64 and "Cancelled" not in click.all_text()
        assert w.bot.queue.find(request_id) is not None  # still waiting in the other server
        assert next(r for r in await w.ledger_rows() if r["id"] == request_id)["status"] == "pending"


async def test_a_dropped_connection_while_showing_the_place_in_line_does_not_end_the_request(tmp_path):
    # Showing bob's place in line fails with a disconnect (not an HTTP status): that edit is
    # best effort, so his request still runs when its turn comes, and is paid for once.
    async with world(tmp_path, gateway={"latency": 1.0}, max_concurrent_requests=1, default_daily_images=2,
                     **FAST) as w:
        alice = await submit(w, w.alice, "alice 1")
        dropped = w.discord.drop_next(1, method="PATCH", path="/webhooks/")
        bob = await w.discord.invoke_command("imagine", {"prompt": "bob 1", "count": 2}, user=w.bob,
                                             guild=w.guild, channel=w.channel)
        await delivered(alice)
        await delivered(bob)
        assert dropped.hits == 1
        assert len(bob.files()) == 2
        rows = {row["prompt"]: row for row in await w.ledger_rows()}
        assert (rows["bob 1"]["status"], rows["bob 1"]["charged_micros"]) == ("settled", 2 * 162_000)


async def test_a_turn_is_not_held_up_by_a_place_in_line_edit_discord_rate_limits(tmp_path):
    # Bob's "Queued" edit gets a 429 with Retry-After 3 s: his turn runs anyway, at once.
    async with world(tmp_path, gateway={"latency": 0.5}, max_concurrent_requests=1, **FAST) as w:
        alice = await submit(w, w.alice, "alice")
        bob = await w.discord.invoke_command("imagine", {"prompt": "bob"}, user=w.bob, guild=w.guild,
                                             channel=w.channel)  # fmt: skip
        limited = w.discord.rate_limit_next(1, retry_after=3.0, method="PATCH", path=bob.token)
        turn_at = asked_at = None
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(10):
            while asked_at is None:
                rows = [r for r in await w.ledger_rows() if r["prompt"] == "bob"]
                place = w.bot.queue.find(rows[0]["id"]) if rows else None
                if turn_at is None and place is not None and place.state == "running":
                    turn_at = loop.time()
                if any(r.json["prompt"] == "bob" for r in w.gateway.generation_requests):
                    asked_at = loop.time()
                await asyncio.sleep(0.02)
        await delivered(alice)
        await delivered(bob)
        assert limited.hits == 1
        assert asked_at - turn_at < 1.0  # not the 3 s Discord asked that edit to wait


async def test_one_lost_progress_edit_does_not_freeze_the_reply_on_its_place_in_line(tmp_path):
    async with world(tmp_path, gateway={"latency": 0.6}, max_concurrent_requests=1, **FAST) as w:
        (carol,) = members(w, "carol")
        w.gateway.script(Fault.delay(1.0), times=1)
        alice = await submit(w, w.alice, "alice")
        carol_h = await submit(w, carol, "carol")
        bob = await submit(w, w.bob, "bob")
        await bob.wait_for(lambda e: "Queued: position 2" in content(e), timeout=5)
        lost = w.discord.drop_next(1, method="PATCH", path=bob.token)  # the "position 1" edit
        async with asyncio.timeout(10):
            while not any(r.json["prompt"] == "bob" for r in w.gateway.generation_requests):
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.4)  # two progress intervals into bob's run
        shown = bob.original.payload
        assert lost.hits == 1
        assert not POSITION.search(shown.get("content") or ""), shown.get("content")
        assert not [b for b in buttons(shown) if b.startswith("queue:cancel:")]
        for handle in (alice, carol_h, bob):
            await delivered(handle)


async def test_a_request_waiting_in_a_channel_that_is_deleted_leaves_the_line_unbilled(tmp_path):
    async with world(tmp_path, gateway={"latency": 1.0}, max_concurrent_requests=1, **FAST) as w:
        other = w.discord.add_channel(w.guild, "other")
        alice = await w.discord.invoke_command("imagine", {"prompt": "alice"}, user=w.alice, guild=w.guild,
                                               channel=other)  # fmt: skip
        await alice.wait_for_ack()
        bob = await submit(w, w.bob, "bob")
        await bob.wait_for(lambda e: bool(POSITION.search(content(e))), timeout=5)
        await w.discord.delete_channel(w.channel)
        await delivered(alice)
        await asyncio.sleep(0.5)  # bob's turn would have come by now
        assert [r.json["prompt"] for r in w.gateway.generation_requests] == ["alice"]
        bob_row = next(r for r in await w.ledger_rows() if r["prompt"] == "bob")
        assert (bob_row["status"], bob_row["error_code"], bob_row["cost_micros"]) == ("released", "channel_gone", 0)
        history = (await w.run("history", {}, user=w.bob, channel=other)).all_text()
        assert "nothing generated (its channel was deleted)" in history, history  # not "the service failed"
