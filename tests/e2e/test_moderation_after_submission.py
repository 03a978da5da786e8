"""What changes between a request and its decision (the member's role, the
blocklist in an odd spelling), who may change the moderation settings, and /history afterwards."""

from __future__ import annotations

import pytest

from tests.e2e.harness import world
from tests.e2e.staff import eventually, is_ephemeral
from tests.e2e.test_approval import approval_world, channel_files, channel_text
from tests.e2e.test_approval_queue import approve, ask


async def test_a_member_who_lost_the_required_role_while_waiting_is_refused_at_approval(tmp_path):
    """the role is required from the start; the member had it when asking and lost it
    (an admin took it away) before a moderator approved: nothing is made or charged, and the
    moderator and the member both read why."""
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        w.guild.members[w.alice.id].roles.append(staff.artists.id)
        await w.run("settings", {"role": staff.artists}, user=staff.admin, subcommand="required-role")
        await ask(w, w.alice, "a quiet pond")
        w.guild.members[w.alice.id].roles.remove(staff.artists.id)
        pressed = await approve(w, staff, "a quiet pond")
        await pressed.wait_for_final()
        await eventually(lambda: "could not run" in channel_text(w))
        assert f"<@&{staff.artists.id}>" in pressed.all_text() and f"<@&{staff.artists.id}>" in channel_text(w)
        assert w.gateway.generation_requests == []
        assert channel_files(w) == []
        assert all(r["charged_micros"] == 0 and r["status"] == "refused" for r in await w.ledger_rows())
        history = (await w.run("history", {}, user=w.alice)).all_text()
        assert sum("a quiet pond" in line for line in history.splitlines()) == 1, history


@pytest.mark.parametrize(
    ("term", "prompt"),
    [
        ("ＢＬＯＯＤＹ", "a blo\u200dody battlefield"),   # full-width term, zero-width joiner in the prompt
        ("bloody", "a BLO\u2060ODY battlefield"),          # word joiner
        ("bloody", "a b\ufeffloody battlefield"),           # BOM / zero-width no-break space
        ("血腥 战场", "一个血\u200b腥战场"),                  # Chinese term typed with a space
    ],
)
async def test_a_term_blocked_after_the_request_in_another_spelling_refuses_it_at_approval(tmp_path, term, prompt):
    """the blocklist is read again when the moderator decides, with the same folding as at
    the command (README: NFKC, case, invisible characters); the prompt is not repeated in the
    member's channel."""
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await ask(w, w.alice, prompt)
        added = await w.run("blocklist", {"term": term}, user=staff.admin, subcommand="add")
        assert is_ephemeral(added)
        pressed = await approve(w, staff, prompt)
        await pressed.wait_for_final()
        await eventually(lambda: "could not run" in channel_text(w))
        assert w.gateway.generation_requests == []
        assert prompt not in channel_text(w)
        rows = await w.ledger_rows()
        assert [(r["status"], r["error_code"], r["charged_micros"]) for r in rows] == [("refused", "blocked_term", 0)]


@pytest.mark.parametrize(
    ("name", "options", "subcommand"),
    [
        ("blocklist", {"term": "cat"}, "remove"),
        ("settings", {"mode": "off"}, "approval"),
        ("settings", {}, "required-role"),
        ("settings", {"reset": True}, "defaults"),
    ],
)
async def test_a_moderator_without_manage_server_cannot_change_moderation(tmp_path, name, options, subcommand):
    """Manage Messages lets a moderator decide reviews, not change the settings (README:
    "Admins (Manage Server, checked by the bot too)")."""
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await w.run("blocklist", {"term": "cat"}, user=staff.admin, subcommand="add")
        inter = await w.run(name, options, user=staff.moderator, subcommand=subcommand)
        assert "Manage Server" in inter.all_text() and is_ephemeral(inter)
        config = w.storage.guild_config.get(w.guild.id)
        assert config.needs_approval and config.blocked_terms and config.required_role_id is None
        assert [e.action for e in await w.storage.audit.recent(w.guild.id) if e.actor_id == staff.moderator.id] == []
