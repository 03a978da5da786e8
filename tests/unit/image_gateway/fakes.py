"""Replies of a small in-process image gateway (see conftest.py) for the client tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from image_gateway.client import ImageClient

API_KEY = "sk-test-KEY-0123456789abcdef"
Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_reply(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    async def reply(_: web.Request) -> web.StreamResponse:
        return web.json_response(payload, status=status, headers=headers)

    return reply


def text_reply(text: str, status: int = 200, content_type: str = "text/html") -> Reply:
    async def reply(_: web.Request) -> web.StreamResponse:
        return web.Response(text=text, status=status, content_type=content_type)

    return reply


def error_reply(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    return json_reply({"error": {"code": code, "message": message, "type": "x"}}, status, headers)


def sse_reply(chunks: list[bytes], *, reset: bool = False) -> Reply:
    """Write the chunks one by one (each flushed), optionally dropping the connection afterwards."""

    async def reply(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for chunk in chunks:
            await resp.write(chunk)
            await asyncio.sleep(0)
        if reset:
            assert request.transport is not None
            request.transport.abort()
            return resp
        await resp.write_eof()
        return resp

    return reply


def truncated_json_reply() -> Reply:
    async def reply(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": "1000"})
        await resp.prepare(request)
        await resp.write(b'{"data": [{"url": "https://x')
        assert request.transport is not None
        request.transport.abort()
        return resp

    return reply


def slow_sse_reply(chunks: list[bytes], *, gap: float, then_hang: float = 0.0) -> Reply:
    """Write the chunks `gap` seconds apart; optionally stay silent `then_hang` seconds before the end."""

    async def reply(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for chunk in chunks:
            await asyncio.sleep(gap)
            await resp.write(chunk)
        await asyncio.sleep(then_hang)
        await resp.write_eof()
        return resp

    return reply


def reset_reply() -> Reply:
    """Drop the connection before any answer (a reset before the response)."""

    async def reply(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.abort()
        return web.Response()

    return reply


def delayed(inner: Reply, seconds: float) -> Reply:
    async def reply(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return await inner(request)

    return reply


def hang_reply(seconds: float = 5.0) -> Reply:
    async def reply(_: web.Request) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return web.json_response({})

    return reply


class FakeGateway:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.base_url = ""

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    async def generations(self, request: web.Request) -> web.StreamResponse:
        self.bodies.append(json.loads(await request.read()))
        self.headers.append(dict(request.headers))
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return await reply(request)

    async def models(self, request: web.Request) -> web.StreamResponse:
        self.headers.append(dict(request.headers))
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return await reply(request)


class Sleeps(list):
    """A fake asyncio.sleep that records the delays."""

    async def __call__(self, delay: float) -> None:
        self.append(delay)


async def collect(client: ImageClient, req) -> list:
    return [event async for event in client.events(req)]
