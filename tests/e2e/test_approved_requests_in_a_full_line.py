"""Approved requests waiting in a full line (MAX_CONCURRENT_REQUESTS=1) as limits change and the bot
restarts: no place-in-line message outlives its request, and the books balance."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tests.doubles.image_gateway_double import Fault
from tests.e2e.books import assert_books_balanced
from tests.e2e.harness import world
from tests.e2e.staff import eventually
from tests.e2e.test_approval import approval_world, channel_files, channel_text
from tests.e2e.test_approval_queue import approve, ask, in_line, waiting_message
from tests.e2e.test_queue import FAST


async def test_an_approved_request_refused_at_its_turn_by_a_lowered_limit_leaves_no_place_in_line(tmp_path):
    # Approval mode, one slot. alice's approved request runs (slow gateway); bob's approved
    # /series of 3 waits in line and the channel shows "<@bob> Queued: position 1, about 30 s until
    # it starts." with a Cancel button. An admin lowers bob's daily limit to 2; at bob's turn the
    # request is withdrawn, unbilled, and a NEW message says "This asks for 3 images, more than your
    # daily limit of 2 ...". But the old "Queued: position 1 ... [Cancel]" message stays in the
    # channel for good: it says bob's request is still waiting and offers a Cancel for a request
    # that no longer exists (the refusal was posted anew; a withdrawal by Cancel or a restart edits
    # that message). Now the place message goes, as at a turn.
    async with world(tmp_path, start=False, max_concurrent_requests=1, **FAST) as w:
        staff = await approval_world(w)
        w.gateway.script(Fault.delay(1.5), times=1)
        await ask(w, w.alice, "first fox")
        await ask(w, w.bob, "bob series", command="series", count=3)
        await approve(w, staff, "first fox")
        await eventually(lambda: len(w.gateway.generation_requests) == 1)
        await approve(w, staff, "bob series")
        await in_line(w, "bob series")
        await eventually(lambda: waiting_message(w, w.bob) is not None)
        await w.run("quota", {"member": w.bob, "daily_images": 2}, user=staff.admin, subcommand="set")

        await eventually(lambda: "daily limit of 2" in channel_text(w), timeout=15)
        await asyncio.sleep(1.0)  # anything done in the background after the notice
        [row] = [r for r in await w.ledger_rows() if r["prompt"] == "bob series"]
        assert (row["status"], row["error_code"], row["charged_micros"]) == ("released", "daily_images", 0)
        assert [r.json["prompt"] for r in w.gateway.generation_requests] == ["first fox"]
        stale = waiting_message(w, w.bob)
        assert stale is None, f"bob's channel still shows his withdrawn request in line: {stale['content']!r} " \
                              f"with {[c['label'] for r in stale.get('components') or [] for c in r['components']]}"
        await assert_books_balanced(w.storage)


async def test_a_restart_with_a_series_running_one_in_line_and_one_awaiting_review(tmp_path):
    # Approval mode, one slot, a slow streamed gateway: alice's approved /series of 3
    # has posted its first image, bob's approved request waits in line ("Queued ... [Cancel]"),
    # alice's second request waits for a moderator. A restart: alice is told she was charged for the
    # one image that reached her, bob that his was withdrawn unbilled (his place message says so,
    # no Cancel left), and the request under review keeps its Approve/Reject buttons. The books
    # balance and nothing is pending.
    price = {"doubao-seedream-5-0-260128": Decimal("0.135")}
    async with world(tmp_path, start=False, max_concurrent_requests=1, gateway={"per_image_latency": 30},
                     flavour="aiearth", image_prices=price, **FAST) as w:  # fmt: skip
        staff = await approval_world(w)
        await ask(w, w.alice, "long series", command="series", count=3)
        await ask(w, w.bob, "bob waits", count=2)
        await ask(w, w.alice, "alice waits for a moderator")
        await approve(w, staff, "long series")
        await eventually(lambda: len(channel_files(w)) == 1, timeout=10)
        await approve(w, staff, "bob waits")
        await in_line(w, "bob waits")
        await eventually(lambda: waiting_message(w, w.bob) is not None)
        await w.restart_bot()
        text = channel_text(w)
        assert f"<@{w.alice.id}> The bot is restarting, so this request was stopped: 1 of 3 images reached you " \
               "and you were charged $0.135 for it" in text, text
        assert f"<@{w.bob.id}> The bot is restarting, so this request was withdrawn before it started. " \
               "You were not charged" in text, text
        assert waiting_message(w, w.bob) is None
        assert not any(m.get("components") for m in w.discord.channel_messages(w.channel))
        [review] = [m for m in w.discord.channel_messages(staff.mods_channel)
                    if "alice waits for a moderator" in m["content"]]  # fmt: skip
        assert [c["label"] for r in review["components"] for c in r["components"]] == ["Approve", "Reject"]
        rows = await assert_books_balanced(w.storage)
        assert [(r["prompt"], r["status"], r["charged_micros"]) for r in rows] == [
            ("long series", "settled", 135_000), ("bob waits", "released", 0)]
