"""The server's rules (allowed channels, required role) are told before any mistake in the options,
a model the member typed included."""

from __future__ import annotations

from tests.e2e.harness import world
from tests.e2e.staff import add_staff, is_ephemeral


async def test_a_wrong_model_in_a_wrong_channel_is_told_the_channel_first(tmp_path):
    # README: "both [channel and role] come before any mistake in the options". A model the member
    # typed is resolved when the job is made, before any server rule: alice in #lobby typing
    # /imagine model:"seedream-9" was taught the list of models before learning image commands
    # never worked in #lobby.
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        lobby = w.discord.add_channel(w.guild, "lobby")
        await w.start_bot()
        await w.run("settings", {"channel": w.channel}, user=staff.admin, subcommand="channels add")
        sized = await w.run("imagine", {"prompt": "a cat", "size": "3x3"}, channel=lobby)
        assert f"<#{w.channel.id}>" in sized.all_text(), sized.all_text()  # an option mistake too
        modelled = await w.run("imagine", {"prompt": "a cat", "model": "seedream-9"}, channel=lobby)
        assert is_ephemeral(modelled) and w.gateway.generation_requests == []
        assert f"<#{w.channel.id}>" in modelled.all_text(), modelled.all_text()
