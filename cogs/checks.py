"""Who may do what. Checked in the bot, not only through Discord's default permissions,
because server owners can override those for any command."""

from __future__ import annotations

import discord

from pipeline.explain import UserError


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
