"""Approved requests go through the same line as commands: the concurrency and per-member limits,
a graceful shutdown (withdrawn or stopped, the member told in their channel), and charges only for
the images delivered."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from i18n import t
from tests.doubles.image_gateway_double import Fault
from tests.e2e.harness import World, world
from tests.e2e.staff import Staff, eventually
from tests.e2e.test_approval import approval_world, button, channel_files, channel_text
from tests.e2e.test_queue import FAST

SEEDREAM_5 = "doubao-seedream-5-0-260128"


async def ask(w: World, user, prompt: str, command: str = "imagine", locale: str = "en-US", **options) -> None:
    inter = await w.run(command, {"prompt": prompt, **options}, user=user, locale=locale)
    assert t("approval.submitted", locale) in inter.all_text()


def review_of(w: World, staff: Staff, prompt: str) -> dict:
    [message] = [m for m in w.discord.channel_messages(staff.mods_channel) if prompt in (m.get("content") or "")]
    return message


async def approve(w: World, staff: Staff, prompt: str):
    message = review_of(w, staff, prompt)
    return await w.discord.click_button(message, button(message, "approve"), user=staff.moderator)


async def in_line(w: World, prompt: str, timeout: float = 15.0) -> None:
    """Until the approved request is admitted and waits in the bot's line."""

    async def waiting() -> None:
        while True:
            rows = [r for r in await w.ledger_rows() if r["prompt"] == prompt]
            place = w.bot.queue.find(rows[0]["id"]) if rows else None
            if place is not None and place.state == "waiting":
                return
            await asyncio.sleep(0.02)

    await asyncio.wait_for(waiting(), timeout)


async def alice_running_bob_waiting(w: World) -> Staff:
    """Approval mode, one slot: alice's approved "never answered" holds it (the gateway hangs),
    bob's approved "still in line" is admitted and waits for it."""
    staff = await approval_world(w)
    w.gateway.script(Fault.hang(), times=1)
    await ask(w, w.alice, "never answered")
    await ask(w, w.bob, "still in line")
    await approve(w, staff, "never answered")
    await eventually(lambda: len(w.gateway.generation_requests) == 1)
    await approve(w, staff, "still in line")
    await in_line(w, "still in line")
    return staff


async def row_of(w: World, prompt: str) -> dict:
    return next(r for r in await w.ledger_rows() if r["prompt"] == prompt)


async def test_approved_requests_wait_their_turn_and_a_shutdown_tells_their_members(tmp_path):
    async with world(tmp_path, start=False, max_concurrent_requests=1, **FAST) as w:
        await alice_running_bob_waiting(w)
        assert [r.json["prompt"] for r in w.gateway.generation_requests] == ["never answered"]

        await w.bot.shutdown(grace=0.5)
        text = channel_text(w)
        assert f"<@{w.alice.id}> The bot is restarting, so this request was stopped" in text
        assert f"<@{w.bob.id}> The bot is restarting, so this request was withdrawn before it started" in text
        assert channel_files(w) == []
        for prompt in ("never answered", "still in line"):
            row = await row_of(w, prompt)
            assert (row["status"], row["charged_micros"]) == ("released", 0)
        assert [r.json["prompt"] for r in w.gateway.generation_requests] == ["never answered"]


async def test_an_approved_request_counts_toward_the_members_limit_and_waits_rather_than_fail(tmp_path):
    # A moderator's decision is not thrown away because the member has another request in flight
    # (it would have to be asked, and reviewed, again): it waits for that one. It still counts:
    # the member's own new command is refused meanwhile.
    async with world(tmp_path, start=False, max_requests_per_member=1, **FAST) as w:
        staff = await approval_world(w)
        w.gateway.script(Fault.delay(1.5), times=1)
        await ask(w, w.alice, "first fox")
        await ask(w, w.alice, "second fox")
        await approve(w, staff, "first fox")
        await eventually(lambda: len(w.gateway.generation_requests) == 1)
        await approve(w, staff, "second fox")
        await w.run("settings", {"mode": "off"}, user=staff.admin, subcommand="approval")
        busy = await w.run("imagine", {"prompt": "a third fox"})
        assert "You already have 1 request waiting or running" in busy.all_text()
        await eventually(lambda: len(channel_files(w)) == 2, timeout=15)
        assert "could not run" not in channel_text(w)
        assert [r.json["prompt"] for r in w.gateway.generation_requests] == ["first fox", "second fox"]
        for _ in range(200):  # the books close just after the results are posted
            closed = [(r["prompt"], r["status"]) for r in await w.ledger_rows() if r["status"] != "refused"]
            if closed == [("first fox", "settled"), ("second fox", "settled")]:
                break
            await asyncio.sleep(0.05)
        assert closed == [("first fox", "settled"), ("second fox", "settled")]


async def test_a_stopped_approved_series_is_charged_only_for_the_images_delivered(tmp_path):
    gateway = {"per_image_latency": 30}  # the first image comes at once, the second never in time
    async with world(tmp_path, start=False, flavour="aiearth", gateway=gateway,
                     image_prices={SEEDREAM_5: Decimal("0.135")}, **FAST) as w:
        staff = await approval_world(w)
        await ask(w, w.alice, "four seasons", command="series", count=4)
        await approve(w, staff, "four seasons")
        await eventually(lambda: len(channel_files(w)) == 1)
        await w.bot.shutdown(grace=0.2)
        assert "this request was stopped" in channel_text(w)
        assert len(channel_files(w)) == 1
        [row] = await w.ledger_rows()
        assert (row["status"], row["images_delivered"], row["charged_micros"]) == ("settled", 1, 135_000)



def waiting_message(w: World, user) -> dict | None:
    """The bot's channel message showing `user`'s approved request in line, if any."""
    found = [m for m in w.discord.channel_messages(w.channel)
             if (m.get("content") or "").startswith(f"<@{user.id}> Queued: position")]  # fmt: skip
    return found[0] if found else None


async def test_an_approved_request_that_waits_shows_its_place_and_can_be_cancelled(tmp_path):
    async with world(tmp_path, start=False, max_concurrent_requests=1, **FAST) as w:
        await alice_running_bob_waiting(w)

        await eventually(lambda: waiting_message(w, w.bob) is not None)
        waiting = waiting_message(w, w.bob)
        assert "position 1" in waiting["content"]
        [cancel] = [c for row in waiting["components"] for c in row["components"]]
        assert cancel["label"] == "Cancel"
        pressed = await w.discord.click_button(waiting, cancel["custom_id"], user=w.bob)
        await pressed.wait_for_final(timeout=10)

        row = await row_of(w, "still in line")
        await eventually(lambda: w.bot.queue.find(row["id"]) is None)
        row = await row_of(w, "still in line")
        assert (row["status"], row["error_code"], row["charged_micros"]) == ("released", "cancelled", 0)
        await eventually(lambda: "Cancelled" in (w.discord.messages[int(waiting["id"])].payload["content"] or ""))
        assert not w.discord.messages[int(waiting["id"])].payload.get("components")
        assert [r.json["prompt"] for r in w.gateway.generation_requests] == ["never answered"]


async def test_the_place_in_line_goes_away_when_the_approved_request_starts(tmp_path):
    async with world(tmp_path, start=False, max_concurrent_requests=1, gateway={"latency": 1.0}, **FAST) as w:
        staff = await approval_world(w)
        await ask(w, w.alice, "first")
        await ask(w, w.bob, "second")
        await approve(w, staff, "first")
        await eventually(lambda: len(w.gateway.generation_requests) == 1)
        await approve(w, staff, "second")
        await eventually(lambda: waiting_message(w, w.bob) is not None)
        await eventually(lambda: len(channel_files(w)) == 2, timeout=20)  # both delivered
        assert waiting_message(w, w.bob) is None  # deleted when its turn came
        assert f"<@{w.bob.id}>" in channel_text(w)
        # The deleted place in line did not notify bob; the message with his image does.
        [result] = [m for m in w.discord.channel_messages(w.channel)
                    if m.get("attachments") and m["content"].startswith(f"<@{w.bob.id}>")]  # fmt: skip
        assert [u["id"] for u in result["mentions"]] == [str(w.bob.id)]


async def test_an_approved_series_goes_on_when_discord_refuses_one_of_its_messages(tmp_path):
    price = {SEEDREAM_5: Decimal("0.135")}
    async with world(tmp_path, start=False, flavour="aiearth", gateway={"per_image_latency": 0.3},
                     image_prices=price, **FAST) as w:  # fmt: skip
        staff = await approval_world(w)
        await ask(w, w.alice, "four seasons", command="series", count=5)
        refused = w.discord.fail_uploads(1, status=400)  # the first message with images
        await approve(w, staff, "four seasons")
        await eventually(lambda: "could not be posted" in channel_text(w), timeout=20)
        assert refused.hits == 1
        assert len(channel_files(w)) == 4  # the rest of the series still came
        row = await row_of(w, "four seasons")
        assert (row["status"], row["images_billed"], row["images_delivered"]) == ("settled", 5, 4)
        assert row["charged_micros"] == 4 * row["unit_price_micros"]
        assert "Something went wrong" not in channel_text(w)
