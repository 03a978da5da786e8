"""Posting results to Discord: the interaction's reply first, the channel once the token expired.

An image is always posted as an attachment (the gateway's links expire); at most ten go in a
message. The one error reply (`report_error`) lives here too, so every way in answers alike.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence

import discord

from pipeline.explain import DeliveryError, explain, is_expected
from pipeline.runner import Outcome, ReadyImage, Ticket
from pipeline.summary import header_text, outcome_text, working_text

log = logging.getLogger(__name__)

# Discord's codes for a webhook/interaction token that no longer works.
EXPIRED_TOKEN_CODES = {50027, 10015, 10062}


def _files(images: Sequence[ReadyImage]) -> list[discord.File]:
    return [discord.File(io.BytesIO(image.data), filename=image.filename) for image in images]


def _token_expired(error: discord.HTTPException) -> bool:
    return error.code in EXPIRED_TOKEN_CODES or error.status == 401


class InteractionSink:
    """Results for one interaction: the deferred reply holds the first images and the summary."""

    def __init__(self, interaction: discord.Interaction, ticket: Ticket) -> None:
        self.interaction = interaction
        self.ticket = ticket
        self.locale = interaction.locale
        self.upload_limit: int = interaction.filesize_limit
        self._posted = 0
        self._use_channel = False

    async def working(self) -> None:
        await self._edit_original(content=working_text(self.ticket, self.locale))

    async def post(self, images: Sequence[ReadyImage]) -> None:
        header = header_text(self.ticket, self.locale)
        first = self._posted == 0
        if not (first and await self._edit_original(content=header, attachments=_files(images))):
            await self._send(header, images)
        self._posted += len(images)

    async def finish(self, outcome: Outcome) -> None:
        text = outcome_text(outcome, self.locale)
        if outcome.delivered == 0 or not await self._edit_original(content=text):
            await self._send(text)

    async def fail(self, error: BaseException) -> None:
        """Tell the member what went wrong, where they are looking."""
        text = explain(error, self.locale)
        if self._posted == 0 and await self._edit_original(content=text, attachments=[]):
            return
        await self._send(text)

    async def _edit_original(self, **fields) -> bool:
        """Edit the interaction's reply; False once its token has expired."""
        if self._use_channel:
            return False
        try:
            await self.interaction.edit_original_response(**fields)
        except discord.HTTPException as error:
            if not _token_expired(error):
                raise
            self._use_channel = True
            return False
        return True

    async def _send(self, content: str, images: Sequence[ReadyImage] = ()) -> None:
        """A new message: a follow-up while the token lives, then a plain channel message."""
        if not self._use_channel:
            try:
                await self.interaction.followup.send(content, files=_files(images), wait=True)
                return
            except discord.HTTPException as error:
                if not _token_expired(error):
                    raise
                self._use_channel = True
        channel = self.interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            raise DeliveryError("the interaction's channel is gone")
        await channel.send(content, files=_files(images))


async def report_error(interaction: discord.Interaction, error: BaseException) -> None:
    """The single error reply: ephemeral when nothing was said yet, a follow-up otherwise."""
    if is_expected(error):
        log.info("request refused (%s): %s", type(error).__name__, error)
    else:
        log.error("unexpected error in %s", _command_name(interaction), exc_info=error)
    text = explain(error, interaction.locale)
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell the member about a failure in %s", _command_name(interaction))


def _command_name(interaction: discord.Interaction) -> str:
    command = interaction.command
    return command.qualified_name if command is not None else f"interaction {interaction.type.name}"
