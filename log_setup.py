"""Logging for the bot: one handler, and no secret ever reaches a log line."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

REDACTED = "[redacted]"


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then removes every secret (messages, arguments and tracebacks alike)."""

    def __init__(self, secrets: Iterable[str], fmt: str | None = None) -> None:
        super().__init__(fmt or "%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self._secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)


MIN_SECRET_LENGTH = 4  # shorter values are placeholders, and replacing them would garble text


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced (longest first, so overlapping secrets go whole)."""
    for secret in sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def setup_logging(level: str, secrets: Iterable[str]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # At DEBUG discord.py echoes request data, interaction URLs and gateway events: an interaction's
    # token answers as the bot for 15 minutes, so these stay at INFO whatever LOG_LEVEL says.
    for chatty in ("discord.http", "discord.webhook.async_", "discord.gateway"):
        logging.getLogger(chatty).setLevel(max(logging.INFO, root.level))
