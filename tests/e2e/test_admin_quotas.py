"""/quota and /budget through the real bot: permissions, precedence, audit, warnings, no overshoot."""

from __future__ import annotations

import asyncio
import contextlib

from tests.doubles.image_gateway_double import Fault
from tests.e2e.harness import world

EPHEMERAL = 1 << 6
MANAGE_GUILD = 1 << 5
SEND_MESSAGES = 1 << 11
PRICE = 162_000  # the default model of gogogotoken-com, micro-dollars per image


def is_ephemeral(inter) -> bool:
    return bool(inter.callback_data and inter.callback_data.get("flags", 0) & EPHEMERAL)


@contextlib.asynccontextmanager
async def server(tmp_path, **settings):
    """A world with an admin (a role with Manage Server), started after the roles exist."""
    async with world(tmp_path, start=False, **settings) as w:
        admins = w.discord.add_role(w.guild, "Admins", MANAGE_GUILD)
        w.admin = w.discord.add_user("admin")
        w.discord.add_member(w.guild, w.admin, roles=[admins])
        yield w


async def quota(w, sub, options, user=None):
    inter = await w.discord.invoke_command("quota", options, user=user or w.admin, guild=w.guild,
                                           channel=w.channel, subcommand=sub)
    return await inter.wait_for_final()


async def budget(w, sub, options, user=None):
    inter = await w.discord.invoke_command("budget", options, user=user or w.admin, guild=w.guild,
                                           channel=w.channel, subcommand=sub)
    return await inter.wait_for_final()


async def rules(w):
    return [dict(r) for r in await w.storage.db.fetchall("SELECT * FROM quota_rules")]


async def test_admin_commands_refuse_members_without_manage_server(tmp_path):
    async with server(tmp_path) as w:
        await w.start_bot()
        # Discord would hide the commands (default permissions) - but an owner can change that,
        # so the double lets bob invoke them and the bot itself must refuse.
        for name in ("quota", "budget"):
            definition = w.discord.commands.find(name, guild_id=w.guild.id)
            assert int(definition["default_member_permissions"]) == MANAGE_GUILD
        refusals = [
            await quota(w, "set", {"member": w.bob, "daily_images": 100}, user=w.bob),
            await quota(w, "exempt", {"role": w.guild.id}, user=w.bob),
            await quota(w, "show", {}, user=w.bob),
            await budget(w, "set", {"amount": "1000"}, user=w.bob),
            await budget(w, "show", {}, user=w.bob),
        ]
        for inter in refusals:
            assert "Only members with the Manage Server permission" in inter.all_text()
            assert is_ephemeral(inter)
        assert await rules(w) == []
        assert await w.storage.quotas.budget(w.guild.id) is None
        assert await w.storage.audit.recent(w.guild.id) == []
        # The same command works for the admin.
        ok = await quota(w, "set", {"member": w.bob, "daily_images": 100})
        assert "100 images a day" in ok.all_text()


async def test_precedence_member_then_most_generous_role_then_server_then_env(tmp_path):
    async with server(tmp_path, default_daily_images=1) as w:
        d = w.discord
        artists, patrons, vip = (d.add_role(w.guild, name) for name in ("Artists", "Patrons", "VIP"))
        carol, dave, erin = d.add_user("carol"), d.add_user("dave"), d.add_user("erin")
        d.add_member(w.guild, w.alice, roles=[artists, patrons])
        d.add_member(w.guild, w.bob, roles=[artists])
        d.add_member(w.guild, carol)
        d.add_member(w.guild, dave, roles=[artists, patrons])
        d.add_member(w.guild, erin, roles=[artists, vip])
        await w.start_bot()

        await quota(w, "set", {"role": w.guild.id, "daily_images": 2})  # @everyone: the server default
        await quota(w, "set", {"role": artists, "daily_images": 3})
        await quota(w, "set", {"role": patrons, "daily_images": 5, "monthly_usd": "20"})
        await quota(w, "set", {"member": dave, "daily_images": 1})
        await quota(w, "exempt", {"role": vip})

        shown = (await quota(w, "show", {"member": w.alice})).all_text()
        assert f"Daily images: 5 images a day (from: role <@&{patrons.id}>" in shown
        assert "Monthly limit: $20.00" in shown
        assert "Daily images: 1 image a day (from: the member's own setting)" in \
            (await quota(w, "show", {"member": dave})).all_text()
        assert "Daily images: 3 images a day" in (await quota(w, "show", {"member": w.bob})).all_text()
        assert "Daily images: 2 images a day (from: the server default (@everyone))" in \
            (await quota(w, "show", {"member": carol})).all_text()
        assert f"Daily images: unlimited (from: role <@&{vip.id}> is exempt)" in \
            (await quota(w, "show", {"member": erin})).all_text()

        # ...and the limits shown are the limits applied.
        assert len((await w.run("imagine", {"prompt": "a", "count": 4})).files()) == 4
        assert "daily limit of 5" in (await w.run("imagine", {"prompt": "b", "count": 2})).all_text()
        assert "daily limit of 1" in (await w.run("imagine", {"prompt": "c", "count": 2}, user=dave)).all_text()
        assert len((await w.run("imagine", {"prompt": "d", "count": 2}, user=carol)).files()) == 2
        assert "daily limit of 2" in (await w.run("imagine", {"prompt": "e"}, user=carol)).all_text()
        for _ in range(2):
            assert len((await w.run("imagine", {"prompt": "f", "count": 4}, user=erin)).files()) == 4

        # Clearing the member setting hands dave back to his most generous role.
        await quota(w, "set", {"member": dave, "clear": "both"})
        assert len((await w.run("imagine", {"prompt": "g", "count": 4}, user=dave)).files()) == 4


async def test_every_change_is_audited_with_old_and_new_value(tmp_path):
    async with server(tmp_path) as w:
        await w.start_bot()
        await quota(w, "set", {"member": w.bob, "daily_images": 3})
        saved = await quota(w, "set", {"member": w.bob, "monthly_usd": "$7.5"})
        assert "3 images a day, $7.50 a month (before: 3 images a day)" in saved.all_text()
        await budget(w, "set", {"amount": "40"})
        await budget(w, "set", {"amount": "50", "warn_percent": 80})
        entries = list(reversed(await w.storage.audit.recent(w.guild.id)))
        assert [(e.action, e.target, e.old, e.new) for e in entries] == [
            ("quota.set", f"member:{w.bob.id}", None, "daily_images=3"),
            ("quota.set", f"member:{w.bob.id}", "daily_images=3", "daily_images=3, monthly_usd=$7.50"),
            ("budget.set", "guild", None, "monthly_usd=$40.00"),
            ("budget.set", "guild", "monthly_usd=$40.00", f"monthly_usd=$50.00, warn_at=80% in channel:{w.channel.id}"),
        ]
        assert all(e.actor_id == w.admin.id for e in entries)
        shown = (await budget(w, "show", {})).all_text()
        assert "Server budget: $50.00 (from: set with /budget)" in shown
        assert f"<@{w.admin.id}>: no budget of its own → $40.00 a month" in shown
        assert f"<@{w.admin.id}>: $40.00 a month → $50.00 a month, warning at 80% in <#{w.channel.id}>" in shown
        chinese = await w.discord.invoke_command("budget", {}, user=w.admin, guild=w.guild,
                                                 channel=w.channel, subcommand="show", locale="zh-CN")
        shown = (await chinese.wait_for_final()).all_text()
        assert f"<@{w.admin.id}>：每月 $40.00 → 每月 $50.00，达到 80% 时在 <#{w.channel.id}> 预警" in shown
        assert "monthly_usd" not in shown


async def test_bad_amounts_are_refused_clearly_and_change_nothing(tmp_path):
    async with server(tmp_path) as w:
        await w.start_bot()
        bad = await budget(w, "set", {"amount": "lots"})
        assert "`lots` is not a dollar amount" in bad.all_text()
        bad = await quota(w, "set", {"member": w.bob, "monthly_usd": "-5"})
        assert "`-5` is not a dollar amount" in bad.all_text()
        both = await quota(w, "set", {"member": w.bob, "role": w.guild.id, "daily_images": 1})
        assert "either a member or a role" in both.all_text()
        chinese = await w.discord.invoke_command("budget", {"amount": "很多"}, user=w.admin, guild=w.guild,
                                                 channel=w.channel, subcommand="set", locale="zh-CN")
        assert "不是有效的美元金额" in (await chinese.wait_for_final()).all_text()
        ambiguous = await budget(w, "set", {"amount": "1,0000"})
        assert "`1,0000` is not a dollar amount" in ambiguous.all_text()
        huge = await budget(w, "set", {"amount": "99999999999999"})
        assert "`99999999999999` is more than $1,000,000,000" in huge.all_text()
        beyond = await budget(w, "set", {"amount": "1e999999"})  # past Decimal's range: no traceback
        assert "`1e999999` is not a dollar amount" in beyond.all_text()
        tiny = await quota(w, "set", {"member": w.bob, "monthly_usd": "0.0000001"})  # not "$0.00 a month"
        assert "`0.0000001` is not a dollar amount" in tiny.all_text()
        assert await rules(w) == []
        assert await w.storage.quotas.budget(w.guild.id) is None
        assert await w.storage.audit.recent(w.guild.id) == []


async def test_amounts_read_thousands_and_decimal_commas_as_people_write_them(tmp_path):
    async with server(tmp_path) as w:
        await w.start_bot()
        for written, micros in (("1,000", 1_000_000_000), ("$2,500.75", 2_500_750_000), ("12,5", 12_500_000),
                                ("US$ 7,25", 7_250_000), ("0.135", 135_000),
                                ("0,162", 162_000), ("$0,135", 135_000)):
            await budget(w, "set", {"amount": written})
            assert (await w.storage.quotas.budget(w.guild.id)).monthly_micros == micros, written


async def test_budget_warning_is_posted_once_when_the_share_is_reached(tmp_path):
    async with server(tmp_path, guild_monthly_budget_usd="100") as w:
        mods = w.discord.add_channel(w.guild, "mods")
        await w.start_bot()
        await budget(w, "set", {"amount": "1", "warn_percent": 30, "warn_channel": mods})
        await w.run("imagine", {"prompt": "a"})  # $0.162: 16%
        assert w.discord.channel_messages(mods) == []
        await w.run("imagine", {"prompt": "b", "count": 2})  # $0.486: 49%
        await w.run("imagine", {"prompt": "c"})  # still past 30%: no second warning
        [warning] = w.discord.channel_messages(mods)
        assert "$0.486 of its monthly image budget of $1.00" in warning["content"]
        assert "30%" in warning["content"]

        # A raised budget is a new line to cross: its warning comes when that is reached.
        await budget(w, "set", {"amount": "2", "warn_percent": 40, "warn_channel": mods})
        assert len(w.discord.channel_messages(mods)) == 1  # $0.648: 32% of $2
        await w.run("imagine", {"prompt": "d"})  # $0.810: 40% of $2
        assert len(w.discord.channel_messages(mods)) == 2
        assert "$0.81 of its monthly image budget of $2.00" in w.discord.channel_messages(mods)[-1]["content"]

        # One already crossed when it is set (every later request may be refused): warned at once.
        await budget(w, "set", {"amount": "1", "warn_percent": 40, "warn_channel": mods})
        assert len(w.discord.channel_messages(mods)) == 3
        assert "$0.81 of its monthly image budget of $1.00" in w.discord.channel_messages(mods)[-1]["content"]


async def test_budget_warning_counts_what_was_spent_not_what_is_held_for_requests_in_progress(tmp_path):
    async with server(tmp_path, image_max_retries=0, image_timeout_seconds=2) as w:
        mods = w.discord.add_channel(w.guild, "mods")
        await w.start_bot()
        await budget(w, "set", {"amount": "1", "warn_percent": 50, "warn_channel": mods})
        w.gateway.script(Fault.hang())  # bob's 4 images ($0.648) are held, then never made: given back
        slow = await w.discord.invoke_command("imagine", {"prompt": "slow", "count": 4}, user=w.bob,
                                              guild=w.guild, channel=w.channel)
        await asyncio.sleep(0.3)
        await w.run("imagine", {"prompt": "quick"})  # $0.162 spent while $0.648 is held: 16%
        await slow.wait_for_final(timeout=20, quiet=0.5)
        assert w.discord.channel_messages(mods) == []
        await w.run("imagine", {"prompt": "more", "count": 2})  # $0.486
        await w.run("imagine", {"prompt": "past half"})  # $0.648: the month's warning, with that figure
        [warning] = w.discord.channel_messages(mods)
        assert "$0.648 of its monthly image budget of $1.00" in warning["content"]


async def test_a_budget_warning_discord_refused_is_posted_at_the_next_chance(tmp_path):
    async with server(tmp_path, guild_monthly_budget_usd="100") as w:
        mods = w.discord.add_channel(w.guild, "mods")
        await w.start_bot()
        await budget(w, "set", {"amount": "1", "warn_percent": 30, "warn_channel": mods})
        refused = w.discord.fail_next(1, status=403, method="POST", path=f"/channels/{mods.id}/messages")
        await w.run("imagine", {"prompt": "a", "count": 2})  # $0.324: 32%, but the post is refused
        assert refused.hits == 1 and w.discord.channel_messages(mods) == []
        await w.run("imagine", {"prompt": "b"})  # the month's warning was not used up
        [warning] = w.discord.channel_messages(mods)
        assert "$0.486 of its monthly image budget of $1.00" in warning["content"]


async def test_a_warning_channel_the_bot_cannot_post_in_is_refused_at_set(tmp_path):
    # The warning would never arrive there, and no one in Discord would know.
    async with server(tmp_path, guild_monthly_budget_usd="100") as w:
        mods = w.discord.add_channel(w.guild, "mods")
        await w.start_bot()
        closed = [{"id": str(w.discord.bot_user.id), "type": 1, "allow": "0", "deny": str(SEND_MESSAGES)}]
        await w.discord.set_overwrites(mods, closed)
        refused = (await budget(w, "set", {"amount": "1", "warn_percent": 10, "warn_channel": mods})).all_text()
        assert "cannot post in" in refused and f"<#{mods.id}>" in refused, refused
        assert await w.storage.quotas.budget(w.guild.id) is None  # nothing saved
        await w.discord.set_overwrites(mods, [])
        saved = (await budget(w, "set", {"amount": "1", "warn_percent": 10, "warn_channel": mods})).all_text()
        assert f"<#{mods.id}>" in saved and "cannot" not in saved

        # Closed afterwards: each settlement past the share says so in one log line (no traceback)
        # and the warning comes once the channel is open again.
        await w.discord.set_overwrites(mods, closed)
        await w.run("imagine", {"prompt": "a", "count": 2})  # $0.324: past 10%
        lines = [line for line in w.logs.lines if "budget warning cannot be posted" in line]
        assert len(lines) == 1 and "Traceback" not in lines[0], w.logs.lines[-5:]
        assert not any("hook failed" in line for line in w.logs.lines)
        await w.discord.set_overwrites(mods, [])
        await w.run("imagine", {"prompt": "b"})
        [warning] = w.discord.channel_messages(mods)
        assert "$0.486 of its monthly image budget of $1.00" in warning["content"]


async def test_warn_percent_zero_turns_the_warning_off_even_when_its_channel_closed(tmp_path):
    # README: "`warn_percent` 0: no warning", whatever became of the channel it was going to.
    async with server(tmp_path, guild_monthly_budget_usd="100") as w:
        mods = w.discord.add_channel(w.guild, "mods")
        await w.start_bot()
        saved = (await budget(w, "set", {"amount": "1", "warn_percent": 10, "warn_channel": mods})).all_text()
        assert "cannot" not in saved, saved
        closed = [{"id": str(w.discord.bot_user.id), "type": 1, "allow": "0", "deny": str(SEND_MESSAGES)}]
        await w.discord.set_overwrites(mods, closed)
        off = (await budget(w, "set", {"amount": "1", "warn_percent": 0})).all_text()
        assert "cannot post in" not in off, off
        current = await w.storage.quotas.budget(w.guild.id)
        assert current is not None and current.warn_percent is None, current


async def test_warn_percent_zero_in_a_channel_the_bot_cannot_post_in(tmp_path):
    # An admin channel where the bot answers slash commands (interaction replies need no Send
    # Messages) but may not post: "/budget set amount:5 warn_percent:0" asks for no warning at all.
    async with server(tmp_path, guild_monthly_budget_usd="100") as w:
        await w.start_bot()
        closed = [{"id": str(w.discord.bot_user.id), "type": 1, "allow": "0", "deny": str(SEND_MESSAGES)}]
        await w.discord.set_overwrites(w.channel, closed)
        off = (await budget(w, "set", {"amount": "5", "warn_percent": 0})).all_text()
        assert "cannot post in" not in off, off
        current = await w.storage.quotas.budget(w.guild.id)
        assert current is not None and current.monthly_micros == 5_000_000, current


async def test_concurrent_requests_never_overshoot_db_limits(tmp_path):
    # The .env allows plenty; the limits set from Discord are what must hold under a burst.
    async with server(tmp_path, default_monthly_usd="100", guild_monthly_budget_usd="100",
                      max_requests_per_member=10) as w:
        users = [w.discord.add_user(f"member{i}") for i in range(8)]
        for user in users:
            w.discord.add_member(w.guild, user)
        await w.start_bot()
        await quota(w, "set", {"member": w.alice, "monthly_usd": "0.50"})  # three images fit
        burst = await asyncio.gather(*(
            w.discord.invoke_command("imagine", {"prompt": f"cat {i}"}, user=w.alice, guild=w.guild,
                                     channel=w.channel) for i in range(6)
        ))
        await asyncio.gather(*(h.wait_for_final(timeout=30) for h in burst))
        assert sum(len(h.files()) for h in burst) == 3
        assert sum("monthly limit of $0.50" in h.all_text() for h in burst) == 3
        rows = await w.ledger_rows()
        assert sum(r["charged_micros"] for r in rows) == 3 * PRICE <= 500_000

        await budget(w, "set", {"amount": "1.00"})  # $0.486 spent: three more images fit
        burst = await asyncio.gather(*(
            w.discord.invoke_command("imagine", {"prompt": f"dog {i}"}, user=u, guild=w.guild, channel=w.channel)
            for i, u in enumerate(users)
        ))
        await asyncio.gather(*(h.wait_for_final(timeout=30) for h in burst))
        assert sum(len(h.files()) for h in burst) == 3
        assert sum("monthly image budget of $1.00" in h.all_text() for h in burst) == 5
        rows = await w.ledger_rows()
        assert sum(r["cost_micros"] for r in rows) == 6 * PRICE <= 1_000_000


async def test_the_budget_warning_goes_to_the_moderators_channel_by_default(tmp_path):
    async with server(tmp_path) as w:
        mods = w.discord.add_channel(w.guild, "mods")
        await w.start_bot()
        await w.storage.guild_config.update(w.guild.id, approval_channel_id=mods.id)  # approval mode's channel
        saved = await budget(w, "set", {"amount": "1", "warn_percent": 10})
        assert f"<#{mods.id}>" in saved.all_text()
        await w.run("imagine", {"prompt": "a"})  # $0.162: 16%
        [warning] = w.discord.channel_messages(mods)
        assert "$0.162 of its monthly image budget of $1.00" in warning["content"]
        warned = [m for m in w.discord.channel_messages(w.channel) if "monthly image budget" in m.get("content", "")]
        assert warned == []


async def test_quota_show_of_a_member_with_many_role_rules_keeps_lines_whole(tmp_path):
    async with server(tmp_path) as w:
        roles = [w.discord.add_role(w.guild, f"Tier {i}") for i in range(50)]
        carol = w.discord.add_user("carol")
        w.discord.add_member(w.guild, carol, roles=roles)
        await w.start_bot()
        for i, role in enumerate(roles):
            await quota(w, "set", {"role": role, "daily_images": i + 1, "monthly_usd": f"{i + 1}.50"})
        text = (await quota(w, "show", {"member": carol})).all_text()
        lines = text.splitlines()
        assert len(text) <= 2000
        assert lines[-1].startswith("Order: the member's own setting")  # the precedence is kept
        listed = [line for line in lines if line.startswith("· <@&")]
        assert lines[-2] == f"…and {50 - len(listed)} more." and all(line.endswith("a month") for line in listed)
        assert f"from: role <@&{roles[-1].id}>" in text  # the role that applies is named above the list
