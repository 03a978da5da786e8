"""/history says why a request ended unfulfilled in words, whichever way the gateway put it."""

from __future__ import annotations

import pytest

from cogs.reports import _reason_in_words


@pytest.mark.parametrize(
    "code",
    [
        "invalid_api_key",  # gogogotoken.com's 401 body; SEEDREAM-API.md's 401 row
        "AccountOverdueError",  # SEEDREAM-API.md's 403 row (balance); aiearth: 403 = balance
        "AccessDenied",
        "model_not_found",  # aiearth: 404 or model_not_found
        "ModelNotOpen",
    ],
)
def test_the_codes_the_gateways_document_for_the_bots_setup_read_as_setup(code):
    # Stored by its class (no code from the gateway) the same failure reads "the service refused
    # the bot's setup"; by the gateway's own code it read "the service failed: <code>".
    assert _reason_in_words(code, "en-US") == "the service refused the bot's setup"
    assert _reason_in_words(code, "zh-CN") == _reason_in_words("PermissionDeniedError", "zh-CN")


def test_a_code_no_sentence_covers_is_shown_as_stored():
    assert _reason_in_words("SomeGatewayOwnCode", "en-US") == "the service failed: SomeGatewayOwnCode"
    assert _reason_in_words("RateLimitExceeded", "en-US") != "the service failed: RateLimitExceeded"
