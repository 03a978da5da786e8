"""The double's world: users, guilds, channels, roles, members, and their Discord payloads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .ids import iso_now

# Permission bits (https://discord.com/developers/docs/topics/permissions)
CREATE_INSTANT_INVITE = 1 << 0
ADMINISTRATOR = 1 << 3
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_EXTERNAL_EMOJIS = 1 << 18
CONNECT = 1 << 20
SPEAK = 1 << 21
CHANGE_NICKNAME = 1 << 26
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1

DEFAULT_EVERYONE_PERMISSIONS = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | CONNECT
    | SPEAK
    | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS
    | CREATE_PUBLIC_THREADS
    | SEND_MESSAGES_IN_THREADS
)
DEFAULT_BOT_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_APPLICATION_COMMANDS
)
DEFAULT_ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

GUILD_TEXT = 0
DM = 1
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
GUILD_FORUM = 15
THREAD_TYPES = (10, PUBLIC_THREAD, PRIVATE_THREAD)


@dataclass
class User:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False

    def to_payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "avatar_decoration_data": None,
            "public_flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False
    bot_id: int | None = None

    def to_payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "description": None,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": False,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass
class Channel:
    id: int
    name: str
    guild_id: int | None = None
    type: int = GUILD_TEXT
    position: int = 0
    topic: str | None = None
    nsfw: bool = False
    overwrites: list[dict[str, Any]] = field(default_factory=list)
    recipients: list[User] = field(default_factory=list)
    messages: list[Any] = field(default_factory=list)  # MessageRecord, in posting order
    parent_id: int | None = None  # a thread's channel (a forum's, for a forum post)
    # A thread's own state (thread_metadata) and who is in it (the private thread's only viewers,
    # with those who may manage threads).
    owner_id: int | None = None
    locked: bool = False
    archived: bool = False
    invitable: bool = True
    member_ids: list[int] = field(default_factory=list)
    created_at: str = field(default_factory=iso_now)
    archived_at: str = field(default_factory=iso_now)
    applied_tags: list[int] = field(default_factory=list)
    available_tags: list[dict[str, Any]] = field(default_factory=list)  # a forum's tags
    last_message_id: int | None = None  # a forum's: its latest post

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    def _last_message_id(self) -> str | None:
        if self.last_message_id is not None:
            return str(self.last_message_id)
        return self.messages[-1].payload["id"] if self.messages else None

    def thread_metadata(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "archived": self.archived,
            "auto_archive_duration": 1440,
            "archive_timestamp": self.archived_at,
            "locked": self.locked,
            "create_timestamp": self.created_at,
        }
        if self.type == PRIVATE_THREAD:
            data["invitable"] = self.invitable
        return data

    def to_payload(self) -> dict[str, Any]:
        if self.is_thread:  # ThreadResponse
            sent = len(self.messages)
            data = {
                "id": str(self.id),
                "type": self.type,
                "guild_id": str(self.guild_id),
                "name": self.name,
                "parent_id": str(self.parent_id),
                "owner_id": str(self.owner_id if self.owner_id is not None else self.parent_id),
                "last_message_id": self._last_message_id(),
                "rate_limit_per_user": 0,
                "flags": 0,
                "message_count": sent,
                "member_count": max(1, min(50, len(self.member_ids))),
                "total_message_sent": sent,
                "thread_metadata": self.thread_metadata(),
            }
            if self.type == PUBLIC_THREAD:
                data["applied_tags"] = [str(t) for t in self.applied_tags]
            return data
        if self.type == DM:
            return {
                "id": str(self.id),
                "type": DM,
                "last_message_id": None,
                "flags": 0,
                "recipients": [u.to_payload() for u in self.recipients],
            }
        data = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "parent_id": None,
            "topic": self.topic,
            "nsfw": self.nsfw,
            "last_message_id": self._last_message_id(),
            "rate_limit_per_user": 0,
            "flags": 0,
            "permission_overwrites": list(self.overwrites),
        }
        if self.type == GUILD_FORUM:  # GuildChannelResponse's forum fields
            data.update(
                {
                    "available_tags": [dict(t) for t in self.available_tags],
                    "default_reaction_emoji": None,
                    "default_sort_order": None,
                    "default_forum_layout": 0,
                    "default_tag_setting": None,
                    "default_auto_archive_duration": 1440,
                    "default_thread_rate_limit_per_user": 0,
                }
            )
        return data

    def live_messages(self) -> list[dict[str, Any]]:
        """Current payloads of the messages still in the channel, oldest first."""
        return [m.payload for m in self.messages if not m.deleted]


@dataclass
class Member:
    user: User
    guild_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)

    def to_payload(self, *, with_user: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.to_payload()
        return data


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    preferred_locale: str = "en-US"
    attachment_size_limit: int = DEFAULT_ATTACHMENT_SIZE_LIMIT
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    joined_at: str = field(default_factory=iso_now)
    threads: dict[int, Channel] = field(default_factory=dict)  # active threads (GUILD_CREATE lists them apart)

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    def base_payload(self) -> dict[str, Any]:
        """The REST guild object (GET /guilds/{id})."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "region": "deprecated",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "widget_enabled": False,
            "widget_channel_id": None,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.to_payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_presences": None,
            "max_members": 500000,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": self.preferred_locale,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "nsfw_level": 0,
            "nsfw": False,
            "premium_progress_bar_enabled": False,
            "incidents_data": None,
        }

    def gateway_payload(self, *, include_all_members: bool, bot_id: int) -> dict[str, Any]:
        """The GUILD_CREATE object: REST fields plus channels, members and state."""
        members = [m for m in self.members.values() if include_all_members or m.user.id == bot_id]
        data = self.base_payload()
        data.update(
            {
                "joined_at": self.joined_at,
                "large": False,
                "unavailable": False,
                "member_count": len(self.members),
                "channels": [c.to_payload() for c in self.channels.values()],
                "members": [m.to_payload() for m in members],
                "threads": [t.to_payload() for t in self.threads.values()
                            if not t.archived and self.permissions_for(bot_id, t) & VIEW_CHANNEL],
                "presences": [],
                "voice_states": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
                "lazy": True,
            }
        )
        return data

    def permissions_for(self, user_id: int, channel: Channel | None = None) -> int:
        """Discord's permission algorithm: base from roles, then channel overwrites. A thread has
        its parent channel's permissions, as they are now; a private thread is seen only by its
        members and those who may manage threads (anyone else has no permission there at all)."""
        if channel is not None and channel.is_thread:
            parent = self.channels.get(channel.parent_id) if channel.parent_id is not None else None
            perms = self._channel_permissions(user_id, parent if parent is not None else channel)
            if (
                channel.type == PRIVATE_THREAD
                and user_id not in channel.member_ids
                and not perms & MANAGE_THREADS
            ):
                return 0
            return perms
        return self._channel_permissions(user_id, channel)

    def _channel_permissions(self, user_id: int, channel: Channel | None) -> int:
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        member = self.members.get(user_id)
        perms = self.everyone.permissions
        role_ids = member.roles if member else []
        for role_id in role_ids:
            role = self.roles.get(role_id)
            if role is not None:
                perms |= role.permissions
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        if channel is None or not channel.overwrites:
            return perms
        by_id = {int(o["id"]): o for o in channel.overwrites}
        everyone_ow = by_id.get(self.id)
        if everyone_ow:
            perms = (perms & ~int(everyone_ow["deny"])) | int(everyone_ow["allow"])
        allow = deny = 0
        for role_id in role_ids:
            ow = by_id.get(role_id)
            if ow and int(ow.get("type", 0)) == 0:
                allow |= int(ow["allow"])
                deny |= int(ow["deny"])
        perms = (perms & ~deny) | allow
        member_ow = by_id.get(user_id)
        if member_ow and int(member_ow.get("type", 1)) == 1:
            perms = (perms & ~int(member_ow["deny"])) | int(member_ow["allow"])
        if not perms & VIEW_CHANNEL:
            return 0
        return perms
