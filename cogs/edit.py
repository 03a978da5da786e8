"""/edit and the "Edit with Seedream" message menu: images from attachments, changed by a prompt."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs.options import generate_with_attachments, model_autocomplete, pick_model, size_autocomplete
from i18n import locale_of, t
from image_gateway.catalog import ModelSpec
from pipeline.delivery import report_error
from pipeline.explain import UserError
from pipeline.references import looks_like_image

if TYPE_CHECKING:
    from bot import SeedreamBot

CONTEXT_MENU_NAME = "Edit with Seedream"
MODAL_TITLE_MAX = 45


class EditPromptModal(discord.ui.Modal):
    """Asks for the prompt; the images are those of the message the menu was used on."""

    def __init__(self, bot: SeedreamBot, attachments: list[discord.Attachment], locale: str, model: ModelSpec) -> None:
        super().__init__(title=t("edit.modal_title", locale)[:MODAL_TITLE_MAX], timeout=15 * 60)
        self.bot = bot
        self.attachments = attachments
        self.model = model  # the one the images were counted for: the request uses it too
        self.prompt: discord.ui.TextInput = discord.ui.TextInput(
            label=t("edit.modal_prompt", locale)[:MODAL_TITLE_MAX],
            placeholder=t("edit.modal_placeholder", locale)[:100],
            style=discord.TextStyle.paragraph,
            max_length=min(model.max_prompt_chars, 4000),
        )
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await generate_with_attachments(
            self.bot, interaction, self.attachments,
            command="edit", prompt=self.prompt.value, model=self.model.id, size=None,
        )  # fmt: skip

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        await report_error(interaction, error)


class Edit(commands.Cog):
    def __init__(self, bot: SeedreamBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name=CONTEXT_MENU_NAME, callback=self.edit_message)
        self.menu.guild_only = True

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
        attachments = [a for a in (image, image2, image3, image4) if a is not None]
        await generate_with_attachments(
            self.bot, interaction, attachments, command="edit", prompt=prompt, model=model, size=size
        )

    async def edit_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Every image of the message (up to the model's limit), then a modal for the prompt.

        The model is the one the request will use: the server's default, else the bot's, or the
        preset's first that takes reference images when that default takes none."""
        images = [a for a in message.attachments if looks_like_image(a)]
        if not images:
            raise UserError("error.no_images_in_message", code="no_images")
        if interaction.guild_id is None:
            raise UserError("error.guild_only", code="guild_only")
        server = self.bot.storage.guild_config.get(interaction.guild_id)
        model = pick_model(self.bot, None, server.default_model, references=1, series=False)
        model.validate_reference_count(min(len(images), max(model.max_references, 1)))
        modal = EditPromptModal(self.bot, images[: model.max_references], locale_of(interaction), model)
        await interaction.response.send_modal(modal)


async def setup(bot: SeedreamBot) -> None:
    await bot.add_cog(Edit(bot))
