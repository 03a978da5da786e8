"""Posting results to Discord: the interaction's reply first, the channel once the token expired.

An image is always posted as an attachment (the gateway's links expire); at most ten go in a
message, within Discord's 25 MiB per request (`pipeline.runner.split_by_request_size`). The one
error reply (`report_error`) lives here too, so every way in answers alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import ClassVar

import aiohttp
import discord

from i18n import locale_of
from pipeline.explain import DeliveryError, explain, is_expected, is_private_refusal, operator_hint
from pipeline.permissions import PostableChannel, bot_can_post, bot_can_say
from pipeline.runner import Outcome, ReadyImage, Ticket
from pipeline.summary import batch_text, one_line, outcome_text, working_text

log = logging.getLogger(__name__)

# Discord's codes for a webhook/interaction token that no longer works.
EXPIRED_TOKEN_CODES = {50027, 10015, 10062}
UNKNOWN_MESSAGE = 10008
MAX_ALT_TEXT = 1024  # characters of an attachment's description

# The controls under a finished result (Re-roll, Variation, Upscale, Delete). cogs/result_buttons.py
# installs them at load; every sink attaches `result_view(ticket)` to its summary message.
ResultViewFactory = Callable[[Ticket], discord.ui.View]
_result_view: ResultViewFactory | None = None


def set_result_view(factory: ResultViewFactory | None) -> None:
    global _result_view  # noqa: PLW0603 - one hook, set by the extension that owns the buttons
    _result_view = factory


def result_view(ticket: Ticket) -> discord.ui.View | None:
    return _result_view(ticket) if _result_view is not None else None


def _files(images: Sequence[ReadyImage]) -> list[discord.File]:
    """Streamed from the spooled files (rewound: a retry or a fallback reads them again), each
    with its alt text (what a screen reader says of it; Discord takes 1,024 characters)."""
    for image in images:
        image.file.seek(0)
    return [
        discord.File(image.file, filename=image.filename, description=one_line(image.description, MAX_ALT_TEXT) or None)  # type: ignore[arg-type]
        for image in images
    ]


# What a message to Discord may meet: its refusal, or the connection failing on the way (discord.py
# passes aiohttp's errors, OSErrors and timeouts through unchanged).
DISCORD_ERRORS = (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError)


@contextlib.contextmanager
def _uploading() -> Iterator[None]:
    """A message with results that Discord refuses, or whose connection fails on the way, is a
    `DeliveryError` (the runner counts those images as not posted and goes on: the gateway's
    stream is read to its end and later batches are still posted); discord.py has already
    retried 429s and 5xx."""
    try:
        yield
    except discord.HTTPException as error:
        raise DeliveryError(f"Discord refused the upload (HTTP {error.status})") from error
    except DISCORD_ERRORS as error:
        raise DeliveryError(f"the connection to Discord failed during the upload ({type(error).__name__})") from error


def token_expired(error: discord.HTTPException) -> bool:
    return error.code in EXPIRED_TOKEN_CODES or error.status == 401


def reply_deleted(error: discord.HTTPException) -> bool:
    """The interaction's reply was deleted (by the member or a moderator)."""
    return error.status == 404 and error.code == UNKNOWN_MESSAGE


def reply_gone(error: discord.HTTPException) -> bool:
    """The reply cannot be edited any more: its token expired, or it was deleted."""
    return token_expired(error) or reply_deleted(error)


def acknowledge(interaction: discord.Interaction) -> asyncio.Task[None] | None:
    """Defer the interaction's reply ("thinking…") in the background, so that the request runs
    meanwhile (the gateway call starts without waiting for Discord's answer); None if it is
    already acknowledged. The `InteractionSink` waits for it before it edits or follows up."""
    if interaction.response.is_done():
        return None
    return asyncio.create_task(interaction.response.defer(thinking=True), name=f"acknowledge-{interaction.id}")


class InteractionSink:
    """Results for one interaction: the deferred reply holds the first images and the summary.

    `acknowledged`: the defer in flight (see `acknowledge`); every edit and follow-up waits for it.
    Without a reply (Discord refused the defer, or the token expired) results and messages go to
    the channel, mentioning the member: what the gateway made is delivered and paid for once."""

    def __init__(
        self, interaction: discord.Interaction, ticket: Ticket, *, acknowledged: asyncio.Task[None] | None = None
    ) -> None:
        self.interaction = interaction
        self.ticket = ticket
        self.locale = locale_of(interaction)
        self.upload_limit: int = interaction.filesize_limit
        self._posted = 0
        self._use_channel = False
        self._reply_deleted = False  # deleted by the member or a moderator: its token still follows up
        self._acknowledged = acknowledged

    async def reply_ready(self) -> bool:
        """Wait for the defer; False when there is no reply to edit or follow up."""
        if self._acknowledged is not None:
            try:
                await asyncio.shield(self._acknowledged)
            except Exception as error:  # an HTTP refusal, or the connection to Discord failed
                if not self._use_channel:
                    status = getattr(error, "status", None)
                    log.warning("request %s: Discord refused the acknowledgement (%s); results go to the channel",
                                self.ticket.request_id, status or type(error).__name__)  # fmt: skip
                self._use_channel = True
        return not self._use_channel

    def lose_reply(self, error: discord.HTTPException) -> None:
        """An edit found the reply gone (`reply_gone`). Deleted: what follows goes as follow-ups,
        new messages through the same token (which need no permission of the bot in the channel).
        Its token expired: to the channel, mentioning the member."""
        if token_expired(error):
            self._use_channel = True
        else:
            self._reply_deleted = True

    def can_deliver(self) -> bool:
        """Whether results could reach the member now, as far as is known without asking Discord:
        through the reply, unless it is known to be gone (the acknowledgement refused, the token
        expired), else as the bot in the channel (`bot_can_post`). An acknowledgement still in
        flight is taken as good: the gateway call does not wait for it."""
        acknowledged = self._acknowledged
        refused = acknowledged is not None and acknowledged.done() and (
            acknowledged.cancelled() or acknowledged.exception() is not None
        )
        if not (self._use_channel or refused or self.interaction.is_expired()):
            return True
        channel = self.interaction.channel
        if isinstance(channel, PostableChannel):
            return bot_can_post(channel)
        return True  # not in the cache: cannot tell, the post will say

    async def working(self) -> None:
        await self._edit_original(content=working_text(self.ticket, self.locale))

    async def post(self, images: Sequence[ReadyImage]) -> None:
        first = self._posted == 0
        header = batch_text(self.ticket, self.locale, images, first=first)  # "Images 11–15 of …" after the first
        with _uploading():
            if not (first and await self._edit_original(images, content=header)):
                await self._send(header, images)
        self._posted += len(images)

    async def post_final(self, images: Sequence[ReadyImage], outcome: Outcome) -> None:
        """All the results with their summary and buttons: one edit of the reply, not two."""
        text = outcome_text(outcome, self.locale)
        view = result_view(self.ticket)
        extra = {"view": view} if view is not None else {}
        with _uploading():
            if not (self._posted == 0 and await self._edit_original(images, content=text, **extra)):
                await self._send(text, images, view=view)
        self._posted += len(images)

    async def finish(self, outcome: Outcome) -> None:
        """The summary (and the result's buttons) on the reply, else as a new message: an edit
        Discord refused or whose connection dropped must not leave a member with images they paid
        for and no cost, no buttons (at worst, a summary twice)."""
        text = outcome_text(outcome, self.locale)
        view = result_view(self.ticket) if outcome.delivered else None
        extra = {"view": view} if view is not None else {}
        if outcome.delivered:
            try:
                if await self._edit_original(content=text, **extra):
                    return
            except DISCORD_ERRORS as error:
                log.warning("request %s: the summary could not be put on the reply (%s); sent as a new message",
                            self.ticket.request_id, getattr(error, "status", None) or type(error).__name__)  # fmt: skip
        await self._send(text, view=view)

    async def fail(self, error: BaseException) -> None:
        """Tell the member what went wrong, where they are looking. A refusal that is theirs alone
        (`is_private_refusal`: the content filter's, a limit's), like the bot's own refusals, is
        said privately, and the public reply ("thinking", or their place in line) taken away."""
        text = explain(error, self.locale, model=self.ticket.job.model, size=self.ticket.request.size)
        if self._posted == 0 and is_private_refusal(error) and await self._tell_privately(text):
            return
        if self._posted == 0 and await self._edit_original(content=text, attachments=[]):
            return
        await self._send(text)

    async def _tell_privately(self, text: str) -> bool:
        """The public reply deleted, then `text` as a private follow-up (while the deferred reply
        is there, Discord makes the first follow-up that reply, public whatever it asks); False
        when the reply could not be deleted (the caller edits it instead)."""
        if not await self.reply_ready() or not await withdraw_reply(self.interaction):
            return False
        try:
            await self.interaction.followup.send(text, ephemeral=True, wait=True)
        except discord.HTTPException:  # the token expired meanwhile: said in the channel after all
            self._use_channel = True
            await self._send(text)
        return True

    async def _edit_original(self, images: Sequence[ReadyImage] | None = None, **fields) -> bool:
        """Edit the interaction's reply (with `images` as its files); False when there is none (the
        defer was refused, or the token expired): the caller posts to the channel instead. The
        files are made only for an edit that is sent: a `discord.File` left unsent keeps its file's
        `close` switched off, and the image would never give back its memory."""
        if self._reply_deleted or not await self.reply_ready():
            return False
        if images is not None:
            fields["attachments"] = _files(images)
        try:
            await self.interaction.edit_original_response(**fields)
        except discord.HTTPException as error:
            if not reply_gone(error):
                raise
            self.lose_reply(error)
            return False
        return True

    async def _send(
        self, content: str, images: Sequence[ReadyImage] = (), *, view: discord.ui.View | None = None
    ) -> None:
        """A new message: a follow-up while there is a reply, else a channel message."""
        if await self.reply_ready():
            try:
                extra = {"view": view} if view is not None else {}
                await self.interaction.followup.send(content, files=_files(images), wait=True, **extra)
                return
            except discord.HTTPException as error:
                if not token_expired(error):
                    raise
                self._use_channel = True
        channel = self.interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            raise DeliveryError("the interaction's channel is gone")
        await ChannelSink(channel, self.ticket, upload_limit=self.upload_limit).send(content, images, view=view)


class ChannelSink:
    """Results posted to a channel as new messages, the member mentioned (an approved request, or
    an interaction without a reply any more). Only a request's first message notifies the member
    (a series would otherwise ping them for every image); the others name them without a ping."""

    # The tickets whose member was notified already, by request id. Kept here, not on the sink:
    # an `InteractionSink` whose token expired makes a new sink for each message. Weak: an entry
    # goes with its request.
    _notified: ClassVar[weakref.WeakValueDictionary[int, Ticket]] = weakref.WeakValueDictionary()

    def __init__(self, channel: discord.abc.Messageable, ticket: Ticket, *, upload_limit: int) -> None:
        self.channel = channel
        self.ticket = ticket
        self.locale = ticket.job.locale
        self.upload_limit = upload_limit
        self._member = f"<@{ticket.job.user_id}>"
        self._posted = 0

    async def post(self, images: Sequence[ReadyImage]) -> None:
        with _uploading():
            await self.send(batch_text(self.ticket, self.locale, images, first=self._posted == 0), images)
        self._posted += len(images)

    async def post_final(self, images: Sequence[ReadyImage], outcome: Outcome) -> None:
        """All the results with their summary and buttons in one message, as `InteractionSink`
        posts them: Variation reads the image from the message its button is on."""
        with _uploading():
            await self.send(outcome_text(outcome, self.locale), images, view=result_view(self.ticket))
        self._posted += len(images)

    async def finish(self, outcome: Outcome) -> None:
        view = result_view(self.ticket) if outcome.delivered else None
        await self.send(outcome_text(outcome, self.locale), view=view)

    async def fail(self, error: BaseException) -> None:
        await self.send(explain(error, self.locale, model=self.ticket.job.model, size=self.ticket.request.size))

    def mentioned(self, content: str) -> str:
        return f"{self._member} {content}"

    def can_deliver(self) -> bool:
        """Whether the bot may post the results in the channel now (`bot_can_post`)."""
        channel = self.channel
        if isinstance(channel, PostableChannel):
            return bot_can_post(channel)
        return True  # not a server channel the cache knows: cannot tell, the post will say

    async def send(
        self, content: str, images: Sequence[ReadyImage] = (), *, view: discord.ui.View | None = None,
        passing: bool = False,
    ) -> discord.Message:
        """A message mentioning the member; it notifies them if none did yet. A `passing` one (a
        place in line, deleted when the turn comes) notifies them without counting: the first
        message of the results notifies them again, whenever the passing one was posted. Where
        the bot knows it may not post it (a server that removed it, a permission taken away)
        nothing is sent: Discord would refuse it, and counts refusals against a bot."""
        channel = self.channel
        if isinstance(channel, PostableChannel) and not (bot_can_post(channel) if images else bot_can_say(channel)):
            raise DeliveryError("the bot may not post in this channel")
        first = ChannelSink._notified.get(self.ticket.request_id) is not self.ticket
        if first:
            mentions = discord.AllowedMentions(users=[discord.Object(self.ticket.job.user_id)])
        else:
            mentions = discord.AllowedMentions.none()
        extra = {"view": view} if view is not None else {}
        message = await self.channel.send(
            self.mentioned(content), files=_files(images), allowed_mentions=mentions, **extra
        )
        if first and not passing:  # once posted: a message Discord refused notified no one
            ChannelSink._notified[self.ticket.request_id] = self.ticket
        return message


async def report_failure(sink: InteractionSink | ChannelSink, error: Exception) -> None:
    """Log a failed run (a bug with its traceback, the bot's configuration as an error) and tell
    the member through the sink."""
    if (hint := operator_hint(error)) is not None:
        log.error("request %s failed: %s; check %s", sink.ticket.request_id, error, hint)
    elif is_expected(error):
        log.info("request %s failed: %s", sink.ticket.request_id, error)
    else:
        log.error("request %s failed unexpectedly", sink.ticket.request_id, exc_info=error)
    try:
        await sink.fail(error)
    except (*DISCORD_ERRORS, DeliveryError):
        log.warning("could not tell the member that request %s failed", sink.ticket.request_id)


async def withdraw_reply(interaction: discord.Interaction) -> bool:
    """Delete the deferred (public) reply, so that a follow-up can be private: while it is there,
    Discord makes the first follow-up that reply, public whatever it asks. False if it stayed."""
    try:
        await interaction.delete_original_response()
    except discord.HTTPException as error:
        return reply_deleted(error)  # deleted already: withdrawn all the same
    return True


async def report_error(interaction: discord.Interaction, error: BaseException) -> None:
    """The single error reply: ephemeral when nothing was said yet, a follow-up otherwise."""
    if is_expected(error):
        log.info("request refused (%s): %s", type(error).__name__, error)
    elif isinstance(error, aiohttp.ClientError | ConnectionError):  # the way to Discord, not a bug
        log.warning("%s failed: Discord could not be reached (%s)", _command_name(interaction), type(error).__name__)
    else:
        log.error("unexpected error in %s", _command_name(interaction), exc_info=error)
    text = explain(error, locale_of(interaction))
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except DISCORD_ERRORS:  # refused, or the connection dropped: nothing more to try
        log.warning("could not tell the member about a failure in %s", _command_name(interaction))


def _command_name(interaction: discord.Interaction) -> str:
    command = interaction.command
    return command.qualified_name if command is not None else f"interaction {interaction.type.name}"
