"""Who may do what. Checked in the bot, not only through Discord's default permissions,
because server owners can override those for any command."""

from __future__ import annotations

from datetime import timedelta

import discord

from pipeline.explain import UserError
from pipeline.references import DOWNLOAD_TIMEOUT
from storage.requests import LedgerRow

# Between the bot's clock (a row's created_at) and Discord's (a message's snowflake): both are
# NTP time on any server; a wider margin would let a request recorded just after an old message
# (a database wiped and the bot restarted within it) pass for that message's own.
CLOCK_SLACK = timedelta(seconds=3)
# How long fetching and checking a request's reference images can take (they download together,
# each within its timeout; converting one takes seconds), between its reply and its record.
REFERENCES_WINDOW = timedelta(seconds=DOWNLOAD_TIMEOUT + 30)


def is_buttons_request(row: LedgerRow | None, interaction: discord.Interaction) -> bool:
    """Whether `row`, found under the request id a button carries, is the request the button was
    made for. A database started afresh reuses ids: a row of another server, or one made after the
    message that carries the button, is another request, and the button's own is gone.

    A request is recorded before its reply, except one made from images: its reply is deferred
    before they are fetched and checked, and recorded after (`REFERENCES_WINDOW`). That wider
    window is only for the reply to the same member's own command or button (Discord's
    interaction metadata on the message), so a reused id of another member's request made from
    images does not pass for it."""
    if row is None or row.guild_id != interaction.guild_id:
        return False
    message = interaction.message
    if message is None:
        return True
    asked = message.interaction_metadata
    own_reply = asked is not None and asked.user.id == row.user_id
    slack = CLOCK_SLACK + (REFERENCES_WINDOW if row.reference_images and own_reply else timedelta(0))
    return row.created_at <= message.created_at + slack


def is_admin(interaction: discord.Interaction) -> bool:
    """Manage Server (or Administrator) in this server, as Discord computed it for this interaction."""
    permissions = interaction.permissions
    return bool(permissions.manage_guild or permissions.administrator)


def is_moderator(interaction: discord.Interaction) -> bool:
    """Admins, and members who may manage messages."""
    return is_admin(interaction) or bool(interaction.permissions.manage_messages)


def require_admin(interaction: discord.Interaction) -> None:
    if interaction.guild_id is None:
        raise UserError("error.guild_only", code="guild_only")
    if not is_admin(interaction):
        raise UserError("error.admin_only", code="not_admin")


def require_moderator(interaction: discord.Interaction) -> None:
    if interaction.guild_id is None:
        raise UserError("error.guild_only", code="guild_only")
    if not is_moderator(interaction):
        raise UserError("error.moderator_only", code="not_moderator")


def can_say(permissions: discord.Permissions, *, thread: bool) -> bool:
    """Whether the bot may post a text message in a channel with these permissions (its own there)."""
    sends = permissions.send_messages_in_threads if thread else permissions.send_messages
    return permissions.view_channel and sends


def can_post(permissions: discord.Permissions, *, thread: bool) -> bool:
    """Whether the bot may post results (files) in a channel with these permissions."""
    return can_say(permissions, thread=thread) and permissions.attach_files


def bot_can_post(channel: discord.TextChannel | discord.Thread) -> bool:
    return can_post(channel.permissions_for(channel.guild.me), thread=isinstance(channel, discord.Thread))


def bot_can_say(guild: discord.Guild | None, channel_id: int) -> bool:
    """Whether the bot may post a text message (no files) in that channel or thread of `guild`."""
    channel = guild.get_channel_or_thread(channel_id) if guild is not None else None
    if not isinstance(channel, discord.abc.Messageable) or not hasattr(channel, "permissions_for"):
        return False  # gone, a category or a forum; a voice channel's text chat is fine
    return can_say(channel.permissions_for(channel.guild.me), thread=isinstance(channel, discord.Thread))
