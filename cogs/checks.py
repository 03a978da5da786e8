"""Who may do what. Checked in the bot, not only through Discord's default permissions,
because server owners can override those for any command."""

from __future__ import annotations

from datetime import timedelta

import discord

from pipeline.explain import UserError
from storage.requests import LedgerRow

# Between the bot's clock (a row's created_at) and Discord's (a message's snowflake): both are
# NTP time on any server; a wider margin would let a request recorded just after an old message
# (a database wiped and the bot restarted within it) pass for that message's own.
CLOCK_SLACK = timedelta(seconds=3)


def is_buttons_request(row: LedgerRow | None, interaction: discord.Interaction) -> bool:
    """Whether `row`, found under the request id a button carries, is the request the button was
    made for. A database started afresh reuses ids: a row of another server, or one made after the
    message that carries the button (a request is always recorded before its messages), is another
    request, and the button's own is gone."""
    if row is None or row.guild_id != interaction.guild_id:
        return False
    message = interaction.message
    return message is None or row.created_at <= message.created_at + CLOCK_SLACK


def made_for(message: discord.Message, row: LedgerRow) -> bool:
    """Whether `message` can carry `row`'s results: not older than the request (an older one
    carries a request a database started afresh gave the same id)."""
    return message.created_at >= row.created_at - CLOCK_SLACK


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
