"""The gateway websocket: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeats, RESUME, dispatches."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from .server import DiscordDouble

log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, INVALID_SESSION, HELLO, HEARTBEAT_ACK = (
    0,
    1,
    2,
    6,
    7,
    9,
    10,
    11,
)
GUILDS_INTENT, GUILD_MEMBERS_INTENT = 1 << 0, 1 << 1
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)


class GatewaySession:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.seq = 0
        self.session_id = secrets.token_hex(16)
        self.intents = 0
        self.identified = False
        self.heartbeats = 0

    async def send(self, op: int, data: Any, event: str | None = None) -> None:
        frame: dict[str, Any] = {"op": op, "d": data, "s": None, "t": None}
        if op == DISPATCH:
            self.seq += 1
            frame.update(s=self.seq, t=event)
        await self.ws.send_str(
            json.dumps(frame)
        )  # text frames: discord.py accepts them even with zlib-stream


async def handle_gateway(dd: DiscordDouble, request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=0)
    await ws.prepare(request)
    session = GatewaySession(ws)
    dd.gateway_connections += 1
    dd.gateway_query = dict(request.query)
    await session.send(HELLO, {"heartbeat_interval": dd.heartbeat_interval_ms, "_trace": ['["double"]']})
    try:
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                if msg.type is WSMsgType.BINARY:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                continue
            try:
                frame = json.loads(msg.data)
            except ValueError:
                await ws.close(code=4002, message=b"Error while decoding payload.")
                break
            await _on_frame(dd, session, frame)
    finally:
        if session in dd.sessions:
            dd.sessions.remove(session)
        if session.identified and session not in dd.past_sessions:
            dd.past_sessions.append(session)
    return ws


async def _on_frame(dd: DiscordDouble, session: GatewaySession, frame: dict[str, Any]) -> None:
    op, data = frame.get("op"), frame.get("d")
    if op == HEARTBEAT:
        session.heartbeats += 1
        await session.send(HEARTBEAT_ACK, None)
    elif op == IDENTIFY:
        await _identify(dd, session, data or {})
    elif op == RESUME:
        await _resume(dd, session, data or {})
    else:
        log.debug("gateway op %s ignored", op)  # presence updates, member requests, voice state


async def _identify(dd: DiscordDouble, session: GatewaySession, data: dict[str, Any]) -> None:
    if session.identified:
        await session.ws.close(code=4005, message=b"Already authenticated.")
        return
    if not dd.check_token(str(data.get("token", "")).removeprefix("Bot ")):
        await session.ws.close(code=4004, message=b"Authentication failed.")
        return
    intents = int(data.get("intents", 0))
    if intents & PRIVILEGED_INTENTS & ~dd.privileged_intents:
        await session.ws.close(code=4014, message=b"Disallowed intent(s).")
        return
    dd.identify_payloads.append({k: v for k, v in data.items() if k != "token"} | {"token": "<redacted>"})
    session.intents, session.identified = intents, True
    dd.sessions.append(session)
    ready = {
        "v": 10,
        "user": {**dd.bot_user.to_payload(), "verified": True, "mfa_enabled": False, "flags": 0},
        "guilds": [{"id": str(g.id), "unavailable": True} for g in dd.guilds.values()],
        "session_id": session.session_id,
        "session_type": "normal",
        "resume_gateway_url": dd.gateway_url,
        "application": {"id": str(dd.application_id), "flags": dd.application_flags},
        "private_channels": [],
        "relationships": [],
        "presences": [],
        "guild_join_requests": [],
        "geo_ordered_rtc_regions": ["double"],
        "user_settings": {},
        "_trace": ['["double"]'],
    }
    if data.get("shard"):
        ready["shard"] = data["shard"]
    await session.send(DISPATCH, ready, "READY")
    if intents & GUILDS_INTENT:
        all_members = bool(intents & GUILD_MEMBERS_INTENT)
        for guild in dd.guilds.values():
            payload = guild.gateway_payload(include_all_members=all_members, bot_id=dd.bot_user.id)
            await session.send(DISPATCH, payload, "GUILD_CREATE")
    dd.ready_event.set()


async def _resume(dd: DiscordDouble, session: GatewaySession, data: dict[str, Any]) -> None:
    if not dd.check_token(str(data.get("token", "")).removeprefix("Bot ")):
        await session.ws.close(code=4004, message=b"Authentication failed.")
        return
    previous = next((s for s in dd.past_sessions if s.session_id == data.get("session_id")), None)
    if previous is None:
        await session.send(INVALID_SESSION, False)
        return
    session.session_id, session.seq, session.intents = (
        previous.session_id,
        int(data.get("seq") or 0),
        previous.intents,
    )
    session.identified = True
    dd.sessions.append(session)
    await session.send(DISPATCH, {"_trace": ['["double"]']}, "RESUMED")


async def close_all(dd: DiscordDouble, code: int = 1001) -> None:
    for session in list(dd.sessions):
        dd.past_sessions.append(session)
        await asyncio.shield(session.ws.close(code=code, message=b"double closing"))
    dd.sessions.clear()
