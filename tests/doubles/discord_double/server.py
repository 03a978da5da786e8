"""DiscordDouble: one aiohttp server on loopback with Discord's REST API, gateway websocket and CDN."""

from __future__ import annotations

import asyncio
import copy
import hmac
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from . import gateway_ws, interaction_routes, responses, rest  # noqa: F401 - registers routes
from .bodies import Body, UploadedFile, read_body
from .cdn import AttachmentStore
from .commands import CommandStore
from .faults import ConnectionDropped, Fault, FaultInjector
from .ids import SnowflakeFactory, iso_now, make_bot_token, make_interaction_token
from .interactions import (
    APPLICATION_COMMAND,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    InteractionEvent,
    InteractionHandle,
)
from .invocations import (
    AUTOCOMPLETE,
    AttachmentSpec,
    autocomplete_data,
    base_payload,
    command_data,
    message_command_data,
    modal_components,
)
from .messages import MessageFactory, MessageRecord, check_limits, message_text, strings_in
from .model import (
    DEFAULT_ATTACHMENT_SIZE_LIMIT,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    DM,
    GUILD_FORUM,
    GUILD_TEXT,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    VIEW_CHANNEL,
    Channel,
    Guild,
    Member,
    Role,
    User,
)
from .routing import RestRequest, router
from .spec import SpecIndex, get_spec

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
_MESSAGE_BEARING = re.compile(
    r"^/(channels/[^/]+/messages(/[^/]+)?|webhooks/[^/]+/[^/]+(/messages/[^/]+)?|interactions/[^/]+/[^/]+/callback)$"
)


FORWARD_HAS_SNAPSHOT = 1 << 14
# What a forward's snapshot keeps of the forwarded message (Discord's message snapshot object).
FORWARDED_FIELDS: dict[str, Any] = {
    "type": 0, "content": "", "embeds": [], "attachments": [], "timestamp": None, "edited_timestamp": None,
    "flags": 0, "mentions": [], "mention_roles": [], "components": [],
}


@dataclass
class LoggedRequest:
    method: str
    path: str
    status: int
    json: Any
    files: list[tuple[str, int]]  # (filename, size)


class DiscordDouble:
    """See the package docstring for the test-facing API."""

    def __init__(
        self,
        *,
        spec_path: Path | str | None = None,
        ack_timeout: float = 3.0,
        token_ttl: float = 15 * 60,
        heartbeat_interval_ms: int = 41250,
        bot_name: str = "DoubleBot",
        bot_token: str | None = None,
        application_flags: int = 0,
        privileged_intents: int = (1 << 1) | (1 << 8) | (1 << 15),
        validate_spec: bool = True,
    ) -> None:
        self.snowflakes = SnowflakeFactory()
        self.bot_user = User(self.snowflakes.next(), bot_name, bot=True)
        self.application_id = self.bot_user.id
        self.application_flags = application_flags
        self.owner = User(self.snowflakes.next(), "app-owner")
        self.bot_token = bot_token or make_bot_token(self.bot_user.id)
        self.ack_timeout, self.token_ttl = ack_timeout, token_ttl
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.privileged_intents = privileged_intents
        self.dm_attachment_size_limit = DEFAULT_ATTACHMENT_SIZE_LIMIT
        self.dm_app_permissions = DEFAULT_BOT_PERMISSIONS

        self.users: dict[int, User] = {self.bot_user.id: self.bot_user, self.owner.id: self.owner}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.deleted_channels: set[int] = set()  # a follow-up into one is refused, as Discord does
        self.messages: dict[int, MessageRecord] = {}
        self.store = AttachmentStore(self.snowflakes)
        self.factory = MessageFactory(self.snowflakes, self.store)
        self.commands = CommandStore(self.snowflakes, self.application_id)
        self.faults = FaultInjector()
        self.interactions: list[InteractionHandle] = []
        self.interactions_by_id: dict[int, InteractionHandle] = {}
        self.interactions_by_token: dict[str, InteractionHandle] = {}

        self.requests: list[LoggedRequest] = []
        self.unhandled: list[LoggedRequest] = []  # requests the double does not implement (answered 404)
        self.spec_violations: list[dict[str, Any]] = []
        self.limit_rejections: list[dict[str, Any]] = []
        self.internal_errors: list[dict[str, Any]] = []  # exceptions inside the double (should stay empty)
        self._outgoing: list[str] = []

        self.spec: SpecIndex | None = None
        self.spec_skip_reason: str | None = None
        if validate_spec:
            self.spec, self.spec_skip_reason = get_spec(spec_path)
        else:
            self.spec_skip_reason = "validation disabled by validate_spec=False"

        self.sessions: list[gateway_ws.GatewaySession] = []
        self.past_sessions: list[gateway_ws.GatewaySession] = []
        self.identify_payloads: list[dict[str, Any]] = []
        self.gateway_connections = 0
        self.gateway_query: dict[str, str] = {}
        self.ready_event = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> DiscordDouble:
        app = web.Application(client_max_size=512 * 1024 * 1024)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._handle_rest)
        app.router.add_get("/gateway", self._handle_gateway)
        for prefix in ("/attachments", "/media-proxy/attachments", "/ephemeral-attachments"):
            app.router.add_get(prefix + "/{channel_id}/{attachment_id}/{filename}", self.store.handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        self.store.base_url = self.base_url
        return self

    async def close(self) -> None:
        await gateway_ws.close_all(self)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordDouble:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def api_base(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1) + "/gateway"

    @staticmethod
    def loop_time() -> float:
        return asyncio.get_running_loop().time()

    def check_token(self, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self.bot_token.encode())

    def application_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.application_id),
            "name": self.bot_user.username,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": self.application_flags,
            "owner": self.owner.to_payload(),
            "team": None,
            "bot": self.bot_user.to_payload(),
            "interactions_endpoint_url": None,
            "integration_types_config": {"0": {}},
            "install_params": {
                "scopes": ["bot", "applications.commands"],
                "permissions": str(DEFAULT_BOT_PERMISSIONS),
            },
        }

    # -- the world ---------------------------------------------------------------------------
    def add_user(self, username: str, *, global_name: str | None = None, bot: bool = False) -> User:
        user = User(self.snowflakes.next(), username, global_name=global_name, bot=bot)
        self.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str = "Test Guild",
        *,
        owner_id: int | None = None,
        locale: str = "en-US",
        attachment_size_limit: int = DEFAULT_ATTACHMENT_SIZE_LIMIT,
        everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS,
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
    ) -> Guild:
        """A guild the bot is in: @everyone, a managed bot role and the bot member come with it."""
        owner = self.users.get(owner_id) if owner_id is not None else None
        if owner is None:
            owner = self.owner if owner_id is None else self.add_user(f"owner-{owner_id}")
        guild = Guild(
            self.snowflakes.next(),
            name,
            owner.id,
            preferred_locale=locale,
            attachment_size_limit=attachment_size_limit,
        )
        guild.roles[guild.id] = Role(guild.id, guild.id, "@everyone", everyone_permissions)
        bot_role = Role(
            self.snowflakes.next(),
            guild.id,
            self.bot_user.username,
            bot_permissions,
            position=1,
            managed=True,
            bot_id=self.bot_user.id,
        )
        guild.roles[bot_role.id] = bot_role
        guild.members[self.bot_user.id] = Member(self.bot_user, guild.id, roles=[bot_role.id])
        guild.members[owner.id] = Member(owner, guild.id)
        self.guilds[guild.id] = guild
        return guild

    def add_channel(
        self,
        guild: Guild,
        name: str = "general",
        *,
        overwrites: Sequence[dict[str, Any]] = (),
        topic: str | None = None,
        nsfw: bool = False,
    ) -> Channel:
        channel = Channel(
            self.snowflakes.next(),
            name,
            guild_id=guild.id,
            position=len(guild.channels),
            topic=topic,
            nsfw=nsfw,
            overwrites=[dict(o) for o in overwrites],
        )
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        return channel

    async def delete_channel(self, channel: Channel) -> None:
        """Delete a channel as an admin would: connected bots hear CHANNEL_DELETE (its threads and
        a forum's posts go with it, with no event of their own)."""
        payload = channel.to_payload()
        self.channels.pop(channel.id, None)
        self.deleted_channels.add(channel.id)
        if channel.guild_id is not None:
            guild = self.guilds[channel.guild_id]
            guild.channels.pop(channel.id, None)
            for thread in [t for t in guild.threads.values() if t.parent_id == channel.id]:
                guild.threads.pop(thread.id, None)
                self.channels.pop(thread.id, None)
                self.deleted_channels.add(thread.id)
        if self.sessions:
            await self.dispatch("CHANNEL_DELETE", payload)

    def delete_user_message(self, message: dict[str, Any], *, files_too: bool = True) -> None:
        """A member deletes their message: gone from the API and, with `files_too`, its files from
        the CDN (which may also go on serving them a while: `files_too=False`). No event: Discord
        sends MESSAGE_DELETE only to bots that ask for message events, which this one does not."""
        self.messages[int(message["id"])].deleted = True
        if files_too:
            for attachment in message.get("attachments", []):
                self.store.remove(int(attachment["id"]))

    async def set_overwrites(self, channel: Channel, overwrites: Sequence[dict[str, Any]]) -> None:
        """Change a channel's permission overwrites as an admin would: connected bots hear
        CHANNEL_UPDATE, as from Discord."""
        channel.overwrites = [dict(o) for o in overwrites]
        if self.sessions:
            await self.dispatch("CHANNEL_UPDATE", channel.to_payload())

    def add_thread(
        self,
        channel: Channel,
        name: str = "thread",
        *,
        owner: User | None = None,
        locked: bool = False,
        archived: bool = False,
    ) -> Channel:
        """A public thread (11) in `channel` (created before the bot connects: listed in
        GUILD_CREATE if active and the bot may see it; see `announce_thread`). Its permissions are
        its channel's; `locked`/`archived` are its thread_metadata (see `update_thread`)."""
        return self._new_thread(channel, name, PUBLIC_THREAD, owner=owner, locked=locked, archived=archived)

    def add_private_thread(
        self,
        channel: Channel,
        name: str = "private",
        *,
        members: Sequence[User] = (),
        owner: User | None = None,
        locked: bool = False,
        archived: bool = False,
        invitable: bool = True,
    ) -> Channel:
        """A private thread (12) in a text channel: seen only by its `members` (the owner is one;
        add the bot with `members=[dd.bot_user, ...]`) and those who may manage threads."""
        assert channel.type == GUILD_TEXT, "private threads live in text channels"
        thread = self._new_thread(channel, name, PRIVATE_THREAD, owner=owner or (members[0] if members else None),
                                  locked=locked, archived=archived)  # fmt: skip
        thread.invitable = invitable
        for user in members:
            if user.id not in thread.member_ids:
                thread.member_ids.append(user.id)
        return thread

    def add_forum(
        self,
        guild: Guild,
        name: str = "forum",
        *,
        overwrites: Sequence[dict[str, Any]] = (),
        topic: str | None = None,
        nsfw: bool = False,
        tags: Sequence[str] = (),
    ) -> Channel:
        """A forum channel (15): it holds posts (threads, `add_forum_post`), no messages of its own."""
        forum = self.add_channel(guild, name, overwrites=overwrites, topic=topic, nsfw=nsfw)
        forum.type = GUILD_FORUM
        forum.available_tags = [
            {"id": str(self.snowflakes.next()), "name": tag, "moderated": False, "emoji_id": None, "emoji_name": None}
            for tag in tags
        ]
        return forum

    def add_forum_post(
        self,
        forum: Channel,
        name: str = "post",
        *,
        owner: User | None = None,
        content: str = "",
        tags: Sequence[str] = (),
        locked: bool = False,
        archived: bool = False,
    ) -> Channel:
        """A post in `forum`: a public thread (11) whose parent is the forum, opened by `owner`'s
        starter message (the message's id is the thread's, as Discord makes them)."""
        assert forum.type == GUILD_FORUM, "a forum post needs a forum (add_forum)"
        post = self._new_thread(forum, name, PUBLIC_THREAD, owner=owner, locked=locked, archived=archived)
        by_name = {t["name"]: int(t["id"]) for t in forum.available_tags}
        post.applied_tags = [by_name[t] for t in tags]
        author = self.users.get(post.owner_id or 0) or self.owner
        record = self.factory.create(
            channel_id=post.id, author=author, message={"content": content or name}, files=[]
        )
        record.payload["id"] = str(post.id)
        self.store_message(record)
        forum.last_message_id = post.id
        return post

    def _new_thread(
        self, channel: Channel, name: str, kind: int, *, owner: User | None, locked: bool, archived: bool
    ) -> Channel:
        assert channel.guild_id is not None and not channel.is_thread
        guild = self.guilds[channel.guild_id]
        owner_id = owner.id if owner is not None else guild.owner_id
        thread = Channel(self.snowflakes.next(), name, guild_id=channel.guild_id, type=kind,
                         parent_id=channel.id, overwrites=channel.overwrites, owner_id=owner_id,
                         locked=locked, archived=archived, member_ids=[owner_id])  # fmt: skip
        guild.threads[thread.id] = thread
        self.channels[thread.id] = thread
        return thread

    async def announce_thread(self, thread: Channel) -> None:
        """Tell the connected bot about a thread made while it is connected (THREAD_CREATE with
        `newly_created`, as Discord sends it to those who may see the thread)."""
        guild = self.guilds[thread.guild_id or 0]
        if self.sessions and guild.permissions_for(self.bot_user.id, thread) & VIEW_CHANNEL:
            await self.dispatch("THREAD_CREATE", {**thread.to_payload(), "newly_created": True})

    async def update_thread(
        self, thread: Channel, *, locked: bool | None = None, archived: bool | None = None
    ) -> None:
        """A moderator (or Discord) locks, unlocks, archives or reopens the thread: connected bots
        hear THREAD_UPDATE."""
        assert thread.is_thread
        if locked is not None:
            thread.locked = locked
        if archived is not None and archived != thread.archived:
            thread.archived, thread.archived_at = archived, iso_now()
        if self.sessions:
            await self.dispatch("THREAD_UPDATE", thread.to_payload())

    async def add_thread_member(self, thread: Channel, user: User) -> None:
        """`user` joins (or is added to) the thread. The bot added to a thread hears THREAD_CREATE
        with its thread member, as from Discord; others' joins are THREAD_MEMBERS_UPDATE, sent
        only to sessions with the GUILD_MEMBERS intent."""
        assert thread.is_thread and thread.guild_id is not None
        if user.id in thread.member_ids:
            return
        thread.member_ids.append(user.id)
        member = {"id": str(thread.id), "user_id": str(user.id), "join_timestamp": iso_now(), "flags": 0}
        if user.id == self.bot_user.id:
            if self.sessions:
                await self.dispatch("THREAD_CREATE", {**thread.to_payload(), "member": member})
            return
        update = {"id": str(thread.id), "guild_id": str(thread.guild_id),
                  "member_count": len(thread.member_ids), "added_members": [member]}  # fmt: skip
        for session in list(self.sessions):
            if session.intents & gateway_ws.GUILD_MEMBERS_INTENT:
                await session.send(gateway_ws.DISPATCH, update, "THREAD_MEMBERS_UPDATE")

    def add_role(self, guild: Guild, name: str, permissions: int = 0) -> Role:
        role = Role(self.snowflakes.next(), guild.id, name, permissions, position=len(guild.roles))
        guild.roles[role.id] = role
        return role

    def add_member(
        self, guild: Guild, user: User, roles: Sequence[Role | int] = (), nick: str | None = None
    ) -> Member:
        self.users.setdefault(user.id, user)
        ids = [r.id if isinstance(r, Role) else int(r) for r in roles]
        member = Member(user, guild.id, roles=ids, nick=nick)
        guild.members[user.id] = member
        return member

    def set_bot_permissions(self, guild: Guild, permissions: int) -> None:
        for role in guild.roles.values():
            if role.bot_id == self.bot_user.id:
                role.permissions = permissions

    def dm_channel(self, user: User) -> Channel:
        for channel in self.channels.values():
            if channel.type == DM and channel.recipients and channel.recipients[0].id == user.id:
                return channel
        channel = Channel(self.snowflakes.next(), "", type=DM, recipients=[user])
        self.channels[channel.id] = channel
        return channel

    def store_message(self, record: MessageRecord) -> None:
        self.messages[record.id] = record
        channel = self.channels.get(record.channel_id)
        if channel is not None and not record.ephemeral:
            channel.messages.append(record)

    async def post_user_message(
        self,
        channel: Channel,
        user: User,
        content: str = "",
        *,
        attachments: Sequence[AttachmentSpec] = (),
        dispatch: bool = True,
    ) -> dict[str, Any]:
        """A message from a (human) user, e.g. a target for a message context menu."""
        record = self.factory.create(
            channel_id=channel.id, author=user, message={"content": content}, files=[]
        )
        record.payload["attachments"] = [
            self.store.to_payload(self.store.add(channel.id, name, data, ctype))
            for name, data, ctype in attachments
        ]
        self.store_message(record)
        if dispatch and self.sessions:
            event = dict(record.payload)
            if channel.guild_id is not None:
                member = self.guilds[channel.guild_id].members.get(user.id)
                event["guild_id"] = str(channel.guild_id)
                if member is not None:
                    event["member"] = member.to_payload(with_user=False)
            await self.dispatch("MESSAGE_CREATE", event)
        return record.payload

    async def forward_message(
        self, channel: Channel, user: User, source: dict[str, Any], *, dispatch: bool = True
    ) -> dict[str, Any]:
        """`user` forwards the message `source` into `channel`, as Discord builds a forward: a
        message with no content or attachments of its own, flag HAS_SNAPSHOT (1 << 14), a
        `message_reference` of type FORWARD (1) and the source's content in `message_snapshots`."""
        record = self.factory.create(
            channel_id=channel.id, author=user, message={}, files=[], flags=FORWARD_HAS_SNAPSHOT,
            extra={
                "message_reference": {
                    "type": 1, "channel_id": source["channel_id"], "message_id": source["id"],
                    **({"guild_id": str(channel.guild_id)} if channel.guild_id else {}),
                },
                "message_snapshots": [{"message": {
                    key: copy.deepcopy(source.get(key, default)) for key, default in FORWARDED_FIELDS.items()
                }}],
            },
        )  # fmt: skip
        self.store_message(record)
        if dispatch and self.sessions:
            event = dict(record.payload)
            if channel.guild_id is not None:
                event["guild_id"] = str(channel.guild_id)
            await self.dispatch("MESSAGE_CREATE", event)
        return record.payload

    def channel_messages(self, channel: Channel | int) -> list[dict[str, Any]]:
        cid = channel.id if isinstance(channel, Channel) else int(channel)
        return self.channels[cid].live_messages()

    def attachment_bytes(self, attachment: dict[str, Any]) -> bytes:
        stored = self.store.get(int(attachment["id"]))
        if stored is None:
            raise KeyError(attachment["id"])
        return stored.data

    def all_outgoing_text(self) -> list[str]:
        """Every string the bot ever sent: request bodies (content, embeds, modals, filenames), text
        files it uploaded (a CSV report), audit-log reasons and query strings."""
        return list(self._outgoing)

    def forget_outgoing(self) -> None:
        """Drop what was recorded so far (the secret scanner's own test plants secrets on purpose)."""
        self._outgoing.clear()

    def sent_text(self) -> str:
        """Visible text of every message currently posted by the bot (channels and interactions)."""
        parts = []
        for rec in self.messages.values():
            if not rec.deleted and rec.payload["author"]["id"] == str(self.bot_user.id):
                parts.extend(message_text(rec.payload))
        return "\n".join(parts)

    # -- gateway -----------------------------------------------------------------------------
    async def wait_until_ready(self, timeout: float = 10.0) -> None:
        """The bot identified and got READY and every GUILD_CREATE."""
        await asyncio.wait_for(self.ready_event.wait(), timeout)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        if not self.sessions:
            raise RuntimeError(f"cannot dispatch {event}: no bot is connected to the gateway")
        for session in list(self.sessions):
            await session.send(gateway_ws.DISPATCH, data, event)

    async def _handle_gateway(self, request: web.Request) -> web.WebSocketResponse:
        return await gateway_ws.handle_gateway(self, request)

    # -- interactions ------------------------------------------------------------------------
    def new_interaction_token(self) -> str:
        return make_interaction_token()

    async def _dispatch_interaction(
        self, payload: dict[str, Any], source: MessageRecord | None = None
    ) -> InteractionHandle:
        guild = self.guilds.get(int(payload["guild_id"])) if payload.get("guild_id") else None
        limit = guild.attachment_size_limit if guild else self.dm_attachment_size_limit
        handle = InteractionHandle(payload, self.store, attachment_size_limit=limit)
        handle.source_message = source
        self.interactions.append(handle)
        self.interactions_by_id[handle.id] = handle
        self.interactions_by_token[handle.token] = handle
        handle.dispatched_at = self.loop_time()
        await self.dispatch("INTERACTION_CREATE", payload)
        return handle

    def _where(
        self, user: User, guild: Guild | None, channel: Channel | None
    ) -> tuple[Guild | None, Channel]:
        if channel is None:
            if guild is None:
                channel = self.dm_channel(user)
            else:
                channel = next(iter(guild.channels.values()), None) or self.add_channel(guild)
        if guild is None and channel.guild_id is not None:
            guild = self.guilds[channel.guild_id]
        return guild, channel

    async def invoke_command(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        user: User,
        guild: Guild | None = None,
        channel: Channel | None = None,
        locale: str = "en-US",
        attachments: Sequence[AttachmentSpec] = (),
        subcommand: str | None = None,
        command_type: int = 1,
        unchecked: bool = False,
    ) -> InteractionHandle:
        """A user runs /name: INTERACTION_CREATE type 2, ids and option types from the synced command.
        `unchecked=True` sends values outside the options' min/max and choices (a crafted client)."""
        guild, channel = self._where(user, guild, channel)
        command = self.commands.find(name, guild_id=guild.id if guild else None, command_type=command_type)
        if command is None:
            raise LookupError(
                f"command {name!r} (type {command_type}) is not registered; synced: "
                f"{ {s: [c['name'] for c in cs] for s, cs in self.commands.registered.items()} }"
            )
        payload = base_payload(
            self, APPLICATION_COMMAND, user=user, guild=guild, channel=channel, locale=locale
        )
        payload["data"] = command_data(
            self,
            command,
            options or {},
            guild=guild,
            channel=channel,
            attachments=attachments,
            subcommand=subcommand,
            unchecked=unchecked,
        )
        return await self._dispatch_interaction(payload)

    async def invoke_message_command(
        self,
        name: str,
        target_message: dict[str, Any],
        *,
        user: User,
        guild: Guild | None = None,
        channel: Channel | None = None,
        locale: str = "en-US",
    ) -> InteractionHandle:
        """A user picks Apps -> name on target_message (type 2 interaction, data.type 3)."""
        if channel is None:
            channel = self.channels[int(target_message["channel_id"])]
        guild, channel = self._where(user, guild, channel)
        command = self.commands.find(name, guild_id=guild.id if guild else None, command_type=3)
        if command is None:
            raise LookupError(f"message command {name!r} is not registered")
        payload = base_payload(
            self, APPLICATION_COMMAND, user=user, guild=guild, channel=channel, locale=locale
        )
        payload["data"] = message_command_data(command, target_message)
        return await self._dispatch_interaction(payload)

    async def invoke_autocomplete(
        self,
        name: str,
        options: dict[str, Any],
        focused: str,
        *,
        user: User,
        guild: Guild | None = None,
        channel: Channel | None = None,
        locale: str = "en-US",
        attachments: Sequence[AttachmentSpec] = (),
        subcommand: str | None = None,
    ) -> InteractionHandle:
        """A user types in the option `focused` of /name (type 4 interaction), the other options
        as filled so far; `handle.autocomplete_choices` holds the bot's answer."""
        guild, channel = self._where(user, guild, channel)
        command = self.commands.find(name, guild_id=guild.id if guild else None)
        if command is None:
            raise LookupError(f"command {name!r} is not registered")
        payload = base_payload(self, AUTOCOMPLETE, user=user, guild=guild, channel=channel, locale=locale)
        payload["data"] = autocomplete_data(
            self, command, options, focused, guild=guild, channel=channel, attachments=attachments,
            subcommand=subcommand,
        )  # fmt: skip
        return await self._dispatch_interaction(payload)

    async def click_button(
        self,
        message: dict[str, Any],
        custom_id: str,
        *,
        user: User,
        locale: str = "en-US",
        component_type: int = 2,
        values: Sequence[str] | None = None,
    ) -> InteractionHandle:
        """A user clicks a component on ``message`` (type 3 MESSAGE_COMPONENT with the message object)."""
        record = self.messages.get(int(message["id"]))
        if record is None or record.deleted:
            raise LookupError(f"message {message['id']} does not exist (or was deleted)")
        if custom_id not in _component_ids(record.payload.get("components") or []):
            raise LookupError(f"message {message['id']} has no component {custom_id!r}")
        channel = self.channels.get(record.channel_id)
        if channel is None:
            raise LookupError(f"channel {record.channel_id} unknown")
        guild, channel = self._where(user, None, channel)
        payload = base_payload(
            self, MESSAGE_COMPONENT, user=user, guild=guild, channel=channel, locale=locale
        )
        payload["message"] = record.payload
        payload["data"] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            payload["data"]["values"] = list(values)
        return await self._dispatch_interaction(payload, source=record)

    async def submit_modal(
        self,
        custom_id: str,
        values: dict[str, Any],
        *,
        user: User,
        guild: Guild | None = None,
        channel: Channel | None = None,
        locale: str = "en-US",
        from_interaction: InteractionHandle | None = None,
    ) -> InteractionHandle:
        """A user submits the modal ``custom_id`` (type 5); components mirror the modal the bot showed."""
        shown = from_interaction
        if shown is None:
            shown = next(
                (h for h in reversed(self.interactions) if h.modal and h.modal.get("custom_id") == custom_id),
                None,
            )
        modal = shown.modal if shown is not None else None
        if channel is None and shown is not None and shown.channel_id:
            channel = self.channels.get(shown.channel_id)
        guild, channel = self._where(user, guild, channel)
        payload = base_payload(self, MODAL_SUBMIT, user=user, guild=guild, channel=channel, locale=locale)
        payload["data"] = {"custom_id": custom_id, "components": modal_components(modal, values)}
        source = shown.source_message if shown is not None else None
        if source is not None:
            payload["message"] = source.payload
        return await self._dispatch_interaction(payload, source=source)

    # -- faults --------------------------------------------------------------------------------
    def fail_next(
        self,
        count: int = 1,
        *,
        status: int | None = 500,
        method: str | None = None,
        path: str | None = None,
        uploads_only: bool = False,
        retry_after: float = 0.05,
        is_global: bool = False,
        body: dict[str, Any] | None = None,
    ) -> Fault:
        """Fail the next ``count`` requests matching method and ``path`` (a regex searched in the
        /api/v10-relative path) with ``status`` (None: hold them, see `hold_next`)."""
        return self.faults.add(
            Fault(
                status=status,
                remaining=count,
                method=method.upper() if method else None,
                path_regex=re.compile(path) if path else None,
                uploads_only=uploads_only,
                retry_after=retry_after,
                is_global=is_global,
                body=body,
            )
        )

    def drop_next(self, count: int = 1, *, method: str | None = None, path: str | None = None) -> Fault:
        """Close the connection of the next ``count`` matching requests without answering: the
        client sees a disconnect (aiohttp's ServerDisconnectedError), not an HTTP status."""
        fault = self.fail_next(count, status=None, method=method, path=path)
        fault.drop = True
        return fault

    def hold_next(self, count: int = 1, *, method: str | None = None, path: str | None = None) -> Fault:
        """Hold the next ``count`` matching requests unanswered until ``fault.release()``; they are
        then served as usual (a slow Discord, under the test's control)."""
        return self.fail_next(count, status=None, method=method, path=path)

    def rate_limit_next(
        self,
        count: int = 1,
        *,
        retry_after: float = 0.05,
        method: str | None = None,
        path: str | None = None,
        is_global: bool = False,
    ) -> Fault:
        return self.fail_next(
            count, status=429, method=method, path=path, retry_after=retry_after, is_global=is_global
        )

    def fail_uploads(self, count: int = 1, *, status: int = 500, path: str | None = None) -> Fault:
        """Channel/webhook/callback requests that carry files fail with ``status``."""
        return self.fail_next(count, status=status, path=path, uploads_only=True)

    # -- REST dispatch ------------------------------------------------------------------------
    async def _handle_rest(self, request: web.Request) -> web.Response:
        path = request.path[len(API_PREFIX) :] or "/"
        method = request.method.upper()
        body = await read_body(request)
        response = await self._serve(method, path, request, body)
        files = [(f.filename, len(f.data)) for f in body.files]
        entry = LoggedRequest(method, path, response.status, body.json, files)
        self.requests.append(entry)
        if response.status == 404 and getattr(response, "_double_unhandled", False):
            self.unhandled.append(entry)
        return response

    async def _serve(self, method: str, path: str, request: web.Request, body: Body) -> web.Response:
        matched = router.match(method, path)
        authorized = self._authorized(request)
        if (matched is None or matched[0].needs_bot_auth) and not authorized:
            return responses.unauthorized()
        if (body.json is not None and authorized) or (matched is not None and not matched[0].needs_bot_auth):
            self._outgoing.extend(strings_in(body.json))
            self._outgoing.extend(f.filename for f in body.files)
            self._outgoing.extend(f.data.decode("utf-8", "replace") for f in body.files if _is_text(f))
            self._outgoing.extend(unquote(v) for k, v in request.headers.items() if k.lower() == "x-audit-log-reason")
            if request.query_string:
                self._outgoing.append(unquote(request.query_string))
        try:
            injected = await self.faults.take(method, path, bool(body.files))
        except ConnectionDropped:
            request.transport.abort()  # type: ignore[union-attr]
            return web.Response(status=499)  # never sent: the connection is gone
        if injected is not None:
            return injected
        if matched is None:
            log.info("unimplemented Discord route %s %s", method, path)
            resp = responses.not_found()
            resp._double_unhandled = True  # type: ignore[attr-defined]
            return resp
        route, params = matched
        if body.kind == "invalid":
            return responses.error(400, 50109, "The request body contains invalid JSON.")
        if method in ("POST", "PATCH") and _MESSAGE_BEARING.match(path):
            # Discord's hard limits answer first (and are not counted as spec violations).
            message = (
                body.json.get("data")
                if path.endswith("/callback") and isinstance(body.json, dict)
                else body.json
            )
            inter = self._interaction_for(params)
            limit = inter.attachment_size_limit if inter is not None else self._channel_size_limit(params)
            problem = check_limits(message if isinstance(message, dict) else None, body.files, limit)
            if problem is not None:
                error_body = json.loads(problem.body)  # type: ignore[arg-type]
                self.limit_rejections.append(
                    {"method": method, "path": path, "status": problem.status, "body": error_body}
                )
                if inter is not None:
                    inter.record(
                        InteractionEvent(
                            "rejected", request=body.json, status=problem.status, error=error_body
                        )
                    )
                return problem
        violation_response = self._validate(method, path, body)
        if violation_response is not None:
            return violation_response
        req = RestRequest(method, path, params, body, dict(request.query), request, authorized)
        try:
            return await route.handler(self, req)
        except Exception as exc:  # a bug in the double: make it loud for the test, answer like a 500
            log.exception("discord double failed on %s %s", method, path)
            self.internal_errors.append({"method": method, "path": path, "error": repr(exc)})
            return responses.error(500, 0, "500: Internal Server Error")

    def _interaction_for(self, params: dict[str, str]) -> InteractionHandle | None:
        if params.get("interaction_id", "").isdigit():
            return self.interactions_by_id.get(int(params["interaction_id"]))
        if "webhook_token" in params:
            return self.interactions_by_token.get(params["webhook_token"])
        return None

    def _channel_size_limit(self, params: dict[str, str]) -> int:
        channel = (
            self.channels.get(int(params["channel_id"])) if params.get("channel_id", "").isdigit() else None
        )
        if channel is not None and channel.guild_id is not None:
            return self.guilds[channel.guild_id].attachment_size_limit
        return self.dm_attachment_size_limit

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        return header.startswith("Bot ") and self.check_token(header[4:])

    def _validate(self, method: str, path: str, body: Body) -> web.Response | None:
        if self.spec is None or body.json is None:
            return None
        op, violation = self.spec.validate(method, path, body.json)
        if violation is None:
            return None
        self.spec_violations.append(
            {
                "method": method,
                "path": path,
                "operation": op.operation_id if op else None,
                "error": violation.message,
                "at": violation.path,
            }
        )
        return responses.invalid_form_body(
            responses.field_errors(violation.path, "SPEC_VIOLATION", violation.message)
        )


def _component_ids(components: Sequence[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for comp in components:
        if comp.get("custom_id"):
            out.append(comp["custom_id"])
        out.extend(_component_ids(comp.get("components") or []))
        if isinstance(comp.get("accessory"), dict):
            out.extend(_component_ids([comp["accessory"]]))
    return out


def _is_text(file: UploadedFile) -> bool:
    """A file whose bytes are text the bot wrote (a CSV report, a prompt), scanned like content."""
    return file.content_type.startswith("text/") or file.filename.lower().endswith((".csv", ".txt", ".json"))
