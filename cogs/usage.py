"""/usage: what the caller has used and what is left."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from i18n import locale_of, t
from image_gateway.catalog import format_usd
from pipeline.explain import UserError
from pipeline.job import ImageJob

if TYPE_CHECKING:
    from bot import SeedreamBot


class Usage(commands.Cog):
    def __init__(self, bot: SeedreamBot) -> None:
        self.bot = bot

    @app_commands.command(name="usage", description="Your images today, your spend this month, the server budget")
    @app_commands.guild_only()
    async def usage(self, interaction: discord.Interaction) -> None:
        if interaction.guild_id is None:
            raise UserError("error.guild_only", code="guild_only")
        locale = locale_of(interaction)
        user = interaction.user
        probe = ImageJob(
            command="usage", guild_id=interaction.guild_id, channel_id=interaction.channel_id or 0,
            user_id=user.id, locale=locale, prompt="", model=self.bot.resolve_model(None),
            role_ids=tuple(role.id for role in getattr(user, "roles", ())),
        )
        limits = await self.bot.limits_for(probe)
        snap = await self.bot.storage.ledger.usage(interaction.guild_id, user.id)
        lines = [
            f"**{t('usage.title', locale)}**",
            _of_limit("usage.images_today", locale, snap.images_today, limits.daily_images, str),
        ]
        if held := min(snap.pending_images, snap.images_today):  # counted already, as the money held is
            lines.append(t("usage.images_held", locale, count=held))
        spent = _of_limit("usage.spend_month", locale, snap.member_month_micros, limits.monthly_micros, format_usd)
        lines.append(spent)
        if snap.pending_micros:  # the limits count it already; it becomes spend, or comes back, when they end
            lines.append(t("spend.reserved", locale, amount=format_usd(snap.pending_micros)))
        if limits.guild_monthly_micros is None:
            lines.append(t("usage.guild_spent", locale, used=format_usd(snap.guild_month_micros)))
        else:
            left = max(limits.guild_monthly_micros - snap.guild_month_micros, 0)
            lines.append(t("usage.guild_budget", locale, left=format_usd(left),
                           limit=format_usd(limits.guild_monthly_micros)))
        if any(model.price_micros is None for model in self.bot.preset.models.values()):
            lines.append(t("usage.unpriced", locale))  # else "$0.00" reads as free
        await interaction.response.send_message("\n".join(lines), ephemeral=True)


def _of_limit(key: str, locale: str, used: int, limit: int | None, shown: Callable[[int], str]) -> str:
    """"Images today: 3 of 20", or "Images today: 3 (no limit)" ("3 of unlimited" read badly)."""
    if limit is None:
        return t(f"{key}_unlimited", locale, used=shown(used))
    return t(key, locale, used=shown(used), limit=shown(limit))


async def setup(bot: SeedreamBot) -> None:
    await bot.add_cog(Usage(bot))
