"""An admin changes the server's rules while members' requests wait in the bot's line (not approval
mode): a rule, like a limit, is applied at the request's turn, before anything is spent."""

from __future__ import annotations

import asyncio

from tests.doubles.image_gateway_double import Fault
from tests.e2e.books import closed_row_of
from tests.e2e.harness import World, world
from tests.e2e.staff import EPHEMERAL, add_staff, eventually, is_ephemeral
from tests.e2e.test_queue import FAST, submit


async def the_one_slot_taken(w: World) -> None:
    """One slot (MAX_CONCURRENT_REQUESTS=1): alice's request is at the gateway, answered 1.5 s late."""
    w.gateway.script(Fault.delay(1.5), times=1)
    await submit(w, w.alice, "a quiet harbour")
    await eventually(lambda: len(w.gateway.generation_requests) == 1)


async def _bob_waits_behind_alice(w: World, bob_prompt: str):
    await the_one_slot_taken(w)
    return await submit(w, w.bob, bob_prompt)


async def test_a_term_blocked_while_the_request_waits_in_line_is_not_sent_to_the_gateway(tmp_path):
    # An admin sees "a bloody battlefield" queued and runs /blocklist add bloody ("Blocked term
    # added. Prompts that contain it are refused."). The request, still in line, was made anyway,
    # posted and charged $0.162. At its turn it is released unbilled and the member told privately
    # (README: for a refused prompt "nothing reaches the gateway and nothing is charged"), as a
    # lowered limit is applied at the turn and a review is checked again when decided.
    async with world(tmp_path, start=False, max_concurrent_requests=1, **FAST) as w:
        staff = add_staff(w)
        await w.start_bot()
        bob = await _bob_waits_behind_alice(w, "a bloody battlefield")
        added = await w.run("blocklist", {"term": "bloody"}, user=staff.admin, subcommand="add")
        assert "Blocked term added" in added.all_text() and is_ephemeral(added)

        row = await closed_row_of(w, "a bloody battlefield")
        await bob.wait_for_final(timeout=10)
        assert [r.json["prompt"] for r in w.gateway.generation_requests] == ["a quiet harbour"], (
            "a prompt blocked while it waited in line was sent to the gateway"
        )
        assert (row["status"], row["error_code"], row["charged_micros"]) == ("released", "blocked_term", 0), row
        assert bob.files() == [], "the blocked prompt's image was posted"
        assert "Your prompt was refused: it contains something this server does not allow" in bob.all_text()
        assert [bool(m.get("flags", 0) & EPHEMERAL) for m in bob.messages] == [True], bob.messages  # privately
        history = (await w.run("history", {}, user=w.bob)).all_text()
        assert "blocked term" in history, history


async def test_approval_turned_on_while_a_request_waits_in_line_does_not_make_it_unreviewed(tmp_path):
    # The admin turns approval mode on ("Approval mode is on: requests go to #mods and wait for a
    # moderator.") while a request waits in line behind another: it was made and posted a second
    # later, no moderator ever seeing it. At its turn it is withdrawn unbilled, its member told to
    # ask again (which sends it to the moderators).
    async with world(tmp_path, start=False, max_concurrent_requests=1, **FAST) as w:
        staff = add_staff(w)
        await w.start_bot()
        bob = await _bob_waits_behind_alice(w, "an owl in a tuxedo")
        on = await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin,
                         subcommand="approval")
        assert "wait for a moderator" in on.all_text()

        await asyncio.sleep(2.5)  # alice's answer (1.5 s late) and bob's turn
        await bob.wait_for_final(timeout=10)
        reviews = [m.get("content") or "" for m in w.discord.channel_messages(staff.mods_channel)]
        made = [r.json["prompt"] for r in w.gateway.generation_requests]
        assert made == ["a quiet harbour"], f"made with approval mode on and no review: {made}, reviews {reviews}"
        assert "Approval mode was turned on while this waited" in bob.all_text(), bob.all_text()
        assert "not charged" in bob.all_text(), bob.all_text()
        assert not any(m.get("components") for m in bob.messages), bob.messages  # no Cancel left
        row = await closed_row_of(w, "an owl in a tuxedo")
        assert (row["status"], row["error_code"], row["charged_micros"]) == ("released", "approval_on", 0), row
        again = await w.run("imagine", {"prompt": "an owl in a tuxedo"}, user=w.bob)  # now it is reviewed
        await eventually(lambda: any("an owl in a tuxedo" in (m.get("content") or "")
                                     for m in w.discord.channel_messages(staff.mods_channel)))
        assert again.files() == []


async def test_a_quota_exemption_removed_while_waiting_in_line_applies_at_the_turn(tmp_path):
    # Bob's role is exempt from the daily limit of 2 when he asks for 4 images; the
    # exemption is removed while he waits: at his turn he is refused privately, nothing is made
    # or charged, the row is released (nothing left pending), and the public reply goes.
    async with world(tmp_path, start=False, max_concurrent_requests=1, default_daily_images=2, **FAST) as w:
        staff = add_staff(w)
        vip = w.discord.add_role(w.guild, "VIP")
        w.guild.members[w.bob.id].roles.append(vip.id)
        await w.start_bot()
        await w.run("quota", {"role": vip}, user=staff.admin, subcommand="exempt")
        w.gateway.script(Fault.delay(1.5), times=1)
        await submit(w, w.alice, "a quiet harbour")
        await eventually(lambda: len(w.gateway.generation_requests) == 1)
        bob = await w.discord.invoke_command("imagine", {"prompt": "four owls", "count": 4}, user=w.bob,
                                             guild=w.guild, channel=w.channel)
        await bob.wait_for_ack()
        while not any(r["prompt"] == "four owls" for r in await w.ledger_rows()):  # admitted, in line
            await asyncio.sleep(0.02)
        unexempt = await w.run("quota", {"role": vip, "exempt": False}, user=staff.admin, subcommand="exempt")
        assert "no longer exempt" in unexempt.all_text()

        row = await closed_row_of(w, "four owls")
        await bob.wait_for_final(timeout=10)
        assert (row["status"], row["error_code"], row["charged_micros"]) == ("released", "daily_images", 0)
        assert [r.json["prompt"] for r in w.gateway.generation_requests] == ["a quiet harbour"]
        assert "daily limit of 2" in bob.all_text() and bob.files() == []
        assert all(r["status"] != "pending" for r in await w.ledger_rows())
