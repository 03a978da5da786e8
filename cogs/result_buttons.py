"""The buttons under every result: Re-roll, Variation, Upscale, Delete.

Each button is a `discord.ui.DynamicItem` whose custom_id carries the ledger request id
(``sd:<action>:<id>``), so a press works after the bot restarts: the request is read back from
the ledger (`storage.requests`). A press that makes images is a new `ImageJob` handed to
`bot.generate`, exactly like a typed command (moderation, quotas, ledger, queue).

Only the requester may use Re-roll, Variation and Upscale; Delete also works for moderators.
Anyone else, and a press on a result whose request is gone, gets a private answer.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord

from cogs.checks import is_moderator
from cogs.options import generate_with_attachments, job_from_interaction
from i18n import locale_of, t
from pipeline.delivery import report_error, set_result_view
from pipeline.explain import UserError
from pipeline.references import looks_like_image
from pipeline.runner import Ticket
from storage.requests import LedgerRow

if TYPE_CHECKING:
    from bot import SeedreamBot

log = logging.getLogger(__name__)

ACTIONS = ("reroll", "variation", "upscale", "delete")
STYLES = {
    "reroll": discord.ButtonStyle.primary,
    "variation": discord.ButtonStyle.secondary,
    "upscale": discord.ButtonStyle.secondary,
    "delete": discord.ButtonStyle.danger,
}
# Requests made from reference images: the ledger does not keep those images, so only Variation
# (which starts from the result itself) can follow them.
REFERENCE_COMMANDS = frozenset({"edit", "variation"})
MODAL_TEXT_MAX = 45
PROMPT_INPUT_MAX = 4000
HISTORY_SCAN = 50  # a result's other image messages are among the channel's latest messages


class ResultButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"sd:(?P<action>reroll|variation|upscale|delete):(?P<id>[0-9]{1,19})",
):
    def __init__(self, action: str, request_id: int, label: str | None = None) -> None:
        super().__init__(
            discord.ui.Button(label=label or action, style=STYLES[action], custom_id=f"sd:{action}:{request_id}")
        )
        self.action = action
        self.request_id = request_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: Any, /
    ) -> ResultButton:
        return cls(match["action"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        try:
            await PRESSES[self.action](interaction, self.request_id)
        except Exception as error:  # the one funnel: a short private answer, details to the log
            await report_error(interaction, error)


def result_view(ticket: Ticket) -> discord.ui.View:
    """The buttons for one result, labelled in the requester's language."""
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        view.add_item(ResultButton(action, ticket.request_id, t(f"buttons.{action}", ticket.job.locale)))
    return view


# -- presses ---------------------------------------------------------------------------------
async def _request(interaction: discord.Interaction, request_id: int) -> LedgerRow:
    bot: SeedreamBot = interaction.client  # type: ignore[assignment]
    row = await bot.storage.requests.get(request_id)
    if row is None:
        raise UserError("buttons.request_gone", code="request_gone")
    return row


async def _own_request(interaction: discord.Interaction, request_id: int) -> LedgerRow:
    row = await _request(interaction, request_id)
    if row.user_id != interaction.user.id:
        raise UserError("buttons.not_yours", code="not_requester")
    return row


def _repeatable(row: LedgerRow) -> None:
    if row.command in REFERENCE_COMMANDS:
        raise UserError("buttons.needs_references", code="references_not_kept")


async def reroll(interaction: discord.Interaction, request_id: int) -> None:
    """The same request again (a series stays a series)."""
    row = await _own_request(interaction, request_id)
    _repeatable(row)
    series = row.command == "series"
    bot: SeedreamBot = interaction.client  # type: ignore[assignment]
    job = job_from_interaction(
        bot, interaction, command="series" if series else "reroll", prompt=row.prompt, model=row.model,
        size=row.size, count=row.images_requested, series=series,
    )  # fmt: skip
    await bot.generate(interaction, job)


async def upscale(interaction: discord.Interaction, request_id: int) -> None:
    """The same prompt, one image at the model's largest size."""
    row = await _own_request(interaction, request_id)
    _repeatable(row)
    bot: SeedreamBot = interaction.client  # type: ignore[assignment]
    model = bot.resolve_model(row.model)
    job = job_from_interaction(
        bot, interaction, command="upscale", prompt=row.prompt, model=model.id, size=model.largest_size, count=1
    )
    await bot.generate(interaction, job)


async def variation(interaction: discord.Interaction, request_id: int) -> None:
    """A modal with the prompt (editable), then an /edit of the image on this message."""
    row = await _own_request(interaction, request_id)
    message = interaction.message
    images = [a for a in (message.attachments if message else []) if looks_like_image(a)]
    if not images:
        raise UserError("buttons.image_gone", code="image_gone")
    bot: SeedreamBot = interaction.client  # type: ignore[assignment]
    await interaction.response.send_modal(VariationModal(bot, row, images[0], locale_of(interaction)))


async def delete(interaction: discord.Interaction, request_id: int) -> None:
    """Delete the result's messages: the requester, or a moderator."""
    moderator = is_moderator(interaction)
    bot: SeedreamBot = interaction.client  # type: ignore[assignment]
    row = await bot.storage.requests.get(request_id)
    if row is None and not moderator:
        raise UserError("buttons.request_gone", code="request_gone")
    if row is not None and row.user_id != interaction.user.id and not moderator:
        raise UserError("buttons.delete_not_allowed", code="not_allowed")
    await interaction.response.defer(ephemeral=True, thinking=True)
    if interaction.message is not None:
        await _delete_result_messages(interaction, interaction.message, request_id)
    await interaction.edit_original_response(content=t("buttons.deleted", locale_of(interaction)))


async def _delete_result_messages(
    interaction: discord.Interaction, message: discord.Message, request_id: int
) -> None:
    """The message with the buttons, and the bot's other messages carrying this result's images."""
    await message.delete()
    channel = interaction.channel
    me = interaction.client.user
    if not isinstance(channel, discord.abc.Messageable) or me is None:
        return
    prefix = f"seedream-{request_id}-"
    try:
        async for other in channel.history(limit=HISTORY_SCAN):
            if other.author.id == me.id and any(a.filename.startswith(prefix) for a in other.attachments):
                await other.delete()
    except discord.HTTPException as error:  # no Read Message History here: the rest stays
        log.info("request %s: could not look for its other messages: %s", request_id, error)


PRESSES = {"reroll": reroll, "variation": variation, "upscale": upscale, "delete": delete}


class VariationModal(discord.ui.Modal):
    """The original prompt, editable; submitting runs an /edit-style job on the result image."""

    def __init__(self, bot: SeedreamBot, row: LedgerRow, image: discord.Attachment, lang: str) -> None:
        super().__init__(
            title=t("buttons.variation_title", lang)[:MODAL_TEXT_MAX],
            timeout=15 * 60,
            custom_id=f"sd:variation-modal:{row.id}",
        )
        self.bot = bot
        self.image = image
        spec = bot.resolve_model(row.model)
        # A model that takes no reference image cannot make a variation: the server's default does.
        self.model = spec.id if spec.max_references else None
        self.size = row.size if self.model else None
        limit = min(spec.max_prompt_chars, PROMPT_INPUT_MAX)
        self.prompt: discord.ui.TextInput = discord.ui.TextInput(
            label=t("buttons.variation_prompt", lang)[:MODAL_TEXT_MAX],
            style=discord.TextStyle.paragraph,
            default=row.prompt[:limit],
            max_length=limit,
        )
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        await generate_with_attachments(
            self.bot, interaction, [self.image],
            command="variation", prompt=self.prompt.value, model=self.model, size=self.size,
        )  # fmt: skip

    async def on_error(self, interaction: discord.Interaction, error: Exception, /) -> None:  # type: ignore[override]
        await report_error(interaction, error)


async def setup(bot: SeedreamBot) -> None:
    bot.add_dynamic_items(ResultButton)
    set_result_view(result_view)


async def teardown(bot: SeedreamBot) -> None:
    bot.remove_dynamic_items(ResultButton)
    set_result_view(None)
