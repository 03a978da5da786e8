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
# How long after its request ended a message carrying its buttons can be posted (the summary
# after the last upload, through Discord's rate limits): far less than this.
POSTED_WITHIN = timedelta(minutes=15)
# How long fetching and checking a request's reference images can take (they download together,
# each within its timeout; converting one takes seconds), between its reply and its record.
REFERENCES_WINDOW = timedelta(seconds=DOWNLOAD_TIMEOUT + 30)


def is_buttons_request(row: LedgerRow | None, interaction: discord.Interaction) -> bool:
    """Whether `row`, found under the request id a button carries, is the request the button was
    made for. A database started afresh reuses ids: a row of another server, one made after the
    message that carries the button, or one that ended long before it, is another request, and
    the button's own is gone.

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
    if row.created_at > message.created_at + slack:
        return False
    # Nor one that ended long before the message came: an older database (DATABASE_URL pointed
    # back at it) holds other requests under the same ids, ended before this one was asked.
    return row.settled_at is None or message.created_at <= row.settled_at + POSTED_WITHIN


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
