"""/edit and the "Edit with Seedream" message menu: images from attachments, changed by a prompt."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from cogs.options import (
    generate_with_attachments,
    job_from_interaction,
    model_autocomplete,
    pick_model,
    refuse_before_form,
    size_autocomplete,
    submitted_value,
)
from i18n import locale_of, t
from image_gateway.catalog import ModelSpec
from pipeline.delivery import report_error
from pipeline.explain import UserError
from pipeline.references import looks_like_image, precheck

if TYPE_CHECKING:
    from bot import SeedreamBot

CONTEXT_MENU_NAME = "Edit with Seedream"
MODAL_TITLE_MAX = 45
EDIT_MODAL = re.compile(r"sd:edit-modal:(?P<id>[0-9]{1,19})")
PROMPT_FIELD = "prompt"
RECENT_TARGETS = 100  # messages the menu was used on lately, kept so that a submission needs no fetch


def message_images(message: discord.Message) -> list[discord.Attachment]:
    """The message's images, and those of the message it forwards (a forward carries none of its
    own: they are in `message_snapshots`)."""
    forwarded = [attachment for snapshot in message.message_snapshots for attachment in snapshot.attachments]
    return [a for a in (*message.attachments, *forwarded) if looks_like_image(a)]


def images_and_model(
    bot: SeedreamBot, guild_id: int, message: discord.Message
) -> tuple[list[discord.Attachment], ModelSpec, int]:
    """The images the request will use, its model, and how many images the message has.

    The model is chosen for the message's images as /edit chooses it for its attachments
    (`pick_model`): the server's default, else the bot's, unless it cannot take that many. Only
    when no model takes them all are the first ones used, as many as the most any model takes.
    No model taking images at all is refused now, before the member types a prompt."""
    images = message_images(message)
    if not images:
        raise UserError("error.no_images_in_message", code="no_images")
    most = max((spec.max_references for spec in bot.preset.models.values()), default=0)
    wanted = min(len(images), most) or len(images)
    server = bot.storage.guild_config.get(guild_id)
    model = pick_model(bot, None, server.default_model, references=wanted, series=False)
    model.validate_reference_count(wanted)
    return images[:wanted], model, len(images)


class EditPromptModal(discord.ui.Modal):
    """The form only: `Edit.on_edit_submit` answers it by its custom_id (the target message's id),
    so a form submitted after a restart, or after discord.py's view timeout, still runs."""

    def __init__(self, message_id: int, locale: str, model: ModelSpec, *, used: int, total: int) -> None:
        super().__init__(
            title=t("edit.modal_title", locale)[:MODAL_TITLE_MAX], timeout=None, custom_id=f"sd:edit-modal:{message_id}"
        )
        if used < total:  # told before the member types, not discovered in the result
            self.add_item(discord.ui.TextDisplay(t("edit.images_left_out", locale, used=used, total=total)))
        self.add_item(discord.ui.TextInput(
            label=t("edit.modal_prompt", locale)[:MODAL_TITLE_MAX],
            placeholder=t("edit.modal_placeholder", locale)[:100],
            style=discord.TextStyle.paragraph,
            custom_id=PROMPT_FIELD,
            max_length=min(model.max_prompt_chars, 4000),
        ))  # fmt: skip


class Edit(commands.Cog):
    def __init__(self, bot: SeedreamBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name=CONTEXT_MENU_NAME, callback=self.edit_message)
        self.menu.guild_only = True
        self._targets: dict[int, discord.Message] = {}  # by id, oldest first (see `_remember`)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(name="edit", description="Change attached images with a prompt")
    @app_commands.guild_only()
    @app_commands.describe(
        prompt="What to change (English or Chinese)",
        image="The image to edit",
        image2="Another reference image",
        image3="Another reference image",
        image4="Another reference image",
        model="Which model (default: the server's)",
        size="A size such as 2K or 2048x2048",
    )
    @app_commands.autocomplete(model=model_autocomplete, size=size_autocomplete)
    async def edit(
        self,
        interaction: discord.Interaction,
        prompt: str,
        image: discord.Attachment,
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        model: str | None = None,
        size: str | None = None,
    ) -> None:
        await generate_with_attachments(  # empty options too: a bad image is named by its option's number
            self.bot, interaction, (image, image2, image3, image4), command="edit", prompt=prompt, model=model,
            size=size,
        )  # fmt: skip

    async def edit_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """A form for the prompt; the images are the message's (`images_and_model`)."""
        if interaction.guild_id is None:
            raise UserError("error.guild_only", code="guild_only")
        images, model, total = images_and_model(self.bot, interaction.guild_id, message)
        precheck(images)  # what Discord's metadata tells (a 6240x2656 4K result) is told before typing too
        # a member the server refuses is told before typing
        job = job_from_interaction(
            self.bot, interaction, command="edit", prompt="", model=model.id, size=None, reference_count=len(images)
        )
        await refuse_before_form(self.bot, job)
        self._remember(message)
        modal = EditPromptModal(message.id, locale_of(interaction), model, used=len(images), total=total)
        # Stopped before it is sent, so discord.py keeps no copy of it: `on_edit_submit` alone
        # answers the submission, by custom_id.
        modal.stop()
        await interaction.response.send_modal(modal)

    @commands.Cog.listener("on_interaction")
    async def on_edit_submit(self, interaction: discord.Interaction) -> None:
        """Every Edit form, by its custom_id (sd:edit-modal:<message id>): the message's images and
        the model are taken again, as the menu took them."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: dict[str, Any] = interaction.data or {}  # type: ignore[assignment]
        match = EDIT_MODAL.fullmatch(str(data.get("custom_id", "")))
        if match is None:
            return
        try:
            if interaction.guild_id is None:
                raise UserError("error.guild_only", code="guild_only")  # noqa: TRY301 - the one funnel below
            message = await self._target(interaction, int(match["id"]))
            images, model, _ = images_and_model(self.bot, interaction.guild_id, message)
            prompt = submitted_value(data.get("components") or [], PROMPT_FIELD)
            await generate_with_attachments(
                self.bot, interaction, images, command="edit", prompt=prompt, model=model.id, size=None
            )
        except Exception as error:  # the one funnel: a short private answer, details to the log
            await report_error(interaction, error)

    def _remember(self, message: discord.Message) -> None:
        self._targets.pop(message.id, None)
        self._targets[message.id] = message
        while len(self._targets) > RECENT_TARGETS:
            del self._targets[next(iter(self._targets))]

    async def _target(self, interaction: discord.Interaction, message_id: int) -> discord.Message:
        """The message the menu was used on, fetched again: its author may have deleted it while
        the form was open (the bot hears of no deletion: it asks for no message events), and
        it would be edited and posted all the same. Where the bot cannot read the channel's
        history (Read Message History), the message as the menu saw it; none after a restart."""
        held = self._targets.get(message_id)
        channel = interaction.channel
        if isinstance(channel, discord.abc.Messageable):
            try:
                return await channel.fetch_message(message_id)
            except discord.NotFound:
                self._targets.pop(message_id, None)
                raise UserError("edit.message_gone", code="message_gone") from None
            except discord.HTTPException:  # Forbidden: no history to read; or Discord failed
                if held is None:
                    raise UserError("edit.message_gone", code="message_gone") from None
        if held is None:
            raise UserError("edit.message_gone", code="message_gone")
        return held


async def setup(bot: SeedreamBot) -> None:
    await bot.add_cog(Edit(bot))
