"""Moderators deciding the same request at the same moment, a review message that
goes away as a moderator presses, buttons on review messages older than the database, and the
books (ledger + approvals + audit) after each."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.harness import world
from tests.e2e.staff import EPHEMERAL, eventually, is_ephemeral
from tests.e2e.test_approval import approval_world, button, channel_files, channel_text, review_message, submit
from tests.e2e.test_approval_queue import ask, review_of


def approval_id_of(message: dict) -> int:
    return int(button(message, "approve").rsplit(":", 1)[1])


def private_text(pressed) -> str:
    return "\n".join(m.get("content") or "" for m in pressed.messages if (m.get("flags") or 0) & EPHEMERAL)


# -- races between two presses ------------------------------------------------------------------
async def test_approve_and_reject_at_the_same_moment_one_decision_takes_effect(tmp_path):
    """Approve by one moderator and Reject by another within the same instant: exactly one
    decision, the member hears exactly one outcome, the other moderator is told privately."""
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await submit(w, "a red fox in snow", count=1)
        message = review_message(w, staff)
        first, second = await asyncio.gather(
            w.discord.click_button(message, button(message, "approve"), user=staff.moderator),
            w.discord.click_button(message, button(message, "reject"), user=staff.admin),
        )
        await first.wait_for_final()
        await second.wait_for_final()
        await asyncio.sleep(1.0)  # anything still on its way
        approval = await w.storage.approvals.get(approval_id_of(message))
        rows = await w.ledger_rows()
        told = [m["content"] for m in w.discord.channel_messages(w.channel)
                if f"<@{w.alice.id}>" in (m.get("content") or "")]
        if approval.status == "approved":
            assert approval.decided_by == staff.moderator.id
            assert len(w.gateway.generation_requests) == 1
            [row] = rows
            assert row["status"] == "settled" and row["charged_micros"] == 162_000
            assert len(channel_files(w)) == 1 and "rejected" not in channel_text(w)
            assert "already approved" in second.all_text() and is_ephemeral(second)
        else:
            assert approval.status == "rejected" and approval.decided_by == staff.admin.id
            assert w.gateway.generation_requests == [] and rows == []
            assert len(told) == 1 and "rejected" in told[0]
            assert "already rejected" in first.all_text() and is_ephemeral(first)
        actions = [e.action for e in await w.storage.audit.recent(w.guild.id, action_prefix="request.")]
        assert len(actions) == 1, actions
        history = (await w.run("history", {}, user=w.alice)).all_text()
        assert sum("a red fox in snow" in line for line in history.splitlines()) == 1, history


@pytest.mark.parametrize("presses", ["two moderators after a restart", "one moderator's double click"])
async def test_approve_pressed_twice_at_once_makes_and_charges_once(tmp_path, presses):
    """Two interactions a few ms apart on one review: by two moderators on a review from before a
    restart, or by one moderator's double click."""
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await submit(w, "a lighthouse", count=2)
        restarted = presses.startswith("two")
        if restarted:
            await w.restart_bot()
        message = review_message(w, staff)
        second_presser = staff.admin if restarted else staff.moderator
        first, second = await asyncio.gather(
            w.discord.click_button(message, button(message, "approve"), user=staff.moderator),
            w.discord.click_button(message, button(message, "approve"), user=second_presser),
        )
        await eventually(lambda: len(channel_files(w)) == 2 and "cost" in channel_text(w))
        await first.wait_for_final()
        await second.wait_for_final()
        await asyncio.sleep(0.5)
        assert len(w.gateway.generation_requests) == 1
        [row] = await w.ledger_rows()
        assert row["status"] == "settled" and row["charged_micros"] == 324_000
        assert sum("already approved" in h.all_text() for h in (first, second)) == 1
        history = (await w.run("history", {}, user=w.alice)).all_text()
        assert sum("a lighthouse" in line for line in history.splitlines()) == 1, history


async def test_two_approvals_that_each_fit_the_budget_but_not_together_run_one(tmp_path):
    """two waiting requests of one member, each within the server budget alone, approved by
    two moderators at once: one runs, the other is refused at approval, nothing over the budget."""
    async with world(tmp_path, start=False, guild_monthly_budget_usd="0.5") as w:
        staff = await approval_world(w)
        await ask(w, w.alice, "three red foxes", count=3)  # $0.486 each
        await ask(w, w.alice, "three blue foxes", count=3)
        a, b = review_of(w, staff, "three red foxes"), review_of(w, staff, "three blue foxes")
        first, second = await asyncio.gather(
            w.discord.click_button(a, button(a, "approve"), user=staff.moderator),
            w.discord.click_button(b, button(b, "approve"), user=staff.admin),
        )
        await first.wait_for_final()
        await second.wait_for_final()
        await eventually(lambda: len(channel_files(w)) == 3 and "could not run" in channel_text(w))
        await asyncio.sleep(0.5)
        rows = await w.ledger_rows()
        assert sorted(r["status"] for r in rows) == ["refused", "settled"], rows
        assert sum(r["cost_micros"] or 0 for r in rows) == 486_000
        assert len(w.gateway.generation_requests) == 1
        statuses = sorted([(await w.storage.approvals.get(approval_id_of(m))).status for m in (a, b)])
        assert statuses == ["approved", "failed"]


# -- the review message goes away as a moderator presses ---------------------------------------
UNKNOWN_MESSAGE = {"message": "Unknown Message", "code": 10008}


UNKNOWN_INTERACTION = {"message": "Unknown interaction", "code": 10062}


@pytest.mark.parametrize("refusal", ["review_deleted", "ack_too_late"])
async def test_approve_pressed_as_another_moderator_deletes_the_review_still_ends_the_request(tmp_path, refusal):
    """A moderator presses Approve while another deletes the review message: Discord answers the
    button's update with 404 Unknown Message (`ack_too_late`: 10062, the 3 seconds passed under a
    slow `decide` write). The decision is stored before the update is tried, so it is carried out
    all the same: it used to stop there, an 'approved' request that never ran and nobody heard of
    (the orphan sweep looks only at pending ones)."""
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await submit(w, "a quiet harbour", count=1)
        message = review_message(w, staff)
        w.discord.fail_next(1, status=404, method="POST", path=r"/interactions/\d+/[^/]+/callback$",
                            body=UNKNOWN_MESSAGE if refusal == "review_deleted" else UNKNOWN_INTERACTION)
        await w.discord.click_button(message, button(message, "approve"), user=staff.moderator)
        if refusal == "review_deleted":
            w.discord.delete_user_message(message)
        await eventually(lambda: len(channel_files(w)) == 1, timeout=15)
        async with asyncio.timeout(10):
            while [r["status"] for r in await w.ledger_rows()] != ["settled"]:
                await asyncio.sleep(0.05)
        approval = await w.storage.approvals.get(approval_id_of(message))
        assert approval.status == "approved" and f"<@{w.alice.id}>" in channel_text(w)
        actions = [e.action for e in await w.storage.audit.recent(w.guild.id, action_prefix="request.")]
        assert actions == ["request.approved"], actions


async def test_reject_pressed_as_another_moderator_deletes_the_review_still_tells_the_member(tmp_path):
    """Reject whose review update Discord refuses (the message deleted at that moment): the
    decision stands, the member is told, and the audit log has it (it used to stop at the update)."""
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await submit(w, "a castle at night", count=1)
        message = review_message(w, staff)
        w.discord.fail_next(1, status=404, method="POST", path=r"/interactions/\d+/[^/]+/callback$",
                            body=UNKNOWN_MESSAGE)
        pressed = await w.discord.click_button(message, button(message, "reject"), user=staff.moderator)
        w.discord.delete_user_message(message)
        await pressed.wait_for_final()
        await asyncio.sleep(1.5)
        approval = await w.storage.approvals.get(approval_id_of(message))
        assert approval.status == "rejected"
        actions = [e.action for e in await w.storage.audit.recent(w.guild.id, action_prefix="request.")]
        assert actions == ["request.rejected"], actions
        assert "rejected" in channel_text(w), channel_text(w)


# -- review buttons older than the database -------------------------------------------------------
async def test_a_review_button_from_before_the_database_was_reset_does_not_decide_a_new_request(tmp_path):
    """The review buttons carry only the approval id. After the database is started
    afresh (ids start at 1 again), Approve on an old review message still in the moderators'
    channel must not decide the *new* request with that id, a prompt no moderator saw on that
    message (as result buttons guard, `cogs.checks.is_buttons_request`)."""
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await submit(w, "a harmless kitten", count=1)
        old_review = review_message(w, staff)
        await w.stop_bot()
        (w.tmp / "bot.db").unlink()
        for extra in ("bot.db-wal", "bot.db-shm"):
            (w.tmp / extra).unlink(missing_ok=True)
        await w.start_bot()
        on = await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin,
                         subcommand="approval")
        assert is_ephemeral(on)
        await ask(w, w.bob, "something the moderators must read first")
        new_review = review_of(w, staff, "something the moderators must read first")
        assert approval_id_of(new_review) == approval_id_of(old_review)  # the id was reused

        pressed = await w.discord.click_button(old_review, button(old_review, "approve"), user=staff.moderator)
        await pressed.wait_for_final()
        await asyncio.sleep(1.5)
        new = await w.storage.approvals.get(approval_id_of(new_review))
        assert new.status == "pending", "an old review message's button decided another request"
        assert w.gateway.generation_requests == []
