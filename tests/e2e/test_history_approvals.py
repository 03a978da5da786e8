"""/history in approval mode: requests that never reached the ledger (waiting for a moderator,
rejected) show too, with the decision and the moderator; one that ran shows once, with its row."""

from __future__ import annotations

from tests.e2e.harness import World, world
from tests.e2e.staff import Staff, eventually, is_ephemeral
from tests.e2e.test_approval import approval_world, button, channel_files, channel_text, lower_daily_limit
from tests.e2e.test_approval_queue import approve, ask, review_of


def line_with(text: str, prompt: str) -> str:
    lines = [line for line in text.splitlines() if prompt in line]
    assert len(lines) == 1, text  # each request once
    return lines[0]


async def reject(w: World, staff: Staff, prompt: str) -> None:
    message = review_of(w, staff, prompt)
    pressed = await w.discord.click_button(message, button(message, "reject"), user=staff.moderator)
    await pressed.wait_for_final()


async def test_history_shows_waiting_and_rejected_approval_requests_with_the_moderator(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        mod = f"<@{staff.moderator.id}>"
        for prompt in ("a castle at night", "a quiet pond", "a lighthouse"):
            await ask(w, w.alice, prompt)
        await ask(w, w.bob, "bob's boat")
        await reject(w, staff, "a castle at night")
        await approve(w, staff, "a lighthouse")
        await eventually(lambda: len(channel_files(w)) == 1 and "cost" in channel_text(w))

        own = await w.run("history", {}, user=w.alice)
        assert is_ephemeral(own)
        for text in (own.all_text(), (await w.run("history", {"member": w.alice}, user=staff.moderator)).all_text()):
            assert f"rejected by {mod}" in line_with(text, "a castle at night")
            assert "waiting for a moderator's approval" in line_with(text, "a quiet pond")
            assert "delivered 1 of 1" in line_with(text, "a lighthouse")  # its ledger row, not a second line
            assert f"approved by {mod}" in text and "request.approved" not in text
            assert "bob's boat" not in text

        everyone = (await w.run("history", {}, user=staff.moderator)).all_text()
        assert "waiting for a moderator's approval" in line_with(everyone, "bob's boat")
        assert f"<@{w.bob.id}>" in line_with(everyone, "bob's boat")
        assert f"rejected by {mod}" in line_with(everyone, "a castle at night")


async def test_history_shows_an_approved_request_refused_by_a_quota_once(tmp_path):
    async with world(tmp_path, start=False, default_daily_images=2) as w:
        staff = await approval_world(w)
        await ask(w, w.alice, "two foxes", count=2)
        await lower_daily_limit(w, staff, 1)
        pressed = await approve(w, staff, "two foxes")
        await pressed.wait_for_final()
        await eventually(lambda: "could not run" in channel_text(w))
        text = (await w.run("history", {}, user=w.alice)).all_text()
        assert "refused (daily image limit)" in line_with(text, "two foxes")  # the ledger's 'refused' row
        assert f"approved, but could not run by <@{staff.moderator.id}>" in text
