"""Logging for the bot: one handler, and no secret ever reaches a log line."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterable

from image_gateway.errors import replace_secrets

REDACTED = "[redacted]"
# Control characters (a line break, a terminal escape, a bidi override) in a record's own line are
# shown as escapes: a prompt or a gateway's text could otherwise start a forged log line, or move
# the cursor and overwrite one. A traceback keeps its lines.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then removes every secret (messages, arguments and tracebacks alike)."""

    def __init__(self, secrets: Iterable[str], fmt: str | None = None) -> None:
        super().__init__(fmt or "%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self._secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)

    def formatMessage(self, record: logging.LogRecord) -> str:
        return _CONTROL.sub(_escaped, super().formatMessage(record))


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret, and every long enough piece of one, replaced (`replace_secrets`)."""
    return replace_secrets(text, secrets, REDACTED)


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


class _ReconnectAttempts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("Attempting a reconnect"))


def hide_reconnects_until_ready() -> Callable[[], None]:
    """Drop discord.py's "Attempting a reconnect" (an ERROR with the failure's tracebacks) until
    the bot's first READY, and return what shows them again (call it on ready; twice is harmless).

    At start a websocket gateway that does not answer is told in one line (`bot.DiscordUnreachable`),
    not after discord.py's traceback; once the bot has been up, a reconnect is worth the log."""
    logger = logging.getLogger("discord.client")
    hide = _ReconnectAttempts()
    logger.addFilter(hide)
    return lambda: logger.removeFilter(hide)
