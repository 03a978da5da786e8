"""The Cancel button on a waiting request. Its custom_id carries the ledger request id, so it
works on any message, also after a restart (where the request is no longer waiting)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from i18n import t

if TYPE_CHECKING:
    from bot import SeedreamBot


class CancelQueued(discord.ui.DynamicItem[discord.ui.Button], template=r"queue:cancel:(?P<request_id>[0-9]+)"):
    def __init__(self, request_id: int, label: str = "Cancel") -> None:
        super().__init__(
            discord.ui.Button(
                label=label, style=discord.ButtonStyle.secondary, custom_id=f"queue:cancel:{request_id}"
            )
        )
        self.request_id = request_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match, /):
        return cls(int(match["request_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: SeedreamBot = interaction.client  # type: ignore[assignment]
        place = bot.queue.find(self.request_id)
        if place is not None and place.user_id != interaction.user.id:
            await interaction.response.send_message(t("queue.cancel_not_yours", interaction.locale), ephemeral=True)
        elif place is not None and bot.queue.withdraw(place, "cancelled"):
            await interaction.response.defer()  # the request's own task says "Cancelled" once released
        else:
            await interaction.response.send_message(t("queue.cancel_too_late", interaction.locale), ephemeral=True)


def cancel_view(request_id: int, locale: object) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CancelQueued(request_id, label=t("queue.cancel_button", locale)))
    return view


async def setup(bot: SeedreamBot) -> None:
    bot.add_dynamic_items(CancelQueued)
