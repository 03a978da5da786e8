"""REST routes for users, the application, the gateway, commands, guilds and channels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import responses
from .messages import check_limits, is_empty, pinged_user_ids
from .model import (
    ATTACH_FILES,
    DM,
    GUILD_FORUM,
    MANAGE_THREADS,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    VIEW_CHANNEL,
    Channel,
)
from .routing import RestRequest, router

if TYPE_CHECKING:
    from .server import DiscordDouble

UNKNOWN_CHANNEL, UNKNOWN_GUILD, UNKNOWN_MEMBER, UNKNOWN_MESSAGE, UNKNOWN_USER = (
    10003,
    10004,
    10007,
    10008,
    10013,
)
UNKNOWN_COMMAND, UNKNOWN_ROLE = 10063, 10011
MISSING_ACCESS, MISSING_PERMISSIONS, NON_TEXT_CHANNEL, THREAD_LOCKED = 50001, 50013, 50008, 160005


# -- identity -----------------------------------------------------------------------------
@router.add("GET", "/users/@me")
async def get_me(dd: DiscordDouble, req: RestRequest) -> web.Response:
    return responses.json_response(
        {**dd.bot_user.to_payload(), "verified": True, "mfa_enabled": False, "flags": 0}
    )


@router.add("GET", "/users/{user_id}")
async def get_user(dd: DiscordDouble, req: RestRequest) -> web.Response:
    user = dd.users.get(int(req.params["user_id"])) if req.params["user_id"].isdigit() else None
    return responses.json_response(user.to_payload()) if user else responses.unknown("User", UNKNOWN_USER)


@router.add("GET", "/oauth2/applications/@me")
@router.add("GET", "/applications/@me")
async def get_application(dd: DiscordDouble, req: RestRequest) -> web.Response:
    return responses.json_response(dd.application_payload())


@router.add("GET", "/gateway")
async def get_gateway(dd: DiscordDouble, req: RestRequest) -> web.Response:
    return responses.json_response({"url": dd.gateway_url})


@router.add("GET", "/gateway/bot")
async def get_gateway_bot(dd: DiscordDouble, req: RestRequest) -> web.Response:
    limit = {"total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": 1}
    return responses.json_response({"url": dd.gateway_url, "shards": 1, "session_start_limit": limit})


@router.add("POST", "/users/@me/channels")
async def create_dm(dd: DiscordDouble, req: RestRequest) -> web.Response:
    recipient = dd.users.get(int(req.message.get("recipient_id", 0) or 0))
    if recipient is None:
        return responses.unknown("User", UNKNOWN_USER)
    return responses.json_response(dd.dm_channel(recipient).to_payload())


# -- application commands -------------------------------------------------------------------
def _scope(dd: DiscordDouble, req: RestRequest) -> tuple[int | None, web.Response | None]:
    if req.params["application_id"] != str(dd.application_id):
        return None, responses.error(403, 50001, "Missing Access")
    guild_id = req.params.get("guild_id")
    if guild_id is None:
        return None, None
    if not guild_id.isdigit() or int(guild_id) not in dd.guilds:
        return None, responses.error(403, 50001, "Missing Access")
    return int(guild_id), None


@router.add("GET", "/applications/{application_id}/commands")
@router.add("GET", "/applications/{application_id}/guilds/{guild_id}/commands")
async def list_commands(dd: DiscordDouble, req: RestRequest) -> web.Response:
    scope, err = _scope(dd, req)
    return err or responses.json_response(dd.commands.list(scope, with_localizations=req.flag("with_localizations")))


@router.add("PUT", "/applications/{application_id}/commands")
@router.add("PUT", "/applications/{application_id}/guilds/{guild_id}/commands")
async def bulk_overwrite_commands(dd: DiscordDouble, req: RestRequest) -> web.Response:
    scope, err = _scope(dd, req)
    return err or responses.json_response(dd.commands.bulk_overwrite(scope, req.json))


@router.add("POST", "/applications/{application_id}/commands")
@router.add("POST", "/applications/{application_id}/guilds/{guild_id}/commands")
async def create_command(dd: DiscordDouble, req: RestRequest) -> web.Response:
    scope, err = _scope(dd, req)
    return err or responses.json_response(dd.commands.upsert(scope, req.message), status=201)


@router.add("GET", "/applications/{application_id}/commands/{command_id}")
@router.add("GET", "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}")
async def get_command(dd: DiscordDouble, req: RestRequest) -> web.Response:
    scope, err = _scope(dd, req)
    if err:
        return err
    cmd = dd.commands.get(scope, req.params["command_id"])
    return responses.json_response(cmd) if cmd else responses.unknown("application command", UNKNOWN_COMMAND)


@router.add("PATCH", "/applications/{application_id}/commands/{command_id}")
@router.add("PATCH", "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}")
async def edit_command(dd: DiscordDouble, req: RestRequest) -> web.Response:
    scope, err = _scope(dd, req)
    if err:
        return err
    cmd = dd.commands.edit(scope, req.params["command_id"], req.message)
    return responses.json_response(cmd) if cmd else responses.unknown("application command", UNKNOWN_COMMAND)


@router.add("DELETE", "/applications/{application_id}/commands/{command_id}")
@router.add("DELETE", "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}")
async def delete_command(dd: DiscordDouble, req: RestRequest) -> web.Response:
    scope, err = _scope(dd, req)
    if err:
        return err
    if dd.commands.delete(scope, req.params["command_id"]):
        return responses.no_content()
    return responses.unknown("application command", UNKNOWN_COMMAND)


# -- guilds ---------------------------------------------------------------------------------
def _guild(dd: DiscordDouble, req: RestRequest):
    gid = req.params["guild_id"]
    return dd.guilds.get(int(gid)) if gid.isdigit() else None


@router.add("GET", "/guilds/{guild_id}")
async def get_guild(dd: DiscordDouble, req: RestRequest) -> web.Response:
    guild = _guild(dd, req)
    if guild is None:
        return responses.unknown("Guild", UNKNOWN_GUILD)
    data = guild.base_payload()
    if req.flag("with_counts"):
        data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
    return responses.json_response(data)


@router.add("GET", "/guilds/{guild_id}/channels")
async def get_guild_channels(dd: DiscordDouble, req: RestRequest) -> web.Response:
    guild = _guild(dd, req)
    if guild is None:
        return responses.unknown("Guild", UNKNOWN_GUILD)
    return responses.json_response([c.to_payload() for c in guild.channels.values()])


@router.add("GET", "/guilds/{guild_id}/roles")
async def get_guild_roles(dd: DiscordDouble, req: RestRequest) -> web.Response:
    guild = _guild(dd, req)
    if guild is None:
        return responses.unknown("Guild", UNKNOWN_GUILD)
    return responses.json_response([r.to_payload() for r in guild.roles.values()])


@router.add("GET", "/guilds/{guild_id}/roles/{role_id}")
async def get_guild_role(dd: DiscordDouble, req: RestRequest) -> web.Response:
    guild = _guild(dd, req)
    if guild is None:
        return responses.unknown("Guild", UNKNOWN_GUILD)
    role = guild.roles.get(int(req.params["role_id"])) if req.params["role_id"].isdigit() else None
    return responses.json_response(role.to_payload()) if role else responses.unknown("Role", UNKNOWN_ROLE)


@router.add("GET", "/guilds/{guild_id}/members")
async def list_members(dd: DiscordDouble, req: RestRequest) -> web.Response:
    guild = _guild(dd, req)
    if guild is None:
        return responses.unknown("Guild", UNKNOWN_GUILD)
    limit = int(req.query.get("limit", "1") or 1)
    after = int(req.query.get("after", "0") or 0)
    members = sorted((m for m in guild.members.values() if m.user.id > after), key=lambda m: m.user.id)
    return responses.json_response([m.to_payload() for m in members[:limit]])


@router.add("GET", "/guilds/{guild_id}/members/{user_id}")
async def get_member(dd: DiscordDouble, req: RestRequest) -> web.Response:
    guild = _guild(dd, req)
    if guild is None:
        return responses.unknown("Guild", UNKNOWN_GUILD)
    uid = req.params["user_id"]
    member = guild.members.get(int(uid)) if uid.isdigit() else None
    return (
        responses.json_response(member.to_payload())
        if member
        else responses.unknown("Member", UNKNOWN_MEMBER)
    )


# -- channels and their messages -------------------------------------------------------------
# Every /channels/{id}/... route answers as Discord does for the bot: 404 Unknown Channel for a
# channel that does not exist, then 403 Missing Access (50001) where the bot cannot see it (no
# View Channel there; for a thread, in its parent; for a private thread, not a member of it and
# no Manage Threads). Interaction callbacks and the interaction webhook need no channel permission.
def _channel(dd: DiscordDouble, req: RestRequest) -> Channel | None:
    cid = req.params["channel_id"]
    return dd.channels.get(int(cid)) if cid.isdigit() else None


def _bot_permissions(dd: DiscordDouble, channel: Channel) -> int | None:
    """The bot's permissions in a guild channel or thread; None in a DM (no permissions apply)."""
    if channel.type == DM or channel.guild_id is None:
        return None
    return dd.guilds[channel.guild_id].permissions_for(dd.bot_user.id, channel)


def _visible_channel(dd: DiscordDouble, req: RestRequest) -> tuple[Channel | None, web.Response | None]:
    channel = _channel(dd, req)
    if channel is None:
        return None, responses.unknown("Channel", UNKNOWN_CHANNEL)
    perms = _bot_permissions(dd, channel)
    if perms is not None and not perms & VIEW_CHANNEL:
        return None, responses.error(403, MISSING_ACCESS, "Missing Access")
    return channel, None


def _refuse_post(dd: DiscordDouble, channel: Channel, has_files: bool) -> web.Response | None:
    """Why Discord refuses the bot's message in `channel` (seen already), or None. In a thread the
    bot needs Send Messages in Threads (not Send Messages), and a locked thread takes posts only
    from those who may manage threads. A forum holds posts (threads), no messages of its own."""
    if channel.type == GUILD_FORUM:
        return responses.error(400, NON_TEXT_CHANNEL, "Cannot send messages in a non-text channel")
    perms = _bot_permissions(dd, channel)
    if perms is None:
        return None
    needed = (SEND_MESSAGES_IN_THREADS if channel.is_thread else SEND_MESSAGES) | (ATTACH_FILES if has_files else 0)
    if perms & needed != needed:
        return responses.error(403, MISSING_PERMISSIONS, "Missing Permissions")
    if channel.is_thread and channel.locked and not perms & MANAGE_THREADS:
        return responses.error(403, THREAD_LOCKED, "Thread is locked")
    return None


@router.add("GET", "/channels/{channel_id}")
async def get_channel(dd: DiscordDouble, req: RestRequest) -> web.Response:
    channel, err = _visible_channel(dd, req)
    return err or responses.json_response(channel.to_payload())  # type: ignore[union-attr]


@router.add("POST", "/channels/{channel_id}/typing")
async def trigger_typing(dd: DiscordDouble, req: RestRequest) -> web.Response:
    _channel_seen, err = _visible_channel(dd, req)
    return err or responses.no_content()


@router.add("POST", "/channels/{channel_id}/messages")
async def create_message(dd: DiscordDouble, req: RestRequest) -> web.Response:
    channel, err = _visible_channel(dd, req)
    if channel is None:
        return err or responses.unknown("Channel", UNKNOWN_CHANNEL)
    files = req.body.files
    refused = _refuse_post(dd, channel, bool(files))
    if refused is not None:
        return refused
    size_limit = (
        dd.guilds[channel.guild_id].attachment_size_limit if channel.guild_id else dd.dm_attachment_size_limit
    )
    problem = check_limits(req.message, files, size_limit)
    if problem is not None:
        return problem
    if is_empty(req.message, files):
        return responses.error(400, 50006, "Cannot send an empty message")
    extra = {}
    ref = req.message.get("message_reference")
    if isinstance(ref, dict) and ref.get("message_id"):
        extra["message_reference"] = {
            "type": 0,
            "channel_id": str(channel.id),
            "message_id": str(ref["message_id"]),
        }
    record = dd.factory.create(
        channel_id=channel.id,
        author=dd.bot_user,
        message=req.message,
        files=files,
        msg_type=19 if extra else 0,
        extra=extra,
    )
    record.payload["mentions"] = [dd.users[u].to_payload() for u in pinged_user_ids(req.message) if u in dd.users]
    dd.store_message(record)
    if channel.is_thread and channel.archived:  # a post reopens an archived (unlocked) thread
        await dd.update_thread(channel, archived=False)
    return responses.json_response(record.payload)


@router.add("GET", "/channels/{channel_id}/messages")
async def list_messages(dd: DiscordDouble, req: RestRequest) -> web.Response:
    channel, err = _visible_channel(dd, req)
    if channel is None:
        return err or responses.unknown("Channel", UNKNOWN_CHANNEL)
    limit = int(req.query.get("limit", "50") or 50)
    return responses.json_response(page_of_messages(channel.live_messages(), req.query, limit))


def page_of_messages(messages: list[dict[str, Any]], query: Any, limit: int) -> list[dict[str, Any]]:
    """One page of a channel's history as Discord serves it, newest first: the `limit` messages
    just before `before`, just after `after`, around `around` (half older, half newer), or the
    latest. `messages` are oldest first."""

    def key(message: dict[str, Any]) -> int:
        return int(message["id"])

    if "after" in query:
        after = int(query["after"])
        return list(reversed([m for m in messages if key(m) > after][:limit]))
    if "around" in query:
        around = int(query["around"])
        older = [m for m in messages if key(m) <= around][-((limit + 1) // 2) :]
        newer = [m for m in messages if key(m) > around][: limit - len(older)]
        return list(reversed(older + newer))
    if "before" in query:
        before = int(query["before"])
        messages = [m for m in messages if key(m) < before]
    return list(reversed(messages))[:limit]


def _message(dd: DiscordDouble, req: RestRequest):
    """The live message of the route's channel, or None (Unknown Message); the channel checked
    first by `_visible_channel`."""
    mid = req.params["message_id"]
    rec = dd.messages.get(int(mid)) if mid.isdigit() else None
    if rec is None or rec.deleted or str(rec.channel_id) != req.params["channel_id"] or rec.ephemeral:
        return None
    return rec


@router.add("GET", "/channels/{channel_id}/messages/{message_id}")
async def get_message(dd: DiscordDouble, req: RestRequest) -> web.Response:
    _seen, err = _visible_channel(dd, req)
    if err is not None:
        return err
    rec = _message(dd, req)
    return responses.json_response(rec.payload) if rec else responses.unknown("Message", UNKNOWN_MESSAGE)


@router.add("PATCH", "/channels/{channel_id}/messages/{message_id}")
async def edit_message(dd: DiscordDouble, req: RestRequest) -> web.Response:
    _seen, err = _visible_channel(dd, req)
    if err is not None:
        return err
    rec = _message(dd, req)
    if rec is None:
        return responses.unknown("Message", UNKNOWN_MESSAGE)
    if rec.payload["author"]["id"] != str(dd.bot_user.id):
        return responses.error(403, 50005, "Cannot edit a message authored by another user")
    channel = dd.channels[rec.channel_id]
    size_limit = (
        dd.guilds[channel.guild_id].attachment_size_limit if channel.guild_id else dd.dm_attachment_size_limit
    )
    problem = check_limits(req.message, req.body.files, size_limit)
    if problem is not None:
        return problem
    dd.factory.edit(rec, req.message, req.body.files)
    return responses.json_response(rec.payload)


@router.add("DELETE", "/channels/{channel_id}/messages/{message_id}")
async def delete_message(dd: DiscordDouble, req: RestRequest) -> web.Response:
    _seen, err = _visible_channel(dd, req)
    if err is not None:
        return err
    rec = _message(dd, req)
    if rec is None:
        return responses.unknown("Message", UNKNOWN_MESSAGE)
    rec.deleted = True
    return responses.no_content()


@router.add("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me")
async def add_reaction(dd: DiscordDouble, req: RestRequest) -> web.Response:
    _seen, err = _visible_channel(dd, req)
    if err is not None:
        return err
    rec = _message(dd, req)
    if rec is None:
        return responses.unknown("Message", UNKNOWN_MESSAGE)
    rec.payload.setdefault("reactions", []).append(
        {"emoji": {"id": None, "name": req.params["emoji"]}, "count": 1, "me": True}
    )
    return responses.no_content()
