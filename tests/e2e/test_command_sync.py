"""Global commands reach every Discord application the bot logs in as, whatever the database remembers.

The bot asks Discord which global commands are registered (one GET) and syncs when they are not
this version's; it also keeps a fingerprint of the tree per application. Unchanged: no PUT.
"""

from __future__ import annotations

from pathlib import Path

from tests.doubles.discord_double import DiscordDouble
from tests.doubles.image_gateway_double import ImageGatewayDouble
from tests.e2e.botproc import BotProcess
from tests.e2e.harness import API_KEY, world


def _env(gw: ImageGatewayDouble, db: Path) -> dict[str, str]:
    return {"IMAGE_PROVIDER": gw.flavour.name, "IMAGE_API_KEY": API_KEY, "IMAGE_API_BASE_URL": gw.base_url,
            "DATABASE_URL": f"sqlite:///{db}"}


def _global_lists(dd: DiscordDouble) -> int:
    path = f"/applications/{dd.application_id}/commands"
    return sum(1 for r in dd.requests if r.method == "GET" and r.path.endswith(path))


async def test_a_new_discord_application_gets_the_commands_though_the_database_exists(tmp_path):
    db = tmp_path / "bot.db"
    async with ImageGatewayDouble(api_key=API_KEY) as gw:
        for run in range(2):  # the same database, a new application (a new Discord) each time
            async with DiscordDouble() as dd:
                guild = dd.add_guild("G")
                channel, alice = dd.add_channel(guild, "images"), dd.add_user("alice")
                dd.add_member(guild, alice)
                async with BotProcess(dd, _env(gw, db), log_path=tmp_path / f"bot{run}.log") as bot:
                    assert dd.commands.find("imagine") is not None, f"start {run}: no /imagine\n{bot.logs()[-600:]}"
                    assert dd.commands.put_counts[None] == 1
                    assert _global_lists(dd) <= 1  # at most one look at what Discord has
                    inter = await dd.invoke_command("imagine", {"prompt": "a cat"}, user=alice, guild=guild,
                                                    channel=channel)
                    await inter.wait_for_final(timeout=15, quiet=0.3)
                    assert len(inter.files()) == 1
                assert dd.spec_violations == [] and dd.unhandled == [], (dd.spec_violations, dd.unhandled)


async def test_commands_removed_on_discord_are_registered_again_at_the_next_start(tmp_path):
    async with world(tmp_path) as w:
        assert w.discord.commands.put_counts[None] == 1
        imagine = w.discord.commands.find("imagine")
        assert imagine is not None
        w.discord.commands.delete(None, imagine["id"])  # another deployment, or a hand-made cleanup
        await w.restart_bot()
        assert w.discord.commands.put_counts[None] == 2
        inter = await w.run("imagine", {"prompt": "a cat"})
        assert len(inter.files()) == 1
        looked = _global_lists(w.discord)
        await w.restart_bot()  # and once they are back, no further PUT: one GET is the cost of a start
        assert w.discord.commands.put_counts[None] == 2
        assert _global_lists(w.discord) == looked + 1
        assert any("command tree unchanged; not syncing" in line for line in w.logs.lines)


async def test_a_command_changed_on_discord_is_put_back(tmp_path):
    async with world(tmp_path) as w:
        usage = w.discord.commands.find("usage")
        assert usage is not None
        w.discord.commands.edit(None, usage["id"], {"description": "something an older version said"})
        await w.restart_bot()
        assert w.discord.commands.put_counts[None] == 2
        assert w.discord.commands.find("usage")["description"] != "something an older version said"


async def test_listing_commands_leaves_out_localizations_unless_asked(tmp_path):
    """As Discord does: the dictionaries only with ?with_localizations=true."""
    async with world(tmp_path) as w, w.http.get(
        f"{w.discord.api_base}/applications/{w.discord.application_id}/commands",
        headers={"Authorization": f"Bot {w.discord.bot_token}"},
    ) as plain:
        listed = await plain.json()
        assert {c["name"] for c in listed} >= {"imagine", "usage"}
        assert not any("name_localizations" in c or "description_localizations" in c for c in listed)
        async with w.http.get(
            f"{w.discord.api_base}/applications/{w.discord.application_id}/commands",
            params={"with_localizations": "true"}, headers={"Authorization": f"Bot {w.discord.bot_token}"},
        ) as full:
            imagine = next(c for c in await full.json() if c["name"] == "imagine")
        assert "zh-CN" in (imagine["description_localizations"] or {})


async def test_a_failed_look_at_discords_commands_does_not_stop_the_start(tmp_path):
    async with world(tmp_path) as w:
        w.discord.drop_next(2, method="GET", path=r"/applications/\d+/commands$")  # beyond discord.py's retry
        await w.restart_bot()  # trusted to the fingerprint: the tree is unchanged
        assert w.discord.commands.put_counts[None] == 1
        assert any("could not list the commands on Discord" in line for line in w.logs.lines)
        inter = await w.run("imagine", {"prompt": "a cat"})
        assert len(inter.files()) == 1
