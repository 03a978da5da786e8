"""/imagine: text to image."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs.options import job_from_interaction, model_autocomplete, size_autocomplete

if TYPE_CHECKING:
    from bot import SeedreamBot


class Imagine(commands.Cog):
    def __init__(self, bot: SeedreamBot) -> None:
        self.bot = bot

    @app_commands.command(name="imagine", description="Generate images from a text prompt")
    @app_commands.guild_only()
    @app_commands.describe(
        prompt="What to draw (English or Chinese)",
        model="Which model (default: the server's)",
        size="A size such as 2K or 2048x2048",
        count="How many images, 1 to 4",
        seed="A seed for repeatable results (models that support it)",
    )
    @app_commands.autocomplete(model=model_autocomplete, size=size_autocomplete)
    async def imagine(
        self,
        interaction: discord.Interaction,
        prompt: str,
        model: str | None = None,
        size: str | None = None,
        count: app_commands.Range[int, 1, 4] = 1,
        seed: app_commands.Range[int, -1, 2147483647] | None = None,
    ) -> None:
        job = job_from_interaction(
            self.bot, interaction, command="imagine", prompt=prompt, model=model, size=size,
            count=count, seed=seed,
        )
        await self.bot.generate(interaction, job)


async def setup(bot: SeedreamBot) -> None:
    await bot.add_cog(Imagine(bot))
