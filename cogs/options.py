"""What the command cogs share: turning options into an ImageJob, and autocompletion."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from pipeline.explain import UserError
from pipeline.job import ImageJob, Reference

if TYPE_CHECKING:
    from bot import SeedreamBot

MAX_CHOICES = 25


def job_from_interaction(
    bot: SeedreamBot,
    interaction: discord.Interaction,
    *,
    command: str,
    prompt: str,
    model: str | None,
    size: str | None,
    count: int = 1,
    seed: int | None = None,
    series: bool = False,
    references: list[Reference] | None = None,
) -> ImageJob:
    if interaction.guild_id is None or interaction.channel_id is None:
        raise UserError("error.guild_only", code="guild_only")
    member = interaction.user
    roles = tuple(role.id for role in getattr(member, "roles", ()))
    return ImageJob(
        command=command,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        user_id=member.id,
        locale=str(interaction.locale.value),
        prompt=prompt,
        model=bot.resolve_model(model),
        size=size,
        count=count,
        seed=seed,
        series=series,
        references=references or [],
        role_ids=roles,
    )


async def model_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    bot: SeedreamBot = interaction.client  # type: ignore[assignment]
    needle = current.casefold()
    return [
        app_commands.Choice(name=f"{spec.label} ({spec.id})"[:100], value=spec.id)
        for spec in bot.preset.models.values()
        if needle in spec.id.casefold() or needle in spec.label.casefold()
    ][:MAX_CHOICES]


async def size_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    bot: SeedreamBot = interaction.client  # type: ignore[assignment]
    model_name = getattr(interaction.namespace, "model", None)
    try:
        spec = bot.resolve_model(model_name)
    except Exception:
        spec = bot.resolve_model(None)
    sizes = [*spec.size_tiers, *spec.fixed_sizes]
    if spec.default_size and spec.default_size not in sizes:
        sizes.append(spec.default_size)
    needle = current.casefold()
    return [app_commands.Choice(name=s, value=s) for s in sizes if needle in s.casefold()][:MAX_CHOICES]
