"""Snowflakes and secrets shaped like Discord's."""

from __future__ import annotations

import base64
import secrets
import time

DISCORD_EPOCH_MS = 1420070400000


class SnowflakeFactory:
    """Monotonic snowflakes: the top bits are real milliseconds since Discord's epoch."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        if candidate <= self._last:
            candidate = self._last + 1
        self._last = candidate
        return candidate


def make_bot_token(bot_id: int) -> str:
    """A token in the real three-part shape (base64 id . timestamp . hmac)."""
    head = base64.urlsafe_b64encode(str(bot_id).encode()).decode().rstrip("=")
    return f"{head}.{secrets.token_urlsafe(4)}.{secrets.token_urlsafe(27)}"


def make_interaction_token() -> str:
    return "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(96)


def iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000000+00:00"
