"""What the bot may post where, from Discord's permissions as its cache has them now.

A reply to an interaction needs none of them (it goes through the interaction's webhook); what
the bot posts as itself does: an approved request's results, results once the reply is gone,
budget warnings, the moderators' reviews.
"""

from __future__ import annotations

import discord

# Where a member can ask and the bot can post: text channels, the text chat of voice and stage
# channels, and threads (forums and categories hold no messages of their own).
PostableChannel = discord.TextChannel | discord.VoiceChannel | discord.StageChannel | discord.Thread


def can_say(permissions: discord.Permissions, *, thread: bool) -> bool:
    """Whether the bot may post a text message in a channel with these permissions (its own there)."""
    sends = permissions.send_messages_in_threads if thread else permissions.send_messages
    return permissions.view_channel and sends


def can_post_in(channel: object, permissions: discord.Permissions) -> bool:
    """Whether the bot may post results (files) in `channel` as it is (`can_say_in`, with files)."""
    return can_say_in(channel, permissions) and permissions.attach_files


def can_say_in(channel: object, permissions: discord.Permissions) -> bool:
    """`can_say` in `channel` as it is: a locked thread takes posts only from those who may
    manage threads (an archived one is reopened by a post), a private thread only from its members."""
    thread = isinstance(channel, discord.Thread)
    return can_say(permissions, thread=thread) and not _closed_thread(channel, permissions)


def _closed_thread(channel: object, permissions: discord.Permissions) -> bool:
    """A thread the bot may not post in whatever its permissions: locked, or private and not its."""
    if not isinstance(channel, discord.Thread) or permissions.manage_threads:
        return False
    return bool(channel.locked) or _unseen_private(channel)


def _unseen_private(thread: discord.Thread) -> bool:
    """An active private thread Discord never told the bot of: it is not one of its members
    (Discord sends an active private thread, at the start and when the bot is added, only to those
    who may see it), and may not post there, whatever its parent channel's permissions say
    (discord.py gives a thread its parent's). A member's command still works there: the reply
    needs no permission. An archived thread leaves discord.py's cache, so its absence says
    nothing: the bot's post reopens it when the bot is a member."""
    return (
        thread.type is discord.ChannelType.private_thread
        and not thread.archived
        and thread.guild.get_thread(thread.id) is None
    )


def bot_can_post(channel: PostableChannel) -> bool:
    """Whether the bot may post results in `channel` now (`can_post_in`). Not in a server that
    removed the bot: discord.py keeps the channel and the bot's member in its objects, but the
    server is no longer the bot's (GUILD_DELETE), and Discord refuses every post there."""
    return _bot_may_post(channel, embeds=False)


def bot_can_say(channel: object) -> bool:
    """Whether the bot may post a message without files in `channel` now (a notice to a member, a
    budget warning). Not a channel that takes messages (gone: None; a category or a forum)."""
    return isinstance(channel, PostableChannel) and _bot_may_post(channel, embeds=False, files=False)


def bot_can_review(channel: PostableChannel) -> bool:
    """Whether moderators can read a review the bot posts in `channel`: it may post there and embed
    (a long prompt, the linked images are in embeds, which Discord drops without Embed Links,
    leaving moderators to approve words they never saw)."""
    return _bot_may_post(channel, embeds=True)


def _bot_may_post(channel: PostableChannel, *, embeds: bool, files: bool = True) -> bool:
    if not _still_joined(channel.guild):
        return False
    me = channel.guild.me
    if me is None:  # the server is unavailable right now: cannot tell, the post will say
        return True
    try:
        permissions = channel.permissions_for(me)
    except discord.ClientException:  # a thread whose parent is not cached: cannot tell
        return True
    allowed = can_post_in(channel, permissions) if files else can_say_in(channel, permissions)
    return allowed and (permissions.embed_links or not embeds)


def _still_joined(guild: discord.Guild) -> bool:
    # The client's own list of servers (Client.get_guild), reached from the channel's state: the
    # channel may be a copy a removal left behind.
    return guild._state._get_guild(guild.id) is not None  # no public way from a channel

