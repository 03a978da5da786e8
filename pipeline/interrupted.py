"""Telling the members whose requests a stop cut short (a crash, a SIGKILL, a power cut).

The books close at start, before the bot connects (`Ledger.recover_pending`: what was delivered is
charged, the rest released). Once connected, each of those members is told in the request's
channel, mentioning them, what reached them and what they paid: the reply they were watching may
still say "thinking..." or show half a series with no summary.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord

from i18n import t
from image_gateway.money import format_usd
from pipeline.summary import prompt_preview

if TYPE_CHECKING:
    from bot import SeedreamBot
    from storage.requests import LedgerRow

log = logging.getLogger(__name__)


async def tell_interrupted(bot: SeedreamBot, request_ids: Sequence[int]) -> None:
    """Best effort, once the bot is ready: a channel gone or closed to the bot is logged."""
    await bot.wait_until_ready()
    for request_id in request_ids:
        row = await bot.storage.requests.get(request_id)
        if row is None:
            continue
        try:
            channel = bot.get_channel(row.channel_id) or await bot.fetch_channel(row.channel_id)
            if not isinstance(channel, discord.abc.Messageable):
                continue
            guild = getattr(channel, "guild", None)
            text = interrupted_text(row, getattr(guild, "preferred_locale", None))
            await channel.send(text, allowed_mentions=discord.AllowedMentions(users=[discord.Object(row.user_id)]))
        except Exception:  # one member not told does not keep the next from being told
            log.warning("request %s: could not tell the member it was cut short", request_id, exc_info=True)


def interrupted_text(row: LedgerRow, locale: object) -> str:
    """In the server's language (the member's is not kept). With nothing delivered on record the
    text stays true either way: a stop between posting the images and recording it charges nothing."""
    params = {"member": f"<@{row.user_id}>", "prompt": prompt_preview(row.prompt)}
    if row.images_delivered:
        return t("interrupted.delivered", locale, delivered=row.images_delivered, requested=row.images_requested,
                 charged=format_usd(row.charged_micros), **params)  # fmt: skip
    return t("interrupted.nothing", locale, **params)
