"""The bot in several servers at once: a server joined while the bot runs, a server that removes
the bot and adds it back, a restart after a crash with requests of two servers in flight, and two
servers' members asking at the same moment (test_guild_isolation.py sets two servers up before
the start and drives them one after the other)."""

from __future__ import annotations

import asyncio

from storage import open_storage
from storage.models import Limits, RequestRecord
from storage.quotas import Budget
from tests.e2e.harness import world
from tests.e2e.staff import MANAGE_GUILD, MANAGE_MESSAGES, eventually, is_ephemeral

PRICE = 162_000  # gogogotoken-com's default model, per image
DEFAULT_MODEL = "doubao-seedream-4-0-250828"
OTHER_MODEL = "doubao-seedream-4-5-251128"


async def cmd(w, name, options=None, *, user, guild, channel, sub=None, locale="en-US", timeout=20.0):
    inter = await w.discord.invoke_command(name, options or {}, user=user, guild=guild, channel=channel,
                                           subcommand=sub, locale=locale)
    await inter.wait_for_final(timeout=timeout, quiet=0.3)
    return inter


def contents(w, channel) -> list[str]:
    return [m["content"] for m in w.discord.channel_messages(channel)]


async def announce(w, guild) -> None:
    """Discord's GUILD_CREATE for a server that adds the bot while it runs."""
    await w.discord.dispatch("GUILD_CREATE", guild.gateway_payload(include_all_members=False,
                                                                   bot_id=w.discord.bot_user.id))
    await eventually(lambda: w.bot.get_guild(guild.id) is not None, timeout=5)


async def test_a_server_joined_while_running_gets_commands_its_language_and_its_own_budget_warning(tmp_path):
    # A Chinese server adds the bot after it started (GUILD_CREATE after READY):
    # its members' commands work at once with the bot's defaults, a member whose client speaks
    # French is answered in the server's language (README: "other languages get the server's
    # language"), its admin can set a budget with a warning, and the warning lands in that
    # server's channel, never in the first server's.
    async with world(tmp_path) as w:
        dd = w.discord
        c = dd.add_guild("Server C", locale="zh-CN")
        chan_c = dd.add_channel(c, "images-c")
        admins_c = dd.add_role(c, "AdminsC", MANAGE_GUILD)
        admin_c = dd.add_user("admin-c")
        dd.add_member(c, admin_c, [admins_c])
        dd.add_member(c, w.alice)
        await announce(w, c)

        made = await cmd(w, "imagine", {"prompt": "a cat"}, user=w.alice, guild=c, channel=chan_c, locale="fr")
        assert len(made.files()) == 1, made.all_text()
        assert "张图片" in made.all_text(), made.all_text()  # the server's Chinese, not English
        assert w.gateway.generation_requests[-1].json["model"] == DEFAULT_MODEL

        saved = await cmd(w, "budget", {"amount": "0.20", "warn_percent": 10}, user=admin_c, guild=c,
                          channel=chan_c, sub="set")
        assert is_ephemeral(saved) and f"<#{chan_c.id}>" in saved.all_text(), saved.all_text()
        await eventually(lambda: any("预警" in text for text in contents(w, chan_c)))  # $0.162 of $0.20
        assert contents(w, w.channel) == []  # nothing of C's in the first server


async def test_a_server_that_removes_the_bot_and_adds_it_back_keeps_its_settings(tmp_path):
    # The README says nothing of a removal resetting anything: a server that removes
    # the bot (GUILD_DELETE) and invites it again (GUILD_CREATE) finds its blocked terms, approval
    # mode (reviews still go to its moderators' channel) and budget as it left them, and another
    # server is untouched throughout.
    async with world(tmp_path, start=False) as w:
        dd = w.discord
        a, chan_a = w.guild, w.channel
        admins = dd.add_role(a, "Admins", MANAGE_GUILD | MANAGE_MESSAGES)
        admin = dd.add_user("admin")
        dd.add_member(a, admin, [admins])
        mods = dd.add_channel(a, "mods")
        b = dd.add_guild("Server B")
        chan_b = dd.add_channel(b, "images-b")
        dd.add_member(b, w.alice)
        await w.start_bot()

        def in_a(name, options=None, *, user=admin, sub=None):
            return cmd(w, name, options, user=user, guild=a, channel=chan_a, sub=sub)

        await in_a("blocklist", {"term": "cat"}, sub="add")
        await in_a("settings", {"mode": "on", "channel": mods}, sub="approval")
        await in_a("budget", {"amount": "1", "warn_percent": 50, "warn_channel": mods}, sub="set")

        await dd.dispatch("GUILD_DELETE", {"id": str(a.id)})
        await eventually(lambda: w.bot.get_guild(a.id) is None, timeout=5)
        await announce(w, a)

        refused = await in_a("imagine", {"prompt": "a cat"}, user=w.alice)
        assert "does not allow" in refused.all_text() and is_ephemeral(refused), refused.all_text()
        sent = await in_a("imagine", {"prompt": "a dog"}, user=w.alice)
        assert "sent to the moderators" in sent.all_text(), sent.all_text()
        [review] = dd.channel_messages(mods)
        assert "Approval request" in review["content"], review["content"]
        shown = (await in_a("budget", sub="show")).all_text()
        assert "$1.00" in shown and f"<#{mods.id}>" in shown, shown

        # B never had any of it: no blocked term, no approval mode.
        made_b = await cmd(w, "imagine", {"prompt": "a cat"}, user=w.alice, guild=b, channel=chan_b)
        assert len(made_b.files()) == 1, made_b.all_text()


async def test_a_restart_tells_each_servers_members_and_warns_each_server_in_its_own_channels(tmp_path):
    # A crash left one request pending in each of two servers (A: English, B:
    # Chinese), both with a budget warning at 10% in their own moderators' channel. At the next
    # start (README: "their members are told in the channel ... what reached them and what they
    # paid"; the budget warning follows the spend the books closed), each notice goes to the
    # request's own channel, in that server's language, and each warning to its own server's
    # channel with its own server's spend.
    async with world(tmp_path, start=False) as w:
        dd = w.discord
        a, chan_a = w.guild, w.channel
        mods_a = dd.add_channel(a, "mods-a")
        b = dd.add_guild("Server B", locale="zh-CN")
        chan_b = dd.add_channel(b, "images-b")
        mods_b = dd.add_channel(b, "mods-b")
        dd.add_member(b, w.alice)

        # What a crash leaves behind: two reservations, one image billed and delivered in A,
        # one billed and not delivered in B.
        storage = await open_storage(w.settings.database_url)
        try:
            await storage.quotas.set_budget(a.id, Budget(1_000_000, 10, mods_a.id), actor_id=1)
            await storage.quotas.set_budget(b.id, Budget(1_000_000, 10, mods_b.id), actor_id=1)
            unlimited = Limits(None, None, None)
            in_a = await storage.ledger.reserve(
                RequestRecord(a.id, chan_a.id, w.alice.id, "imagine", DEFAULT_MODEL, "2K", "fox in A", 2, PRICE),
                limits=unlimited)
            in_b = await storage.ledger.reserve(
                RequestRecord(b.id, chan_b.id, w.alice.id, "imagine", DEFAULT_MODEL, "2K", "fox in B", 2, PRICE),
                limits=unlimited)
            await storage.ledger.record_billed(in_a, 2)
            await storage.ledger.record_delivered(in_a, 1)
            await storage.ledger.record_billed(in_b, 1)
        finally:
            await storage.close()

        await w.start_bot()
        await eventually(lambda: all(contents(w, ch) for ch in (chan_a, chan_b, mods_a, mods_b)), timeout=15)
        [told_a], [told_b] = contents(w, chan_a), contents(w, chan_b)
        assert "fox in A" in told_a and "$0.162" in told_a and "fox in B" not in told_a, told_a
        assert "fox in B" in told_b and "重启" in told_b and "fox in A" not in told_b, told_b
        [warn_a], [warn_b] = contents(w, mods_a), contents(w, mods_b)
        assert "$0.324" in warn_a, warn_a  # A's two billed images, nothing of B's
        assert "$0.162" in warn_b and "预警" in warn_b, warn_b  # B's one, in B's language
        assert await w.storage.requests.untold() == []


async def test_two_servers_asking_at_the_same_moment_each_get_their_own_settings(tmp_path):
    # Server A blocks "cat" and defaults to Seedream 4.5; server B has neither.
    # Their members ask at the same moment, interleaved: every A request that passes uses 4.5,
    # every B request the bot's default, A's term refuses only in A, and /spend's CSV of each
    # server holds its own prompts only.
    async with world(tmp_path, start=False) as w:
        dd = w.discord
        a, chan_a = w.guild, w.channel
        admins = dd.add_role(a, "Admins", MANAGE_GUILD)
        admin_a = dd.add_user("admin-a")
        dd.add_member(a, admin_a, [admins])
        b = dd.add_guild("Server B")
        chan_b = dd.add_channel(b, "images-b")
        admins_b = dd.add_role(b, "AdminsB", MANAGE_GUILD)
        admin_b = dd.add_user("admin-b")
        dd.add_member(b, admin_b, [admins_b])
        members = [dd.add_user(f"m{i}") for i in range(6)]
        for m in members:
            dd.add_member(a, m)
            dd.add_member(b, m)
        await w.start_bot()
        await cmd(w, "blocklist", {"term": "cat"}, user=admin_a, guild=a, channel=chan_a, sub="add")
        await cmd(w, "settings", {"model": OTHER_MODEL}, user=admin_a, guild=a, channel=chan_a, sub="defaults")

        asked = []
        for i, m in enumerate(members):
            for guild, channel, tag in ((a, chan_a, "A"), (b, chan_b, "B")):
                prompt = f"a cat {tag}{i}" if i % 2 else f"a dog {tag}{i}"
                asked.append((tag, prompt, dd.invoke_command("imagine", {"prompt": prompt}, user=m, guild=guild,
                                                             channel=channel)))
        inters = await asyncio.gather(*(coro for _, _, coro in asked))
        await asyncio.gather(*(inter.wait_for_final(timeout=20, quiet=0.3) for inter in inters))
        for (tag, prompt, _), inter in zip(asked, inters, strict=True):
            refused = tag == "A" and "cat" in prompt
            assert (len(inter.files()) == 0) == refused, (tag, prompt, inter.all_text())
        models = {r.json["prompt"]: r.json["model"] for r in w.gateway.generation_requests}
        assert all(model == OTHER_MODEL for prompt, model in models.items() if " A" in prompt), models
        assert all(model == DEFAULT_MODEL for prompt, model in models.items() if " B" in prompt), models
        assert not any("cat A" in prompt for prompt in models), models

        for admin, guild, channel, tag in ((admin_a, a, chan_a, "A"), (admin_b, b, chan_b, "B")):
            spend = await cmd(w, "spend", {"period": "month"}, user=admin, guild=guild, channel=channel)
            csv_text = next(d for n, d in spend.files() if n.endswith(".csv")).decode("utf-8-sig")
            other = "B" if tag == "A" else "A"
            assert f" {tag}" in csv_text and f" {other}0" not in csv_text and f" {other}1" not in csv_text, csv_text
