"""/budget, /quota and /settings as server owners and admins type them: two admins at once,
amounts finer than the books keep, words where an amount goes, and roles or channels deleted
after they were chosen."""

from __future__ import annotations

import asyncio

from tests.e2e.test_admin_quotas import MANAGE_GUILD, PRICE, budget, is_ephemeral, quota, rules, server


def second_admin(w):
    role = w.discord.add_role(w.guild, "Co-admins", MANAGE_GUILD)
    other = w.discord.add_user("coadmin")
    w.discord.add_member(w.guild, other, roles=[role])
    return other


async def at_once(w, first, second):
    """Two admins press Enter at the same moment: both interactions reach the bot before either is answered."""
    a = await w.discord.invoke_command(*first[0], **first[1], guild=w.guild, channel=w.channel)
    b = await w.discord.invoke_command(*second[0], **second[1], guild=w.guild, channel=w.channel)
    await a.wait_for_final()
    await b.wait_for_final()
    return a, b


async def test_two_admins_setting_the_budget_at_once_do_not_silently_drop_the_warning(tmp_path):
    # Admin A: "/budget set amount:10 warn_percent:50 warn_channel:#mods" and is told "A warning goes to
    # #mods when 50% of the budget is spent". Admin B at the same moment: "/budget set amount:10" (amount
    # only: README says the warning set before is kept). B's change is built on the budget as stored in
    # its own transaction, so A's warning survives it and B is told about it too.
    async with server(tmp_path) as w:
        co = second_admin(w)
        mods = w.discord.add_channel(w.guild, "mods")
        await w.start_bot()
        await budget(w, "set", {"amount": "5"})
        a, b = await at_once(
            w,
            (("budget", {"amount": "10", "warn_percent": 50, "warn_channel": mods}),
             {"user": w.admin, "subcommand": "set"}),
            (("budget", {"amount": "10"}), {"user": co, "subcommand": "set"}),
        )
        assert f"A warning goes to <#{mods.id}> when 50%" in a.all_text(), a.all_text()
        stored = await w.storage.quotas.budget(w.guild.id)
        assert stored is not None and stored.monthly_micros == 10_000_000
        assert (stored.warn_percent, stored.warn_channel_id) == (50, mods.id), (
            f"A was told a warning goes to #mods; B changed only the amount; stored: {stored}; "
            f"B was told: {b.all_text()!r}")
        shown = (await budget(w, "show", {})).all_text()
        assert f"A warning goes to <#{mods.id}> when 50%" in shown, shown


async def test_two_admins_changing_settings_at_once_do_not_undo_each_other(tmp_path):
    # Admin A: "/settings defaults model:Seedream 4.5" -> "Server defaults saved ... model
    # doubao-seedream-4-5-251128". Admin B at the same moment: "/settings required-role role:@Artists".
    # Each writes only the setting it changed, so neither puts back the other's old value (the same
    # holds for the approval channel, the watermark, ...).
    async with server(tmp_path) as w:
        co = second_admin(w)
        artists = w.discord.add_role(w.guild, "Artists")
        w.discord.add_member(w.guild, w.alice, roles=[artists])
        await w.start_bot()
        a, b = await at_once(
            w,
            (("settings", {"model": "doubao-seedream-4-5-251128"}), {"user": w.admin, "subcommand": "defaults"}),
            (("settings", {"role": artists}), {"user": co, "subcommand": "required-role"}),
        )
        assert "Server defaults saved" in a.all_text() and "doubao-seedream-4-5-251128" in a.all_text(), a.all_text()
        assert f"<@&{artists.id}>" in b.all_text(), b.all_text()
        config = w.storage.guild_config.get(w.guild.id)
        assert config.required_role_id == artists.id
        assert config.default_model == "doubao-seedream-4-5-251128", (
            f"A was told the default model is Seedream 4.5; stored default_model={config.default_model!r}")
        # and what members get follows: no model given -> the server default A set
        done = await w.run("imagine", {"prompt": "a cat"})
        assert "Seedream 4.5" in done.all_text(), done.all_text()


async def test_a_budget_change_after_its_warning_channel_was_deleted_does_not_confirm_a_dead_warning(tmp_path):
    # The warning channel #mods is deleted, then the owner raises the budget ("/budget set amount:20").
    # A warning there can never arrive, so neither the reply nor /budget show confirms it as set: both
    # say its channel was deleted and how to choose another (as /settings show says "a deleted role").
    async with server(tmp_path) as w:
        mods = w.discord.add_channel(w.guild, "mods")
        await w.start_bot()
        await budget(w, "set", {"amount": "10", "warn_percent": 50, "warn_channel": mods})
        await w.discord.delete_channel(mods)
        await asyncio.sleep(0.2)
        raised = (await budget(w, "set", {"amount": "20"})).all_text()
        assert "$20.00" in raised
        assert f"A warning goes to <#{mods.id}>" not in raised, raised
        assert "its channel was deleted" in raised and "warn_channel" in raised, raised
        shown = (await budget(w, "show", {})).all_text()
        assert f"A warning goes to <#{mods.id}>" not in shown, shown
        assert "its channel was deleted" in shown, shown
        # a new channel brings the warning back
        general = (await budget(w, "set", {"amount": "20", "warn_channel": w.channel})).all_text()
        assert f"A warning goes to <#{w.channel.id}> when 50%" in general, general


async def test_quota_show_does_not_list_a_deleted_roles_rule_as_a_live_setting(tmp_path):
    # "/quota set role:@VIP daily_images:5", then the VIP role is deleted. A deleted role cannot be
    # picked in /quota set to clear its rule, and nobody can have it: the rule goes with the role
    # (audited), so /quota show no longer lists it as a live setting.
    async with server(tmp_path) as w:
        vip = w.discord.add_role(w.guild, "VIP")
        await w.start_bot()
        await quota(w, "set", {"role": vip, "daily_images": 5})
        del w.guild.roles[vip.id]
        await w.discord.dispatch("GUILD_ROLE_DELETE", {"guild_id": str(w.guild.id), "role_id": str(vip.id)})
        await asyncio.sleep(0.2)
        shown = (await quota(w, "show", {})).all_text()
        assert f"<@&{vip.id}>" not in shown, shown
        assert "No member or role settings yet" in shown, shown
        assert await rules(w) == []
        [entry] = await w.storage.audit.recent(w.guild.id, limit=1)
        assert (entry.action, entry.target, entry.new) == ("quota.role_deleted", f"role:{vip.id}", None)


async def test_a_role_deleted_while_the_bot_was_away_has_its_rule_removed_when_shown(tmp_path):
    # The bot missed the deletion (it was offline): /quota show finds the role gone from the server,
    # removes its rule and says so, rather than listing a setting nobody can have or clear.
    async with server(tmp_path) as w:
        vip = w.discord.add_role(w.guild, "VIP")
        await w.start_bot()
        await quota(w, "set", {"role": vip, "daily_images": 5})
        await quota(w, "set", {"member": w.bob, "daily_images": 2})
        w.bot.get_guild(w.guild.id)._remove_role(vip.id)  # gone from the bot's view, no event seen
        shown = (await quota(w, "show", {})).all_text()
        assert f"<@&{vip.id}>" not in shown, shown
        assert "Removed the settings of 1 deleted role: nobody can have that role any more." in shown, shown
        assert f"· <@{w.bob.id}>: 2 images a day" in shown, shown
        assert [rule["target_id"] for rule in await rules(w)] == [w.bob.id]


async def test_an_amount_finer_than_a_micro_dollar_is_refused_not_rounded(tmp_path):
    # "/budget set amount:5.9999999" would be a limit above what the owner typed if rounded to $6.00.
    # The books keep micro-dollars, so, as for prices, digits past the sixth decimal are refused,
    # naming the limit, and nothing is stored; the same for /quota.
    async with server(tmp_path) as w:
        await w.start_bot()
        for typed in ("5.9999999", "0.0000005"):
            reply = (await budget(w, "set", {"amount": typed})).all_text()
            assert "is now" not in reply, (typed, reply)
            assert "at most 6 decimal places" in reply, (typed, reply)
        assert await w.storage.quotas.budget(w.guild.id) is None
        reply = (await quota(w, "set", {"member": w.bob, "monthly_usd": "0.1234567"})).all_text()
        assert "at most 6 decimal places" in reply and "saved" not in reply, reply
        assert await rules(w) == []
        saved = (await budget(w, "set", {"amount": "5.999999"})).all_text()  # six decimals: kept exactly
        assert "$5.999999" in saved, saved


async def test_quota_monthly_off_words_are_understood_or_point_to_clear(tmp_path):
    # /budget takes "off"/"none"/"clear" to remove the setting (README); "/quota set member:@bob
    # monthly_usd:off" (or "none") removes the monthly setting the same way. "unlimited" is no amount
    # and no removal (the next level would apply): the refusal names the `clear` option and exempt roles.
    async with server(tmp_path) as w:
        await w.start_bot()
        for word in ("off", "none"):
            await quota(w, "set", {"member": w.bob, "monthly_usd": "5", "daily_images": 3})
            reply = (await quota(w, "set", {"member": w.bob, "monthly_usd": word})).all_text()
            assert "saved: 3 images a day (before: 3 images a day, $5.00 a month)" in reply, (word, reply)
            [rule] = await rules(w)
            assert (rule["daily_images"], rule["monthly_micros"]) == (3, None), word
        reply = (await quota(w, "set", {"member": w.bob, "monthly_usd": "unlimited"})).all_text()
        assert "`unlimited` is not a dollar amount" in reply, reply
        assert "`clear` option" in reply and "/quota exempt" in reply, reply
        [rule] = await rules(w)
        assert (rule["daily_images"], rule["monthly_micros"]) == (3, None)


async def test_two_admins_setting_one_members_quota_at_once_keep_both_values(tmp_path):
    # /quota set reads and writes the rule in one transaction (storage/quotas.update_rule).
    async with server(tmp_path) as w:
        co = second_admin(w)
        await w.start_bot()
        await at_once(
            w,
            (("quota", {"member": w.bob, "daily_images": 3}), {"user": w.admin, "subcommand": "set"}),
            (("quota", {"member": w.bob, "monthly_usd": "0,5"}), {"user": co, "subcommand": "set"}),
        )
        [rule] = await rules(w)
        assert (rule["daily_images"], rule["monthly_micros"]) == (3, 500_000)


async def test_confirmations_reports_and_refusals_state_one_value(tmp_path):
    # Amounts typed as owners type them are confirmed with the value /usage, /quota show,
    # /budget show and /spend then use; non-admins are refused every admin command, privately, and
    # Discord is told to hide them (default_member_permissions = Manage Server).
    async with server(tmp_path) as w:
        await w.start_bot()
        for name in ("quota", "budget", "settings", "blocklist", "spend"):
            definition = w.discord.commands.find(name, guild_id=w.guild.id)
            assert int(definition["default_member_permissions"]) == MANAGE_GUILD, name
        saved = (await budget(w, "set", {"amount": "＄１，０００"})).all_text()
        assert "now $1,000.00" in saved, saved
        saved = (await quota(w, "set", {"role": w.guild.id, "monthly_usd": ".5", "daily_images": 4})).all_text()
        assert "4 images a day, $0.50 a month" in saved, saved
        done = await w.run("imagine", {"prompt": "a cat"}, user=w.bob)
        assert len(done.files()) == 1
        usage = (await w.run("usage", {}, user=w.bob)).all_text()
        assert "Images today: 1 of 4" in usage and "Spent this month: $0.162 of $0.50" in usage, usage
        assert "Server budget left this month: $999.838 of $1,000.00" in usage, usage
        shown = (await quota(w, "show", {"member": w.bob})).all_text()
        assert "Monthly limit: $0.50 (from: the server default (@everyone))" in shown, shown
        assert "Spent this month: $0.162, left: $999.838" in (await budget(w, "show", {})).all_text()
        spend = (await w.run("spend", {}, user=w.admin)).all_text()
        assert "Total spend: $0.162" in spend, spend
        assert sum(r["cost_micros"] for r in await w.ledger_rows()) == PRICE
        for name, sub, options in (("quota", "show", {}), ("budget", "set", {"amount": "off"}),
                                   ("settings", "show", {}), ("blocklist", "add", {"term": "cat"}),
                                   ("settings", "approval", {"mode": "off"}), ("spend", None, {})):
            refused = await w.run(name, options, user=w.bob, subcommand=sub)
            assert "Only members with the Manage Server permission" in refused.all_text(), (name, sub)
            assert is_ephemeral(refused) or refused.messages, (name, sub)
        assert (await w.storage.quotas.budget(w.guild.id)).monthly_micros == 1_000_000_000
        assert w.storage.guild_config.get(w.guild.id).blocked_terms == ()
