"""The Cancel button on a waiting request. Its custom_id carries the ledger request id, so it
works on any message, also after a restart (where the request is no longer waiting).

A press is answered by editing the message the button is on (with the press's own token), not
through the request's reply: that token expires after 15 minutes, and a request may wait longer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from cogs.checks import is_buttons_request
from i18n import locale_of, t

if TYPE_CHECKING:
    from bot import SeedreamBot
    from storage.requests import LedgerRow

# A released request whose ledger row says a restart ended it: withdrawn by a graceful shutdown,
# or released at the next start after a crash (storage.ledger.INTERRUPTED).
RESTART_CODES = frozenset({"shutdown", "interrupted"})


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
        locale = locale_of(interaction)
        row = await bot.storage.requests.get(self.request_id)
        if row is not None and not is_buttons_request(row, interaction):
            # Another request under a reused id (a database started afresh): not this one.
            await _tell(interaction, t("queue.cancel_too_late", locale))
            return
        place = bot.queue.find(self.request_id)
        if place is not None:
            if place.user_id != interaction.user.id:
                await _tell(interaction, t("queue.cancel_not_yours", locale))
            elif bot.queue.withdraw(place, "cancelled") or place.state == "withdrawn":
                # withdrawn now, or by a press a moment ago (a double click) whose task is still
                # releasing the reservation: its own task does that
                await interaction.response.edit_message(content=t("queue.withdrawn.cancelled", locale), view=None)
            else:
                await _tell(interaction, t("queue.cancel_too_late", locale))
            return
        if row is not None and row.user_id != interaction.user.id:
            await _tell(interaction, t("queue.cancel_not_yours", locale))
        elif row is not None and (text := _ended_text(row, locale)) is not None:
            await interaction.response.edit_message(content=text, view=None)  # the message was out of date
        else:
            await _tell(interaction, t("queue.cancel_too_late", locale))


def _ended_text(row: LedgerRow, locale: str) -> str | None:
    """What the message should say now, for a request no longer in line whose message still shows
    its place and Cancel: the reply it was could not be edited (its token expired while it waited;
    the results then went to the channel), or the telling was lost. None for a row never admitted."""
    if row.status == "pending":
        return t("queue.cancel_running", locale)
    if row.status == "settled":
        return t("queue.cancel_ran", locale)
    if row.status != "released":
        return None
    if row.error_code in ("cancelled", "cannot_post", "channel_gone"):
        # a second press, or the telling was lost (for cannot_post, nowhere was left to tell it:
        # this press's own answer is)
        return t(f"queue.withdrawn.{row.error_code}", locale)
    if row.error_code in RESTART_CODES:
        return t("queue.cancel_restarted", locale)
    return t("queue.cancel_ended", locale)


async def _tell(interaction: discord.Interaction, text: str) -> None:
    await interaction.response.send_message(text, ephemeral=True)


def cancel_view(request_id: int, locale: object) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CancelQueued(request_id, label=t("queue.cancel_button", locale)))
    return view


async def setup(bot: SeedreamBot) -> None:
    bot.add_dynamic_items(CancelQueued)
