"""Fault injection: the next N matching requests answer 429 / 5xx / any error instead of being
served, or are held until the test releases them and then served as usual."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import responses


@dataclass
class Fault:
    status: int | None  # None: served as usual once the gate opens
    remaining: int
    method: str | None = None
    path_regex: re.Pattern[str] | None = None
    uploads_only: bool = False
    retry_after: float = 0.05
    is_global: bool = False
    body: dict[str, Any] | None = None
    drop: bool = False  # close the connection without an answer (a proxy or a network failure)
    hits: int = 0
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        """Let held requests through (they are then served as usual)."""
        self.gate.set()

    def matches(self, method: str, path: str, has_files: bool) -> bool:
        if self.remaining <= 0:
            return False
        if self.method is not None and self.method != method.upper():
            return False
        if self.path_regex is not None and not self.path_regex.search(path):
            return False
        return has_files or not self.uploads_only

    def response(self) -> web.Response:
        if self.status == 429:
            return responses.rate_limited(self.retry_after, is_global=self.is_global)
        if self.body is not None:
            return responses.json_response(self.body, status=self.status)
        if self.status >= 500:
            return responses.error(
                self.status, 0, "500: Internal Server Error" if self.status == 500 else "Server Error"
            )
        return responses.error(self.status, 0, f"{self.status}: Injected failure")


class ConnectionDropped(Exception):
    """Raised by `FaultInjector.take` for a `drop` fault: the server closes the connection."""


class FaultInjector:
    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    async def take(self, method: str, path: str, has_files: bool) -> web.Response | None:
        """The injected answer for this request, or None to serve it (after a hold, if any)."""
        for fault in self.faults:
            if fault.matches(method, path, has_files):
                fault.remaining -= 1
                fault.hits += 1
                if fault.drop:
                    raise ConnectionDropped
                if fault.status is None:
                    await fault.gate.wait()
                    return None
                return fault.response()
        return None

    def clear(self) -> None:
        for fault in self.faults:
            fault.release()  # nothing stays held
        self.faults.clear()
