"""The buttons under every result: Re-roll, Variation, Upscale, Delete.

Each button is a `discord.ui.DynamicItem` whose custom_id carries the ledger request id
(``sd:<action>:<id>``), so a press works after the bot restarts: the request is read back from
the ledger (`storage.requests`). A press that makes images is a new `ImageJob` handed to
`bot.generate`, exactly like a typed command (moderation, quotas, ledger, queue).

Only the requester may use Re-roll, Variation and Upscale; Delete also works for moderators.
Anyone else, and a press on a result whose request is gone, gets a private answer.
"""

from __future__ import annotations

import contextlib
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import discord

from cogs.checks import CLOCK_SLACK, REFERENCES_WINDOW, is_buttons_request, is_moderator
from cogs.options import (
    generate_with_attachments,
    job_from_interaction,
    pick_model,
    refuse_before_form,
    refuse_now,
    submitted_value,
)
from i18n import locale_of, t
from image_gateway.catalog import InvalidOptionError
from pipeline.delivery import report_error, set_result_view
from pipeline.explain import AttachmentError, UserError
from pipeline.job import Reference
from pipeline.references import looks_like_image, precheck
from pipeline.runner import Ticket
from storage.requests import LedgerRow

if TYPE_CHECKING:
    from bot import SeedreamBot
    from image_gateway.catalog import ModelSpec

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
# Rows written before the ledger counted reference images (schema v5) are known by their command.
PRE_V5_REFERENCE_COMMANDS = frozenset({"edit", "variation"})
MODAL_TEXT_MAX = 45
PROMPT_INPUT_MAX = 4000
INPUT_SIZE = "adaptive"  # SeedEdit's only size: the input image's own
# An image with this share of a model's most pixels is at its largest size (Seedream's 4K
# presets run from 16.6 to 16.8 million pixels; a portrait is as large as a landscape).
AT_LARGEST_SHARE = 0.9
HISTORY_SCAN = 100  # messages read from the start of a request still open (none is settled yet: one page)
RESULT_FILE = re.compile(r"seedream-(?P<id>[0-9]+)-(?P<n>[0-9]+)\.\w+")  # pipeline.runner names them so
VARIATION_MODAL = re.compile(r"sd:variation-modal:(?P<id>[0-9]{1,19})")
PROMPT_FIELD = "prompt"
IMAGE_FIELD = "image"
IMAGE_FIELD_CHARS = 8  # "15", "第十二张", "#3", "图片3": room for how members write a number


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
    """The buttons for one result, labelled in the requester's language. No Re-roll under a result
    made from images: the bot does not keep them, so it could only refuse (`is_repeatable`; a
    result posted before this rule still has the button, and a press is told why)."""
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        if action == "reroll" and ticket.job.references:
            continue
        view.add_item(ResultButton(action, ticket.request_id, t(f"buttons.{action}", ticket.job.locale)))
    return view


class UpscalePicker(
    discord.ui.DynamicItem[discord.ui.Select],
    template=r"sd:upscale-pick:(?P<id>[0-9]{1,19})",
):
    """Which image of a result of several to upscale: a menu in the private answer to Upscale. By
    custom_id, like the buttons, so a choice made after a restart still works."""

    def __init__(self, request_id: int, numbers: Sequence[int] = (), lang: str = "en-US") -> None:
        options = [
            discord.SelectOption(label=t("buttons.upscale_option", lang, number=n), value=str(n)) for n in numbers
        ]
        super().__init__(discord.ui.Select(
            custom_id=f"sd:upscale-pick:{request_id}", placeholder=t("buttons.upscale_placeholder", lang)[:150],
            options=options,
        ))  # fmt: skip
        self.request_id = request_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Select, match: Any, /
    ) -> UpscalePicker:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        try:
            chosen = str(((interaction.data or {}).get("values") or [""])[0])
            # Not one of the menu's numbers (it only offers those): told which there are.
            await upscale_image(interaction, self.request_id, int(chosen) if chosen.isdecimal() else 0)
        except Exception as error:  # the one funnel, as for the buttons
            await report_error(interaction, error)


# -- presses ---------------------------------------------------------------------------------
async def _request(interaction: discord.Interaction, request_id: int) -> LedgerRow:
    bot: SeedreamBot = interaction.client  # type: ignore[assignment]
    row = await bot.storage.requests.get(request_id)
    if not is_buttons_request(row, interaction):  # gone, or a database started afresh reused its id
        raise UserError("buttons.request_gone", code="request_gone")
    return row


async def _own_request(interaction: discord.Interaction, request_id: int) -> LedgerRow:
    row = await _request(interaction, request_id)
    if row.user_id != interaction.user.id:
        raise UserError("buttons.not_yours", code="not_requester")
    return row


def is_repeatable(row: LedgerRow) -> bool:
    """A request made from images cannot be made again: the images are not kept."""
    return not (row.reference_images or row.command in PRE_V5_REFERENCE_COMMANDS)


def _repeatable(row: LedgerRow) -> None:
    if not is_repeatable(row):
        raise UserError("buttons.needs_references", code="references_not_kept")


@contextlib.contextmanager
def _once(bot: SeedreamBot, request_id: int, action: str) -> Iterator[None]:
    """One run at a time of a press that spends: a double click (two interactions a moment apart)
    would make and charge the same thing twice."""
    key = (request_id, action)
    if key in bot.presses_running:
        raise UserError("buttons.already_running", code="already_running")
    bot.presses_running.add(key)
    try:
        yield
    finally:
        bot.presses_running.discard(key)


def _made_by(bot: SeedreamBot, row: LedgerRow) -> ModelSpec | None:
    """The model that made the result, if this gateway still offers it (a restart may have moved
    the bot to another IMAGE_PROVIDER, whose models the old results' ids are not)."""
    try:
        return bot.resolve_model(row.model)
    except InvalidOptionError:
        return None


async def reroll(interaction: discord.Interaction, request_id: int) -> None:
    """The same request again (a series stays a series)."""
    row = await _own_request(interaction, request_id)
    _repeatable(row)
    bot: SeedreamBot = interaction.client  # type: ignore[assignment]
    if _made_by(bot, row) is None:  # the same request is no longer possible: the member chooses anew
        raise UserError("buttons.model_gone", code="model_gone", model=row.model)
    series = row.command == "series"
    job = job_from_interaction(
        bot, interaction, command="series" if series else "reroll", prompt=row.prompt, model=row.model,
        size=row.size, count=row.images_requested, series=series,
    )  # fmt: skip
    with _once(bot, request_id, "reroll"):
        await bot.generate(interaction, job)


async def upscale(interaction: discord.Interaction, request_id: int) -> None:
    """The same image regenerated at the largest size: an image-to-image of the result with its
    prompt (so an /edit or a Variation result can be upscaled too) by `_upscaler`, else, when the
    image cannot be a reference, its prompt again at the model's largest size. A result of several
    images first asks which one (`UpscalePicker`, privately), once what a choice would be refused
    for (a limit, moderation) is known not to stop it: nothing is made or spent until then."""
    row = await _own_request(interaction, request_id)
    bot: SeedreamBot = interaction.client  # type: ignore[assignment]
    model = _upscaler(bot, _made_by(bot, row), row.prompt)
    numbers = await _upscale_choices(interaction, row, model)
    if len(numbers) > 1:
        job = job_from_interaction(
            bot, interaction, command="upscale-image", prompt=row.prompt, model=model.id, size=model.largest_size,
            reference_count=1,
        )  # fmt: skip
        job.references = [Reference("image", "", b"", "png")]  # a placeholder: the choice brings the image
        await refuse_now(bot, job)
        lang = locale_of(interaction)
        view = discord.ui.View(timeout=None)
        view.add_item(UpscalePicker(row.id, numbers, lang))
        await interaction.response.send_message(t("buttons.upscale_which", lang), view=view, ephemeral=True)
        return
    with _once(bot, request_id, "upscale"):
        await _upscale(bot, interaction, row, numbers[0] if numbers else None)  # the one that can grow


async def _upscale_choices(interaction: discord.Interaction, row: LedgerRow, model: ModelSpec) -> list[int]:
    """The numbers of the result's images a choice in the menu can upscale: the choice comes from
    the private menu, not the result, so they are those the channel's history shows (none without
    Read Message History: the press then upscales the first image, as it finds it), less those
    already at `model`'s largest size (all of them: refused now, not after a choice)."""
    if not model.max_references or (row.images_delivered or 0) < 2:
        return []
    found: dict[int, discord.Attachment] = {}
    for message in await _request_messages(interaction, row.id, row):
        for attachment in message.attachments:
            number = _image_number(attachment.filename, row.id)
            if number is not None and looks_like_image(attachment):
                found.setdefault(number, attachment)
    growing = {n: image for n, image in sorted(found.items()) if not _at_largest(model, _pixels(image))}
    if found and not growing:
        raise UserError("buttons.already_largest", code="already_largest", model=model.label)
    return [n for n, image in growing.items() if _can_be_reference(image)]


def _can_be_reference(image: discord.Attachment) -> bool:
    """Whether the reference checks pass on Discord's metadata (a boosted server's uploads may be
    over 10 MB): one that does not is not offered (it would be its prompt drawn again)."""
    return _reference_refusal(image) is None


def _reference_refusal(image: discord.Attachment) -> AttachmentError | None:
    """Why `image` cannot be a reference, as far as Discord's metadata tells; None if it can."""
    try:
        precheck([image])
    except AttachmentError as why:
        return why
    return None


def _pixels(image: discord.Attachment) -> int | None:
    return image.width * image.height if image.width and image.height else None


async def upscale_image(interaction: discord.Interaction, request_id: int, number: int) -> None:
    """Image `number` (from 1) of the result, chosen in the `UpscalePicker`."""
    row = await _own_request(interaction, request_id)
    bot: SeedreamBot = interaction.client  # type: ignore[assignment]
    with _once(bot, request_id, f"upscale-{number}"):
        await _upscale(bot, interaction, row, number)


async def _upscale(
    bot: SeedreamBot, interaction: discord.Interaction, row: LedgerRow, number: int | None = None
) -> None:
    made_by = _made_by(bot, row)
    model = _upscaler(bot, made_by, row.prompt)
    image, unusable = await _usable_result_image(interaction, row, number) if model.max_references else (None, None)
    if image is not None:
        _refuse_at_largest(model, _pixels(image))
        await generate_with_attachments(
            bot, interaction, [image], command="upscale-image", prompt=row.prompt, model=model.id,
            size=model.largest_size,
        )  # fmt: skip
        return
    if number is not None and unusable is not None:
        # The image chosen cannot be upscaled: told why (gone, or not one a model takes), never
        # replaced by its prompt drawn again.
        if isinstance(unusable, UserError) and unusable.code == "image_gone":
            raise UserError("buttons.upscale_chosen_gone", code="image_gone", number=number)
        raise unusable
    if isinstance(unusable, UserError) and unusable.code == "image_gone" and not is_repeatable(row):
        raise UserError("buttons.upscale_image_gone", code="image_gone")  # Variation could not start either
    _repeatable(row)  # without the image, only a result made from a prompt alone can be made again
    if made_by is None:
        raise UserError("buttons.model_gone", code="model_gone", model=row.model)
    _refuse_at_largest(made_by, made_by.pixels(row.size))
    job = job_from_interaction(
        bot, interaction, command="upscale", prompt=row.prompt, model=made_by.id, size=made_by.largest_size, count=1
    )
    await bot.generate(interaction, job)


def _refuse_at_largest(model: ModelSpec, pixels: int | None) -> None:
    """An image already (nearly) as large as `model` makes would only be made again, and charged."""
    if _at_largest(model, pixels):
        raise UserError("buttons.already_largest", code="already_largest", model=model.label)


def _at_largest(model: ModelSpec, pixels: int | None) -> bool:
    """Unknown pixels (a tier below the largest, Discord without dimensions) are not."""
    largest = model.pixels(model.largest_size)
    return pixels is not None and largest is not None and pixels >= AT_LARGEST_SHARE * largest


def _upscaler(bot: SeedreamBot, made_by: ModelSpec | None, prompt: str) -> ModelSpec:
    """The model that made the result (None: no longer offered), when it takes an image, sizes its
    output and takes the prompt; else the bot's default model if it does, else the gateway's first
    that does (302.ai: SeedEdit's only size is the input's, Seedream 3.0 takes no image; both made
    the same image again, or another one, and charged for it). None does: the model that made it,
    else the default."""
    def grows(spec: ModelSpec) -> bool:
        return spec.max_references > 0 and spec.largest_size != INPUT_SIZE and len(prompt) <= spec.max_prompt_chars

    default = bot.resolve_model(None)
    candidates = (made_by, default, *bot.preset.models.values())
    return next((spec for spec in candidates if spec is not None and grows(spec)), made_by or default)


async def variation(interaction: discord.Interaction, request_id: int) -> None:
    """A modal with the prompt (editable); its submission (`submit_variation`) makes an /edit of
    the result's image. A result without its image is told now, not after the member typed."""
    row = await _own_request(interaction, request_id)
    images = await _result_images(interaction, row)
    refusals = {number: _reference_refusal(image) for number, image in images.items()}
    usable = [number for number, why in refusals.items() if why is None]
    if not usable:  # e.g. a 4K result at 21:9, wider than a reference may be: told before typing
        raise refusals[min(refusals)]  # type: ignore[misc]
    bot: SeedreamBot = interaction.client  # type: ignore[assignment]
    model = _variation_model(bot, row)
    # a member the server refuses is told before typing
    job = job_from_interaction(
        bot, interaction, command="variation", prompt="", model=model.id, size=None, reference_count=1
    )
    await refuse_before_form(bot, job)
    limit = model.max_prompt_chars  # the form takes what the variation will
    modal = VariationModal(row, limit, locale_of(interaction), usable)
    # Stopped before it is sent, so discord.py keeps no copy of it: the submission is answered by
    # `on_variation_submit` alone, by custom_id, also after a restart or the modal's timeout.
    modal.stop()
    await interaction.response.send_modal(modal)


async def submit_variation(interaction: discord.Interaction, request_id: int, prompt: str, number: str = "") -> None:
    """The request and its image (`number`, from 1; the first when blank or not a number) are
    read again: the form may come back after a restart."""
    row = await _own_request(interaction, request_id)
    images = await _result_images(interaction, row)
    first = min((n for n, image in images.items() if _can_be_reference(image)), default=min(images))  # as the form
    chosen = first if not number.strip() else typed_number(number)
    if chosen not in images:
        numbers = _numbers_text(images, locale_of(interaction))
        raise UserError("buttons.no_such_image", code="bad_option", numbers=numbers)
    image = images[chosen]
    bot: SeedreamBot = interaction.client  # type: ignore[assignment]
    made_by, model = _made_by(bot, row), _variation_model(bot, row)
    size = row.size if made_by is not None and model.id == made_by.id else None  # another model: its default
    # The same form sent twice (a double press of Submit) is made once; another prompt or image is another variation.
    with _once(bot, request_id, f"variation-{chosen}-{prompt}"):
        await generate_with_attachments(
            bot, interaction, [image], command="variation", prompt=prompt, model=model.id, size=size,
        )  # fmt: skip


_CHINESE_NUMERALS = {c: n for n, c in enumerate("一二三四五六七八九十", start=1)} | {"两": 2}
_NUMBER_WORDS = re.compile(
    r"(?:第|#|№|no\.?|image|img|图片|图|圖片|圖)?\s*(?P<n>\S+?)\s*(?:张|張|号|號|个|幅)?(?:图片|图|圖片|圖)?",
    re.IGNORECASE,
)


def typed_number(text: str) -> int | None:
    """An image's number as a member types it: `2`, `２` (a Chinese input method), `#2`, `第2张`,
    `第二张`, `二`; None when it is no number."""
    match = _NUMBER_WORDS.fullmatch(unicodedata.normalize("NFKC", text).strip())
    if match is None:
        return None
    word = match["n"]
    if word.isascii() and word.isdecimal():
        return int(word)
    if len(word) == 2 and word[0] == "十" and word[1] in _CHINESE_NUMERALS:  # 十一 .. 十九
        return 10 + _CHINESE_NUMERALS[word[1]]
    return _CHINESE_NUMERALS.get(word) if len(word) == 1 else None


def _numbers_text(numbers: Iterable[int], locale: str) -> str:
    """"1 to 4", or "2, 3, 4" / "1, 3" when some are missing (a series image the content filter refused)."""
    ordered = sorted(numbers)
    if ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
        return t("buttons.image_range", locale, first=ordered[0], last=ordered[-1])
    return t("buttons.number_separator", locale).join(map(str, ordered))


def _variation_model(bot: SeedreamBot, row: LedgerRow) -> ModelSpec:
    """The model a Variation of `row` runs on, chosen once for the form and its submission: the one
    that made it when it takes an image; else (it takes none, or is no longer offered) the one an
    /edit naming no model would use."""
    spec = _made_by(bot, row)
    if spec is not None and spec.max_references:
        return spec
    server_default = bot.storage.guild_config.get(row.guild_id).default_model
    return pick_model(bot, None, server_default, references=1, series=False)


async def _result_image(
    interaction: discord.Interaction, row: LedgerRow, number: int | None = None
) -> discord.Attachment:
    """The result's image `number` (see `_result_images`), by default its first."""
    images = await _result_images(interaction, row)
    if number is None:
        return images[min(images)]
    if number not in images:
        numbers = _numbers_text(images, locale_of(interaction))
        raise UserError("buttons.no_such_image", code="bad_option", numbers=numbers)
    return images[number]


async def _result_images(interaction: discord.Interaction, row: LedgerRow) -> dict[int, discord.Attachment]:
    """The result's images by their number (N of seedream-{id}-N): those on the message the button
    is on, and, when that holds fewer than were delivered (a series, or more than ten images, are
    posted apart from the summary that carries the buttons), those on the bot's other messages.
    Refused when there is none."""
    message = interaction.message
    found = [a for a in (message.attachments if message else []) if looks_like_image(a)]
    if len(found) < (row.images_delivered or 0):
        found += [
            attachment
            for other in await _request_messages(interaction, row.id, row)
            if message is None or other.id != message.id
            for attachment in other.attachments
            if _image_number(attachment.filename, row.id) is not None and looks_like_image(attachment)
        ]
    if not found:
        raise UserError("buttons.image_gone", code="image_gone")
    images: dict[int, discord.Attachment] = {}
    for position, attachment in enumerate(found, start=1):
        images.setdefault(_image_number(attachment.filename, row.id) or position, attachment)
    return dict(sorted(images.items()))


async def _usable_result_image(
    interaction: discord.Interaction, row: LedgerRow, number: int | None = None
) -> tuple[discord.Attachment | None, UserError | AttachmentError | None]:
    """The result's image `number` (its first by default) if it can be a reference (still there,
    and passing the reference checks on Discord's metadata: a boosted server's uploads may be over
    10 MB); else None and why."""
    try:
        image = await _result_image(interaction, row, number)
    except UserError as why:
        return None, why
    why = _reference_refusal(image)
    return (image, None) if why is None else (None, why)


def _image_number(filename: str, request_id: int) -> int | None:
    """N of a result file named seedream-{request_id}-N.ext; None for any other file."""
    match = RESULT_FILE.fullmatch(filename)
    return int(match["n"]) if match and int(match["id"]) == request_id else None


async def _request_messages(
    interaction: discord.Interaction, request_id: int, row: LedgerRow | None
) -> list[discord.Message]:
    """The bot's messages that carry this request's result files, posted while it ran (`row`;
    unknown: only the pressed message's own). Read from the request's start, however much the
    channel said since: the pressed message may be the first of them (a series answering a
    command: its summary and buttons go on the first reply, its images follow) or the last (in
    a channel, the summary comes after the images). Nothing from before the request or after
    it closed is taken: a database started afresh reuses ids, and with them file names."""
    channel = interaction.channel
    me = interaction.client.user
    if not isinstance(channel, discord.abc.Messageable) or me is None:
        return []
    if row is None:
        return []
    found = []
    closed = None if row.settled_at is None else row.settled_at + CLOCK_SLACK
    try:
        # A request made from images replied (deferred) before it was recorded: see REFERENCES_WINDOW.
        start = row.created_at - CLOCK_SLACK - (REFERENCES_WINDOW if row.reference_images else timedelta(0))
        limit = HISTORY_SCAN if closed is None else None  # closed: its close ends the reading
        async for other in channel.history(limit=limit, after=start, oldest_first=True):
            if closed is not None and other.created_at > closed:
                break
            if other.author.id == me.id and any(_image_number(a.filename, request_id) for a in other.attachments):
                found.append(other)
    except discord.HTTPException as error:  # no Read Message History here: only this message counts
        log.info("request %s: could not look for its other messages: %s", request_id, error)
    return found


async def delete(interaction: discord.Interaction, request_id: int) -> None:
    """Delete the result's messages: the requester, or a moderator."""
    moderator = is_moderator(interaction)
    bot: SeedreamBot = interaction.client  # type: ignore[assignment]
    row = await bot.storage.requests.get(request_id)
    if not is_buttons_request(row, interaction):
        row = None  # another request under a reused id (see `_request`)
    if row is None and not moderator:
        raise UserError("buttons.request_gone", code="request_gone")
    if row is not None and row.user_id != interaction.user.id and not moderator:
        raise UserError("buttons.delete_not_allowed", code="not_allowed")
    await interaction.response.defer(ephemeral=True, thinking=True)
    if interaction.message is not None:
        await _delete(interaction.message)
        for other in await _request_messages(interaction, request_id, row):
            if other.id != interaction.message.id:
                await _delete(other)
    await interaction.edit_original_response(content=t("buttons.deleted", locale_of(interaction)))


async def _delete(message: discord.Message) -> None:
    """Gone already (a second press, or someone deleted it meanwhile) counts as deleted. Refused
    (a channel or thread the bot may not see, where members can still use it: the replies need
    no permission) is told to the member."""
    try:
        await message.delete()
    except discord.NotFound:
        log.info("message %s was already deleted", message.id)
    except discord.Forbidden as error:
        log.info("message %s: Discord refused to delete it: %s", message.id, error.text)
        raise UserError("buttons.delete_forbidden", code="not_allowed") from None


PRESSES = {"reroll": reroll, "variation": variation, "upscale": upscale, "delete": delete}


class VariationModal(discord.ui.Modal):
    """The form only (the original prompt, editable): `on_variation_submit` answers it."""

    def __init__(self, row: LedgerRow, max_prompt_chars: int, lang: str, numbers: Sequence[int] = (1,)) -> None:
        super().__init__(
            title=t("buttons.variation_title", lang)[:MODAL_TEXT_MAX],
            timeout=None,
            custom_id=f"sd:variation-modal:{row.id}",
        )
        limit = min(max_prompt_chars, PROMPT_INPUT_MAX)
        self.prompt: discord.ui.TextInput = discord.ui.TextInput(
            label=t("buttons.variation_prompt", lang)[:MODAL_TEXT_MAX],
            style=discord.TextStyle.paragraph,
            custom_id=PROMPT_FIELD,
            default=row.prompt[:limit],
            max_length=limit,
        )
        self.add_item(self.prompt)
        if len(numbers) > 1:  # which of the result's images to start from (the first there is, to begin)
            self.add_item(discord.ui.TextInput(
                label=t("buttons.variation_image", lang, first=numbers[0], last=numbers[-1])[:MODAL_TEXT_MAX],
                custom_id=IMAGE_FIELD, default=str(numbers[0]), max_length=IMAGE_FIELD_CHARS, required=False,
            ))  # fmt: skip


async def on_variation_submit(interaction: discord.Interaction) -> None:
    """Every Variation form, by its custom_id (sd:variation-modal:<id>), like the buttons."""
    if interaction.type is not discord.InteractionType.modal_submit:
        return
    data: dict[str, Any] = interaction.data or {}  # type: ignore[assignment]
    match = VARIATION_MODAL.fullmatch(str(data.get("custom_id", "")))
    if match is None:
        return
    try:
        fields = data.get("components") or []
        prompt, image = submitted_value(fields, PROMPT_FIELD), submitted_value(fields, IMAGE_FIELD)
        await submit_variation(interaction, int(match["id"]), prompt, image)
    except Exception as error:  # the one funnel: a short private answer, details to the log
        await report_error(interaction, error)


async def setup(bot: SeedreamBot) -> None:
    bot.add_dynamic_items(ResultButton, UpscalePicker)
    bot.add_listener(on_variation_submit, "on_interaction")
    set_result_view(result_view)


async def teardown(bot: SeedreamBot) -> None:
    bot.remove_dynamic_items(ResultButton, UpscalePicker)
    bot.remove_listener(on_variation_submit, "on_interaction")
    set_result_view(None)
