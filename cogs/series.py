"""/series: a set of related images (sequential generation), posted as each one arrives."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs.options import generate_with_attachments, model_autocomplete, size_autocomplete
from image_gateway.catalog import MAX_TOTAL_IMAGES, MIN_SERIES

if TYPE_CHECKING:
    from bot import SeedreamBot


class Series(commands.Cog):
    def __init__(self, bot: SeedreamBot) -> None:
        self.bot = bot

    @app_commands.command(name="series", description="Generate a series of related images")
    @app_commands.guild_only()
    @app_commands.describe(
        prompt="What the series shows (English or Chinese)",
        count=f"How many images, {MIN_SERIES} to {MAX_TOTAL_IMAGES} (fewer with reference images)",
        image="A reference image",
        image2="Another reference image",
        image3="Another reference image",
        model="Which model (default: the server's)",
        size="A size such as 2K or 2048x2048",
    )
    @app_commands.autocomplete(model=model_autocomplete, size=size_autocomplete)
    async def series(
        self,
        interaction: discord.Interaction,
        prompt: str,
        count: app_commands.Range[int, MIN_SERIES, MAX_TOTAL_IMAGES],
        image: discord.Attachment | None = None,
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        model: str | None = None,
        size: str | None = None,
    ) -> None:
        await generate_with_attachments(  # empty options too: a bad image is named by its option's number
            self.bot, interaction, (image, image2, image3),
            command="series", prompt=prompt, model=model, size=size, count=count, series=True,
        )  # fmt: skip


async def setup(bot: SeedreamBot) -> None:
    await bot.add_cog(Series(bot))
