"""Two servers on one bot never see or affect each other's settings, books or reports."""

from __future__ import annotations

import csv
import io

from tests.e2e.harness import world
from tests.e2e.staff import MANAGE_GUILD, eventually, is_ephemeral

PRICE = 162_000  # gogogotoken-com's default model, per image


async def cmd(w, name, options=None, *, user, guild, channel, sub=None, timeout=20.0):
    inter = await w.discord.invoke_command(name, options or {}, user=user, guild=guild, channel=channel,
                                           subcommand=sub)
    await inter.wait_for_final(timeout=timeout, quiet=0.3)
    return inter


async def test_two_servers_settings_and_books_are_isolated(tmp_path):
    async with world(tmp_path, start=False) as w:
        dd = w.discord
        a, chan_a = w.guild, w.channel
        other_a = dd.add_channel(a, "other-a")
        mods_a = dd.add_channel(a, "mods-a")
        admins_a = dd.add_role(a, "AdminsA", MANAGE_GUILD)
        artists_a = dd.add_role(a, "ArtistsA")
        admin_a = dd.add_user("admin-a")
        dd.add_member(a, admin_a, [admins_a])
        dd.add_member(a, w.alice, [artists_a])

        b = dd.add_guild("Server B")
        chan_b = dd.add_channel(b, "images-b")
        admins_b = dd.add_role(b, "AdminsB", MANAGE_GUILD)
        admin_b = dd.add_user("admin-b")
        dd.add_member(b, admin_b, [admins_b])
        dd.add_member(b, w.alice)  # alice is in both servers, with no role in B
        dd.add_member(b, admin_a)  # A's admin is a plain member of B
        await w.start_bot()

        def in_a(name, options=None, *, user=admin_a, sub=None, channel=chan_a):
            return cmd(w, name, options, user=user, guild=a, channel=channel, sub=sub)

        def in_b(name, options=None, *, user=admin_b, sub=None, channel=chan_b):
            return cmd(w, name, options, user=user, guild=b, channel=channel, sub=sub)

        # Server A locks everything down.
        await in_a("quota", {"role": a.id, "daily_images": 1}, sub="set")
        await in_a("quota", {"member": w.alice, "monthly_usd": "0,162"}, sub="set")
        await in_a("quota", {"role": artists_a}, sub="exempt")
        await in_a("budget", {"amount": "0.20", "warn_percent": 10, "warn_channel": mods_a}, sub="set")
        await in_a("blocklist", {"term": "cat"}, sub="add")
        await in_a("settings", {"channel": other_a}, sub="channels add")
        await in_a("settings", {"role": artists_a}, sub="required-role")

        # An admin of A is nobody in B.
        refused = await in_b("quota", {"member": w.alice, "daily_images": 0}, user=admin_a, sub="set")
        assert "Only members with the Manage Server permission" in refused.all_text()

        # Alice in B: A's blocked term, channels, required role, quotas and budget do not apply.
        done = await in_b("imagine", {"prompt": "a cat", "count": 3}, user=w.alice)
        assert len(done.files()) == 3, done.all_text()
        usage_b = (await in_b("usage", user=w.alice)).all_text()
        assert "$0.486" in usage_b, usage_b

        # B's spend does not count against A's budget (A: $0.20, nothing spent there).
        done_a = await in_a("imagine", {"prompt": "a dog"}, user=w.alice, channel=other_a)
        assert len(done_a.files()) == 1, done_a.all_text()
        await eventually(lambda: dd.channel_messages(mods_a))  # $0.162 of $0.20 >= 10%
        [warning] = dd.channel_messages(mods_a)
        assert "$0.162 of its monthly image budget of $0.20" in warning["content"], warning["content"]

        # Reports: each server sees its own.
        hist_b = (await in_b("history", {"member": w.alice})).all_text()
        assert "a cat" in hist_b and "a dog" not in hist_b
        hist_a = (await in_a("history", {"member": w.alice})).all_text()
        assert "a dog" in hist_a and "a cat" not in hist_a
        spend_b = await in_b("spend", {"period": "month"})
        rows = list(csv.DictReader(io.StringIO(
            next(d for n, d in spend_b.files() if n.endswith(".csv")).decode("utf-8-sig"))))
        assert [r["prompt"] for r in rows] == ["a cat"]
        assert rows[0]["cost_usd"] == "0.486000"
        assert "$0.486" in spend_b.all_text()
        assert is_ephemeral(spend_b)

        # Audit logs and settings views are per server.
        assert await w.storage.audit.recent(b.id) == []
        assert len(await w.storage.audit.recent(a.id, limit=50)) == 7
        shown_b = (await in_b("quota", sub="show")).all_text()
        assert "No member or role settings yet" in shown_b, shown_b
        settings_b = (await in_b("settings", sub="show")).all_text()
        assert f"<@&{artists_a.id}>" not in settings_b and f"<#{other_a.id}>" not in settings_b
        budget_b = (await in_b("budget", sub="show")).all_text()
        assert "$0.20" not in budget_b, budget_b
