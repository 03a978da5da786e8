import logging

import pytest

from log_setup import setup_logging


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
