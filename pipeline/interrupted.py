"""Telling the members whose requests a stop cut short (a crash, a SIGKILL, a power cut).

The books close at start, before the bot connects (`Ledger.recover_pending`: what was delivered is
charged, the rest released, and the requests go on the list of members to tell). Once connected,
each of those members is told in the request's channel, mentioning them, what reached them and
what they paid: the reply they were watching may still say "thinking..." or show half a series
with no summary. A request leaves the list once told, so a notice a second stop cut off is sent
at the start after it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord

from i18n import t
from image_gateway.catalog import cost_not_known
from image_gateway.money import format_usd
from pipeline.summary import prompt_preview

if TYPE_CHECKING:
    from bot import SeedreamBot
    from storage.requests import LedgerRow

log = logging.getLogger(__name__)


async def tell_interrupted(bot: SeedreamBot, request_ids: Sequence[int]) -> None:
    """Once the bot is ready. Each request goes off the list once its member was told, or when
    they never can be (the channel gone, or closed to the bot); one Discord could not take now
    (a 5xx, a dropped connection, another stop) stays on it for the next start."""
    await bot.wait_until_ready()
    checked: set[tuple[int, str]] = set()  # (server, month) whose budget warning was checked
    for request_id in request_ids:
        row = await bot.storage.requests.get(request_id)
        month = (row.guild_id, f"{row.created_at:%Y-%m}") if row is not None else None
        if row is not None and row.cost_micros and month not in checked:
            checked.add(month)
            await _warn_budget(bot, row)
        try:
            if row is not None:
                await _tell(bot, row)
        except (discord.NotFound, discord.Forbidden):
            log.warning("request %s: its member cannot be told it was cut short (channel gone or closed)", request_id)
        except Exception:  # one member not told now does not keep the next from being told
            log.warning("request %s: could not tell the member it was cut short; next start", request_id,
                        exc_info=True)  # fmt: skip
            continue
        await bot.storage.requests.told(request_id)


async def _warn_budget(bot: SeedreamBot, row: LedgerRow) -> None:
    """The budget warning a settlement would have posted, for spend the start's closing of the
    books added (`Pipeline`'s settled hooks never saw it)."""
    try:
        await bot.budget_alerts.check(row.guild_id, row.created_at)
    except Exception:
        log.warning("guild %s: the budget warning could not be checked after the restart", row.guild_id,
                    exc_info=True)  # fmt: skip


async def _tell(bot: SeedreamBot, row: LedgerRow) -> None:
    channel = bot.get_channel(row.channel_id) or await bot.fetch_channel(row.channel_id)
    if not isinstance(channel, discord.abc.Messageable):
        return
    guild = getattr(channel, "guild", None)
    unknown = cost_not_known(bot.preset.models.get(row.model), row.charged_micros, row.images_delivered)
    text = interrupted_text(row, getattr(guild, "preferred_locale", None), priced=not unknown)
    await channel.send(text, allowed_mentions=discord.AllowedMentions(users=[discord.Object(row.user_id)]))


def interrupted_text(row: LedgerRow, server_locale: object, *, priced: bool = True) -> str:
    """In the member's language when they asked, else the server's (rows from before it was kept).
    With nothing delivered on record the text stays true either way: a stop between posting the
    images and recording it charges nothing. `priced`: the model has a price (without one, the
    books' $0 is not what the images cost, and is not said as if it were)."""
    params = {"member": f"<@{row.user_id}>", "prompt": prompt_preview(row.prompt)}
    if row.images_delivered and not priced and not row.charged_micros:
        return t("interrupted.delivered_unpriced", row.locale, server_locale, delivered=row.images_delivered,
                 requested=row.images_requested, **params)  # fmt: skip
    if row.images_delivered:
        return t("interrupted.delivered", row.locale, server_locale, delivered=row.images_delivered,
                 requested=row.images_requested, charged=format_usd(row.charged_micros), **params)  # fmt: skip
    return t("interrupted.nothing", row.locale, server_locale, **params)
