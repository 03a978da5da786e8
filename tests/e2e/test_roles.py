"""Several roles, a deleted role, threads and DMs, from the server owner's side."""

from __future__ import annotations

from tests.e2e.harness import world
from tests.e2e.staff import MANAGE_GUILD, is_ephemeral


async def test_several_roles_member_beats_role_and_a_deleted_role_stops_counting(tmp_path):
    async with world(tmp_path, start=False, default_daily_images=1) as w:
        dd = w.discord
        admins = dd.add_role(w.guild, "Admins", MANAGE_GUILD)
        admin = dd.add_user("admin")
        dd.add_member(w.guild, admin, [admins])
        low, high, vip = (dd.add_role(w.guild, n) for n in ("Low", "High", "VIP"))
        dd.add_member(w.guild, w.alice, [low, high, vip])
        thread = dd.add_thread(w.channel, "t")
        await w.start_bot()

        async def q(sub, options):
            return await w.run("quota", options, user=admin, subcommand=sub, channel=thread)  # in a thread

        await q("set", {"role": low, "daily_images": 2, "monthly_usd": "100"})
        await q("set", {"role": high, "daily_images": 3, "monthly_usd": "0.5"})
        await q("exempt", {"role": vip})
        shown = (await q("show", {"member": w.alice})).all_text()
        assert f"unlimited (from: role <@&{vip.id}> is exempt)" in shown, shown
        await q("set", {"member": w.alice, "daily_images": 1})
        shown = (await q("show", {"member": w.alice})).all_text()
        assert "Daily images: 1 image a day (from: the member's own setting)" in shown, shown

        # VIP is deleted: Discord takes it off every member.
        del w.guild.roles[vip.id]
        w.guild.members[w.alice.id].roles.remove(vip.id)
        await dd.dispatch("GUILD_ROLE_DELETE", {"guild_id": str(w.guild.id), "role_id": str(vip.id)})
        await q("set", {"member": w.alice, "clear": "both"})
        shown = (await q("show", {"member": w.alice})).all_text()
        assert f"3 images a day (from: role <@&{high.id}>" in shown, shown
        assert f"$100.00 (from: role <@&{low.id}>" in shown, shown
        done = await w.run("imagine", {"prompt": "x", "count": 4}, channel=thread)
        assert "daily limit of 3" in done.all_text(), done.all_text()
        done = await w.run("imagine", {"prompt": "x", "count": 3}, channel=thread)
        assert len(done.files()) == 3


async def test_a_deleted_required_role_keeps_the_gate_closed_and_says_why(tmp_path):
    async with world(tmp_path, start=False) as w:
        dd = w.discord
        admins = dd.add_role(w.guild, "Admins", MANAGE_GUILD)
        admin = dd.add_user("admin")
        dd.add_member(w.guild, admin, [admins])
        artists = dd.add_role(w.guild, "Artists")
        dd.add_member(w.guild, w.alice, [artists])
        await w.start_bot()
        await w.run("settings", {"role": artists}, user=admin, subcommand="required-role")
        assert len((await w.run("imagine", {"prompt": "ok"})).files()) == 1

        del w.guild.roles[artists.id]
        w.guild.members[w.alice.id].roles.remove(artists.id)
        await dd.dispatch("GUILD_ROLE_DELETE", {"guild_id": str(w.guild.id), "role_id": str(artists.id)})

        # Nobody can have that role any more: members are told so (not to get it), the admins'
        # view says it, and the gate stays closed until an admin chooses.
        refused = (await w.run("imagine", {"prompt": "after"})).all_text()
        assert "role that was deleted" in refused and "/settings required-role" in refused, refused
        assert f"<@&{artists.id}>" not in refused
        shown = (await w.run("settings", user=admin, subcommand="show")).all_text()
        assert "a deleted role" in shown and f"<@&{artists.id}>" not in shown, shown
        assert len(w.gateway.generation_requests) == 1
        await w.run("settings", {}, user=admin, subcommand="required-role")  # none: open to all again
        assert len((await w.run("imagine", {"prompt": "open"})).files()) == 1


async def test_commands_in_a_dm_are_refused_politely(tmp_path):
    async with world(tmp_path) as w:
        for name, sub in (("usage", None), ("history", None)):
            inter = await w.discord.invoke_command(name, {}, user=w.alice, subcommand=sub)
            await inter.wait_for_final(timeout=10, quiet=0.3)
            assert inter.all_text(), name
            assert is_ephemeral(inter) or inter.callback_data is not None
        assert await w.ledger_rows() == []
