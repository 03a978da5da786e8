"""A moderated community server with every control on at once (approval mode, a blocklist
with words and re: patterns, a required role, allowed channels, quotas), as its members and
moderators meet it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.doubles.discord_double.model import Channel
from tests.e2e.harness import World, world
from tests.e2e.staff import Staff, add_staff, eventually, is_ephemeral
from tests.e2e.test_approval import channel_text
from tests.e2e.test_approval_queue import approve, ask
from tests.e2e.test_edit import MENU, _text_inputs, image_bytes
from tests.e2e.test_result_buttons import _text_input_id, press


@dataclass
class Modded:
    staff: Staff
    lobby: Channel  # a channel where image commands are not allowed


async def modded(w: World) -> Modded:
    """Approval on, the Artists role required (alice has it, bob not), image commands only in
    w.channel, the words "gore" and the pattern re:bl[o0]{2}dy blocked."""
    staff = add_staff(w)
    lobby = w.discord.add_channel(w.guild, "lobby")
    w.discord.add_member(w.guild, w.alice, [staff.artists])
    await w.start_bot()
    admin = staff.admin
    await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=admin, subcommand="approval")
    await w.run("settings", {"role": staff.artists}, user=admin, subcommand="required-role")
    await w.run("settings", {"channel": w.channel}, user=admin, subcommand="channels add")
    for term in ("gore", "re:bl[o0]{2}dy"):
        await w.run("blocklist", {"term": term}, user=admin, subcommand="add")
    return Modded(staff, lobby)


def reviews(w: World, m: Modded) -> list[dict]:
    return w.discord.channel_messages(m.staff.mods_channel)


async def approved_result(w: World, m: Modded, prompt: str, count: int = 1) -> tuple[dict, int]:
    await ask(w, w.alice, prompt, count=count)
    pressed = await approve(w, m.staff, prompt)
    await pressed.wait_for_final()

    def result() -> list[dict]:
        return [x for x in w.discord.channel_messages(w.channel)
                if x.get("components") and prompt in (x.get("content") or "")]  # fmt: skip

    await eventually(result)
    [row] = [r for r in await w.ledger_rows() if r["prompt"] == prompt and r["status"] == "settled"]
    return result()[0], row["id"]


# -- what no one should have to learn the hard way ---------------------------------------------------


async def test_a_prompt_refused_by_the_blocklist_at_approval_is_not_posted_in_the_members_channel(tmp_path):
    # The member asked privately ("sent to the moderators"); a term the admins blocked meanwhile
    # refuses it when a moderator approves. The blocklist is there to keep those words out of the
    # server: the bot must not post them itself, in public, in its notice to the member.
    async with world(tmp_path, start=False) as w:
        m = await modded(w)
        await ask(w, w.alice, "a slaughterhouse full of entrails")
        await w.run("blocklist", {"term": "entrails"}, user=m.staff.admin, subcommand="add")
        pressed = await approve(w, m.staff, "slaughterhouse full of entrails")
        await pressed.wait_for_final()
        await eventually(lambda: "could not run" in channel_text(w))
        public = channel_text(w)
        assert f"<@{w.alice.id}>" in public and "refused" in public  # she is told, and why
        assert w.gateway.generation_requests == []
        assert "entrails" not in public, f"the blocked prompt was posted publicly: {public!r}"


async def test_a_member_blocked_by_a_zero_quota_is_refused_privately_not_sent_to_the_moderators(tmp_path):
    # "/quota set ... daily_images 0" blocks a member (README). In approval mode the request still
    # goes to the moderators, who can only approve it into a public "could not run".
    async with world(tmp_path, start=False) as w:
        m = await modded(w)
        await w.run("quota", {"member": w.alice, "daily_images": 0}, user=m.staff.admin, subcommand="set")
        asked = await w.run("imagine", {"prompt": "a quiet pond"})
        assert is_ephemeral(asked)
        assert "Your daily limit is 0 images" in asked.all_text(), asked.all_text()
        assert reviews(w, m) == []
        assert [(r["status"], r["charged_micros"]) for r in await w.ledger_rows()] == [("refused", 0)]


async def test_a_request_the_server_budget_can_never_pay_for_is_refused_privately(tmp_path):
    # The budget ($0.10) is less than one Seedream 4.0 image ($0.162): no approval can make it run.
    async with world(tmp_path, start=False) as w:
        m = await modded(w)
        await w.run("budget", {"amount": "0.10"}, user=m.staff.admin, subcommand="set")
        asked = await w.run("imagine", {"prompt": "a quiet pond"})
        assert is_ephemeral(asked)
        assert "budget" in asked.all_text(), asked.all_text()
        assert reviews(w, m) == []


@pytest.mark.parametrize("refused", ["role", "channel"])
async def test_the_edit_menu_refuses_before_asking_for_a_prompt(tmp_path, refused):
    # As Upscale's image menu does (refused before it asks), not after the member typed a prompt:
    # bob has not the required role; alice asks in a channel where image commands are not allowed.
    async with world(tmp_path, start=False) as w:
        m = await modded(w)
        where, who, told = (w.channel, w.bob, f"<@&{m.staff.artists.id}>") if refused == "role" else (
            m.lobby, w.alice, f"<#{w.channel.id}>")  # fmt: skip
        message = await w.discord.post_user_message(
            where, w.bob, "look", attachments=[("a.png", image_bytes(), "image/png")]
        )
        menu = await w.discord.invoke_message_command(MENU, message, user=who)
        await menu.wait_for_final(timeout=15, quiet=0.3)
        assert menu.modal is None, "a form was opened for a request the server refuses"
        assert told in menu.all_text() and is_ephemeral(menu)


async def test_variation_refuses_a_member_who_lost_the_required_role_before_asking_for_a_prompt(tmp_path):
    # Re-roll and Upscale refuse her at once; Variation opens its form, and refuses only what she typed.
    async with world(tmp_path, start=False) as w:
        m = await modded(w)
        result, request_id = await approved_result(w, m, "a red heron", count=2)
        w.discord.add_member(w.guild, w.alice, [])  # the Artists role taken away
        for action in ("reroll", "upscale"):
            refused = await press(w, result, action, request_id)
            assert f"<@&{m.staff.artists.id}>" in refused.all_text() and is_ephemeral(refused), action
        opened = await press(w, result, "variation", request_id)
        assert opened.modal is None, "Variation opened its form for a member the server now refuses"
        assert f"<@&{m.staff.artists.id}>" in opened.all_text() and is_ephemeral(opened)


# -- every control, every way in ---------------------------------------------------------------------


async def test_every_way_in_refuses_a_member_without_the_role_privately_and_records_it(tmp_path):
    async with world(tmp_path, start=False) as w:
        m = await modded(w)
        png = ("a.png", image_bytes(), "image/png")
        for name, options, attachments in (
            ("imagine", {"prompt": "a cat"}, []),
            ("edit", {"prompt": "a cat"}, [png]),
            ("series", {"prompt": "a cat", "count": 2}, [png]),
        ):
            refused = await w.run(name, options, user=w.bob, attachments=attachments)
            assert f"<@&{m.staff.artists.id}>" in refused.all_text() and is_ephemeral(refused), name
        assert reviews(w, m) == [] and w.gateway.generation_requests == []
        rows = await w.ledger_rows()
        assert [(r["command"], r["status"], r["error_code"], r["charged_micros"]) for r in rows] == [
            ("imagine", "refused", "role_required", 0),
            ("edit", "refused", "role_required", 0),
            ("series", "refused", "role_required", 0),
        ]


async def test_a_variation_with_a_full_width_pattern_match_is_refused_and_never_reaches_the_moderators(tmp_path):
    async with world(tmp_path, start=False) as w:
        m = await modded(w)
        result, request_id = await approved_result(w, m, "a red heron", count=2)
        before = len(reviews(w, m))
        opened = await press(w, result, "variation", request_id)
        submitted = await w.discord.submit_modal(
            opened.modal["custom_id"], {_text_input_id(opened.modal): "a ＢＬ０ＯＤＹ heron"}, user=w.alice,
            from_interaction=opened,
        )  # fmt: skip
        await submitted.wait_for_final(timeout=15, quiet=0.3)
        assert "refused" in submitted.all_text() and is_ephemeral(submitted)
        assert len(reviews(w, m)) == before and len(w.gateway.generation_requests) == 1
        assert (await w.ledger_rows())[-1]["error_code"] == "blocked_term"


async def test_buttons_and_the_menu_in_a_thread_of_the_allowed_channel_go_to_the_moderators(tmp_path):
    async with world(tmp_path, start=False) as w:
        m = await modded(w)
        thread = w.discord.add_thread(w.channel, "herons")
        await w.run("imagine", {"prompt": "a thread heron", "count": 2}, channel=thread)
        pressed = await approve(w, m.staff, "a thread heron")
        await pressed.wait_for_final()
        await eventually(lambda: any(x.get("components") for x in w.discord.channel_messages(thread)))
        [result] = [x for x in w.discord.channel_messages(thread) if x.get("components")]
        [row] = await w.ledger_rows()
        reroll = await press(w, result, "reroll", row["id"])
        assert "sent to the moderators" in reroll.all_text()
        upscale = await press(w, result, "upscale", row["id"])
        assert "Which image" in upscale.all_text()
        message = await w.discord.post_user_message(
            thread, w.bob, "look", attachments=[("a.png", image_bytes(), "image/png")]
        )
        menu = await w.discord.invoke_message_command(MENU, message, user=w.alice)
        await menu.wait_for_ack()
        submitted = await w.discord.submit_modal(
            menu.modal["custom_id"], {next(_text_inputs(menu.modal["components"])): "a menu heron"}, user=w.alice,
            from_interaction=menu,
        )  # fmt: skip
        await submitted.wait_for_final(timeout=15, quiet=0.3)
        assert "sent to the moderators" in submitted.all_text()
        assert len(reviews(w, m)) == 3 and len(w.gateway.generation_requests) == 1


# -- /history, as the moderators read it -------------------------------------------------------------
def lines_with(text: str, prompt: str) -> list[str]:
    return [line for line in text.splitlines() if prompt in line]


@pytest.mark.parametrize("control", ["blocked_term", "required_role"])
async def test_a_request_the_moderation_refuses_at_approval_shows_once_in_history_with_its_decision(
    tmp_path, control
):
    # As a quota refusal at approval does (test_history_approvals): once, its 'refused' row with
    # "approved ... by" under it. A blocked term or the required role set while it waited used to
    # give two entries for one request (the row without its decision, and the approval's own line).
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin,
                    subcommand="approval")
        await ask(w, w.alice, "a crimson battlefield")
        if control == "blocked_term":
            await w.run("blocklist", {"term": "crimson"}, user=staff.admin, subcommand="add")
        else:
            await w.run("settings", {"role": staff.artists}, user=staff.admin, subcommand="required-role")
        pressed = await approve(w, staff, "a crimson battlefield")
        await pressed.wait_for_final()
        await eventually(lambda: "could not run" in channel_text(w))
        text = (await w.run("history", {"member": w.alice}, user=staff.moderator)).all_text()
        assert len(lines_with(text, "a crimson battlefield")) == 1, text  # one request, one entry
        reason = "blocked term" if control == "blocked_term" else "role required"
        assert reason in text and f"<@{staff.moderator.id}>" in text, text
