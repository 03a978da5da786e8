import logging
import sys

import pytest

from log_setup import RedactingFormatter, hide_reconnects_until_ready, redact, setup_logging


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_debug_logging_keeps_discord_requests_and_gateway_events_out(capsys):
    # At DEBUG discord.py logs interaction callback URLs and gateway events, both with the
    # interaction's token, which answers as the bot for 15 minutes.
    setup_logging("DEBUG", ())
    logging.getLogger("discord.webhook.async_").debug("POST /interactions/1/tok-SECRET/callback")
    logging.getLogger("discord.gateway").debug("WebSocket Event: {'token': 'tok-SECRET'}")
    logging.getLogger("discord.http").debug("PATCH /webhooks/1/tok-SECRET")
    logging.getLogger("pipeline.runner").debug("the bot's own debug line")
    err = capsys.readouterr().err
    assert "tok-SECRET" not in err
    assert "the bot's own debug line" in err


def _reconnect(client: logging.Logger, seconds: float) -> None:
    try:
        raise OSError("Connect call failed")
    except OSError:
        client.exception("Attempting a reconnect in %.2fs", seconds)  # as discord.Client.connect logs it


@pytest.mark.usefixtures("restore_logging")
def test_discord_reconnects_are_hidden_until_the_first_ready(capsys):
    # Until READY an unreachable gateway is the bot's one line, not discord.py's ERROR and tracebacks.
    setup_logging("INFO", ())
    client = logging.getLogger("discord.client")
    show = hide_reconnects_until_ready()
    try:
        _reconnect(client, 1)
        client.warning("discord.client's other lines still show")
    finally:
        show()
    _reconnect(client, 2)  # after READY a reconnect is news
    err = capsys.readouterr().err
    assert "in 1.00s" not in err and "Traceback" in err and "in 2.00s" in err
    assert "discord.client's other lines still show" in err
    assert client.filters == []


def test_a_log_line_cannot_be_forged_or_overwritten_by_what_it_quotes():
    # A prompt or a gateway's text with a line break would start a fake line; a terminal escape
    # would move the cursor and overwrite one. A traceback keeps its own lines.
    formatter = RedactingFormatter(["sk-secret-0123456789"], fmt="%(levelname)s %(message)s")
    quoted = "a cat\n2026-01-01 INFO seedream.bot: all fine\x1b[1A\x1b[2K \u202e sk-secret-0123456789"
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("x", logging.WARNING, "p", 1, "prompt %r refused: %s", ("p", quoted), sys.exc_info())
    lines = formatter.format(record).splitlines()
    assert lines[0].startswith("WARNING prompt 'p' refused: a cat\\x0a2026-01-01 INFO"), lines[0]
    assert "\x1b" not in lines[0] and "\u202e" not in lines[0] and "[redacted]" in lines[0]
    assert lines[1] == "Traceback (most recent call last):" and lines[-1] == "RuntimeError: boom"


def test_a_secret_is_taken_out_whatever_its_case():
    # A name read from .env is shown in capitals: a key pasted as one came out upper-cased, whole.
    key = "sk-live-0a1b2c3d4e5f6a7b8c9d"
    assert redact(f"warning: {key.upper()} in .env", [key]) == "warning: [redacted] in .env"
    assert "0A1B2C3D4E5F6A7B" not in redact(f"echo: x{key.upper()[8:]}", [key])  # a piece of it, too
    assert redact("a Seedream image", ["sk-live-0a1b2c3d4e5f6a7b8c9d"]) == "a Seedream image"
