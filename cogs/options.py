"""What the command cogs share: turning options into an ImageJob, and autocompletion."""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from i18n import locale_of
from image_gateway.catalog import InvalidOptionError, ModelSpec
from pipeline.delivery import report_error, withdraw_reply
from pipeline.explain import AttachmentError, UserError
from pipeline.job import ImageJob, Reference
from pipeline.references import load_references, precheck

if TYPE_CHECKING:
    from bot import SeedreamBot

log = logging.getLogger(__name__)

MAX_CHOICES = 25
REFERENCE_OPTIONS = ("image", "image2", "image3", "image4")  # /edit's and /series' attachment options


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
    reference_count: int | None = None,
) -> ImageJob:
    """`reference_count`: how many reference images will come (default: `references`), so that a
    default model that cannot take them gives way to one that can (`pick_model`)."""
    if interaction.guild_id is None or interaction.channel_id is None:
        raise UserError("error.guild_only", code="guild_only")
    member = interaction.user
    roles = tuple(role.id for role in getattr(member, "roles", ()))
    server = bot.storage.guild_config.get(interaction.guild_id)  # the server's defaults (/settings defaults)
    wanted = len(references or ()) if reference_count is None else reference_count
    refused: InvalidOptionError | None = None
    try:
        spec = pick_model(bot, model, server.default_model, references=wanted, series=series, size=size)
    except InvalidOptionError as error:  # told after the server's rules (`Pipeline.screen`)
        spec, refused = bot.resolve_model(None), error
    return ImageJob(
        command=command,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        parent_channel_id=getattr(interaction.channel, "parent_id", None),
        user_id=member.id,
        locale=locale_of(interaction),
        prompt=prompt,
        model=spec,
        size=size or _default_size(spec, server.default_size),
        count=count,
        seed=seed,
        series=series,
        references=references or [],
        role_ids=roles,
        watermark=server.watermark,
        refused_option=refused,
    )


def pick_model(
    bot: SeedreamBot,
    chosen: str | None,
    server_default: str | None,
    *,
    references: int,
    series: bool,
    size: str | None = None,
) -> ModelSpec:
    """The member's model; else the default (the server's, else the bot's), unless the request
    needs what that one cannot do (take `references` images, make a series): then the preset's
    first model, in catalog order, that can (302.ai's default Seedream 3.0 takes no images and
    makes no series), and makes the `size` the member asked for if one does (on 302.ai one image
    at 2K is Seedream 4.0's, not SeedEdit's, which takes no size). A model the member chose is
    kept, and refused clearly later if it cannot."""
    if chosen:
        return bot.resolve_model(chosen)
    default = _default_model(bot, server_default)
    if (not references and not series) or _can(default, references, series):
        return default
    able = [spec for spec in bot.preset.models.values() if _can(spec, references, series)]
    sized = [spec for spec in able if size is None or _default_size(spec, size) is not None]
    return next(iter(sized or able), default)


def _default_model(bot: SeedreamBot, server_default: str | None) -> ModelSpec:
    """The server's default model, else the bot's. A server default this gateway does not offer
    (saved under another IMAGE_PROVIDER) is the operator's to fix, not the member's: it gives way
    to the bot's, with a warning, instead of refusing every command that names no model."""
    if server_default:
        try:
            return bot.resolve_model(server_default)
        except InvalidOptionError:
            log.warning("a server's default model %r is not offered by the %s gateway; using the bot's default "
                        "(/settings defaults sets another)", server_default, bot.preset.name)  # fmt: skip
    return bot.resolve_model(None)


def server_default_model(bot: SeedreamBot, server_default: str | None) -> ModelSpec:
    """The model that requests naming none use by default, as `_default_model` picks it, without
    its warning: for showing and checking the server's settings."""
    return bot.resolve_model(_offered(bot, server_default))


def takes_size(spec: ModelSpec, size: str) -> bool:
    """Whether `spec` makes `size` (a server's default size it does not make is not used)."""
    return _default_size(spec, size) is not None


def _can(spec: ModelSpec, references: int, series: bool) -> bool:
    """Whether `spec` takes this many references (and makes series, if asked); the count of a
    series is checked later against the model, with its own message."""
    if series and not spec.supports_series:
        return False
    try:
        spec.validate_reference_count(references)
    except InvalidOptionError:
        return False
    return True


def _default_size(spec: ModelSpec, size: str | None) -> str | None:
    """The server's default size when this model takes it, else the model's own default."""
    if size is None:
        return None
    try:
        spec.normalize_size(size)
    except InvalidOptionError:
        return None
    return size


async def refuse_before_form(bot: SeedreamBot, job: ImageJob) -> None:
    """Before a form asks for a prompt (the Edit menu's, Variation's): what no prompt could change
    (`Pipeline.check_access`); in approval mode the limits as a moderator's decision would meet them."""
    await bot.pipeline.check_access(job, as_if_unspent=bot.storage.guild_config.get(job.guild_id).needs_approval)


async def refuse_now(bot: SeedreamBot, job: ImageJob) -> None:
    """Raise what `admit` would refuse `job` for now, before anything slow or private is done
    (`Pipeline.precheck`: options, moderation, limits); in approval mode the limits wait for the
    approval, but for what no decision could change (`Pipeline.screen_for_approval`), as for /imagine."""
    if bot.storage.guild_config.get(job.guild_id).needs_approval:
        await bot.pipeline.screen_for_approval(job)
    else:
        await bot.pipeline.precheck(job)


async def generate_with_attachments(
    bot: SeedreamBot,
    interaction: discord.Interaction,
    attachments: Sequence[discord.Attachment | None],
    **options: Any,
) -> None:
    """The front doors with reference images (/edit, /series, "Edit with Seedream").

    `attachments` in their options' order, None for an option left empty, so that a bad one is
    named by the option the member attached it to (`image3`), not by its place among those given.

    Before the defer (a refusal is private): everything `admit` would refuse now (`Pipeline.precheck`
    on placeholder references: the options and the reference count against the model, moderation,
    the member's and the server's limits; in approval mode the limits wait for the approval, as
    for /imagine), then each attachment's metadata: what no change of images fixes comes first
    (SeedEdit takes one image, whatever the second is like), and the queue's own refusals (a member
    with MAX_REQUESTS_PER_MEMBER in flight, a restart): the place is claimed first, and held over
    the download. After the defer (downloads take time): download, check and convert each
    attachment, then `bot.generate`, which checks again. A refusal after the defer (a bad image,
    or a limit another request used up meanwhile) goes through the same funnel, privately: the
    public thinking message is withdrawn first. Without attachments there is nothing to download:
    `bot.generate` checks and defers as for /imagine.
    """
    given = [attachment for attachment in attachments if attachment is not None]
    job = job_from_interaction(bot, interaction, reference_count=len(given), **options)
    if not given:
        await bot.generate(interaction, job)
        return
    job.references = [Reference(a.filename, a.url, b"", "png") for a in given]
    if bot.storage.guild_config.get(job.guild_id).needs_approval:  # not queued until approved
        await refuse_now(bot, job)
        precheck(attachments)
        # Private, as /imagine's: the acknowledgement ("sent to the moderators") is the member's own.
        await _defer_and_load(bot, interaction, job, attachments, ephemeral=True)
    else:
        # Refuses as `Dispatcher.run` would, before the defer. A shutdown stops the download at
        # once (nothing is reserved yet); the member is told before the place is given back, so
        # before the bot closes.
        with bot.queue.claim(job.user_id, preparing=True) as place:
            try:
                await refuse_now(bot, job)
                precheck(attachments)
                await _defer_and_load(bot, interaction, job, attachments)
            except asyncio.CancelledError:
                if not place.stopped:
                    raise
                asyncio.current_task().uncancel()
                await report_error(interaction, UserError("queue.restarting", code="restarting"))
                return
        # Given back just before `Dispatcher.run` claims again: no await between the two.
        try:
            await bot.generate(interaction, job)
        except Exception:  # refused at admission (a limit another request used up meanwhile)
            await withdraw_reply(interaction)  # the public "thinking" goes: the refusal is private
            raise
        return
    await bot.generate(interaction, job)


async def _defer_and_load(
    bot: SeedreamBot,
    interaction: discord.Interaction,
    job: ImageJob,
    attachments: Sequence[discord.Attachment | None],
    *,
    ephemeral: bool = False,
) -> None:
    await interaction.response.defer(ephemeral=ephemeral, thinking=True)
    try:
        job.references = await load_references(bot.services.http, attachments, job.model)
    except AttachmentError:
        if not ephemeral:  # the refusal is the member's alone: the public "thinking" reply goes
            await withdraw_reply(interaction)
        raise
    if job.size is None:  # neither the member nor the server chose one: the first image's shape
        first = job.references[0]
        job.size = job.model.size_shaped_like(first.width, first.height) or job.size


async def model_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """The gateway's models whose id or label holds what was typed; for /imagine, /edit and
    /series only those that can do it with the images attached so far (SeedEdit, which changes
    an image, is not offered to /imagine). Discord refuses the whole answer for one value over 100
    characters: the catalog refuses longer model ids at start (`presets.MAX_MODEL_ID_CHARS`), so
    every id fits; the name is only clipped."""
    bot: SeedreamBot = interaction.client  # type: ignore[assignment]
    command, references = _being_typed(interaction)
    making = command in ("imagine", "edit", "series")
    needle = unicodedata.normalize("NFKC", current).casefold()  # as sizes are read: "２Ｋ" is "2K"
    return [
        app_commands.Choice(name=f"{spec.label} ({spec.id})"[:100], value=spec.id)
        for spec in bot.preset.models.values()
        if (needle in spec.id.casefold() or needle in spec.label.casefold())
        and (not making or _can(spec, references, command == "series"))
    ][:MAX_CHOICES]


async def size_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """The sizes of the model the request will use (`pick_model`), as far as the options filled
    so far tell: the chosen model, else the server's default unless the images attached (/edit
    has at least one) or a series need another. A model not offered counts as none chosen."""
    bot: SeedreamBot = interaction.client  # type: ignore[assignment]
    command, references = _being_typed(interaction)
    chosen = _offered(bot, getattr(interaction.namespace, "model", None))
    saved = bot.storage.guild_config.get(interaction.guild_id).default_model if interaction.guild_id else None
    # Not offered: checked here, so that keystrokes do not repeat the warning a request logs.
    spec = pick_model(bot, chosen, _offered(bot, saved), references=references, series=command == "series")
    sizes = [*spec.size_tiers, *spec.fixed_sizes]
    if spec.default_size and spec.default_size not in sizes:
        sizes.append(spec.default_size)
    needle = unicodedata.normalize("NFKC", current).casefold()  # as sizes are read: "２Ｋ" is "2K"
    return [app_commands.Choice(name=s, value=s) for s in sizes if needle in s.casefold()][:MAX_CHOICES]


def _being_typed(interaction: discord.Interaction) -> tuple[str, int]:
    """The command being typed and the reference images attached to it so far."""
    command = interaction.command.name if interaction.command is not None else ""
    references = sum(getattr(interaction.namespace, name, None) is not None for name in REFERENCE_OPTIONS)
    if command == "edit":
        references = max(references, 1)  # `image` is required: attached, or about to be
    return command, references


def _offered(bot: SeedreamBot, name: str | None) -> str | None:
    """`name` if this gateway offers that model, else None."""
    if not name:
        return None
    try:
        bot.resolve_model(name)
    except InvalidOptionError:
        return None
    return name


def submitted_value(components: list[Any], custom_id: str) -> str:
    """A submitted modal's text input value (in an action row, or a label's `component`): how a
    persistent form (Edit, Variation), answered from on_interaction, reads what was typed."""
    stack = list(components)
    while stack:
        component = stack.pop()
        if component.get("custom_id") == custom_id and "value" in component:
            return str(component["value"])
        stack.extend(component.get("components") or [])
        if isinstance(component.get("component"), dict):
            stack.append(component["component"])
    return ""
