"""A tiny router for the REST surface: templates like /channels/{channel_id}/messages."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .bodies import Body

if TYPE_CHECKING:
    from .server import DiscordDouble


@dataclass
class RestRequest:
    method: str
    path: str  # relative to /api/v10
    params: dict[str, str]
    body: Body
    query: dict[str, str]
    raw: web.Request
    bot_authorized: bool = False

    @property
    def json(self) -> Any:
        return self.body.json

    @property
    def message(self) -> dict[str, Any]:
        return self.body.json if isinstance(self.body.json, dict) else {}

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("1", "true")


Handler = Callable[["DiscordDouble", RestRequest], Awaitable[web.Response]]


@dataclass
class Route:
    method: str
    template: str
    handler: Handler
    needs_bot_auth: bool
    regex: re.Pattern[str] = field(init=False)
    literal_segments: int = field(init=False)

    def __post_init__(self) -> None:
        parts, literals = [], 0
        for seg in self.template.strip("/").split("/"):
            if seg.startswith("{") and seg.endswith("}"):
                parts.append(f"(?P<{seg[1:-1]}>[^/]+)")
            else:
                parts.append(re.escape(seg))
                literals += 1
        self.regex = re.compile("^/" + "/".join(parts) + "$")
        self.literal_segments = literals


class Router:
    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, template: str, *, bot_auth: bool = True) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._routes.append(Route(method, template, handler, bot_auth))
            self._routes.sort(key=lambda r: -r.literal_segments)
            return handler

        return register

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self._routes:
            if route.method == method:
                m = route.regex.match(path)
                if m:
                    return route, m.groupdict()
        return None


router = Router()
