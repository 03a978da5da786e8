"""Settings as the operator writes them: what is accepted, and the one line a mistake gets.

`describe_validation_error` is what `python bot.py` prints after `configuration error: `.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from bot import default_limits
from image_gateway.money import read_usd as parse_usd
from settings import Settings, describe_validation_error

REQUIRED = {"discord_token": "token-x", "image_provider": "aiearth", "image_api_key": "sk-k"}


def _settings(**values: str) -> Settings:
    return Settings(_env_file=None, **REQUIRED, **values)  # type: ignore[arg-type]


def _refusal(**values: str) -> str:
    with pytest.raises(ValidationError) as caught:
        _settings(**values)
    return describe_validation_error(caught.value)


@pytest.mark.parametrize(
    ("written", "micros"),
    [("5", 5_000_000), ("12.50", 12_500_000), ("$5", 5_000_000), ("1,000", 1_000_000_000),
     ("$1,000", 1_000_000_000), ("2,500.75", 2_500_750_000), ("12,50", 12_500_000), ("0,162", 162_000),
     ("US$20", 20_000_000)],
)  # fmt: skip
def test_usd_settings_take_the_amounts_budget_takes(written, micros):
    # README: /budget amounts "are written like 5, 12.50, $1,000, 12,50 or 0,162"; .env is the same.
    limits = default_limits(_settings(default_monthly_usd=written, guild_monthly_budget_usd=written))
    assert limits.monthly_micros == limits.guild_monthly_micros == micros == parse_usd(written)


@pytest.mark.parametrize("name", ["default_monthly_usd", "guild_monthly_budget_usd"])
def test_a_usd_setting_that_is_no_amount_is_one_line_naming_it(name):
    said = _refusal(**{name: "sk-pasted-here-by-mistake"})
    assert said == f"{name.upper()} is invalid: not a dollar amount; write it like 5, 12.50, $1,000 or 12,50"
    assert (
        _refusal(**{name: "1,000,000,001"})
        == f"{name.upper()} is invalid: more than $1,000,000,000, the most it can be"
    )


def test_prices_take_a_dollar_sign():
    prices = _settings(image_prices="doubao-seedream-5-0-260128=$0.035, doubao-seedream-4-5-251128=0.04").image_prices
    assert {model: str(usd) for model, usd in prices.items()} == {
        "doubao-seedream-5-0-260128": "0.035", "doubao-seedream-4-5-251128": "0.04",
    }  # fmt: skip


def test_a_model_priced_twice_is_refused_naming_it():
    said = _refusal(image_prices="doubao-seedream-5-0-260128=0.035,doubao-seedream-5-0-260128=0.04")
    assert said == "IMAGE_PRICES is invalid: doubao-seedream-5-0-260128 is priced twice; keep one price for it"


@pytest.mark.parametrize(
    ("written", "hint"),
    [
        ("m=0,035", "m: commas separate the pairs, so 0,035 is not one price; write decimals with a dot: m=0.035"),
        (
            "a=0.1,m=$0,04",
            "m: commas separate the pairs, so $0,04 is not one price; write decimals with a dot: m=$0.04",
        ),
        ("m=1,000", "m: commas separate the pairs, so 1,000 is not one price; write the price without a thousands"),
    ],
)
def test_a_decimal_comma_in_a_price_says_to_use_a_dot(written, hint):
    assert _refusal(image_prices=written).startswith(f"IMAGE_PRICES is invalid: {hint}")


def test_a_price_that_is_no_amount_names_its_model():
    said = _refusal(image_prices="m=cheap")
    assert said == "IMAGE_PRICES is invalid: m: a price per image is not a dollar amount; write it like 0.035 or $0.035"


@pytest.mark.parametrize("name", ["image_api_base_url", "discord_api_base_url"])
@pytest.mark.parametrize(
    "url", ["https://gw.example/v1?region=eu", "https://gw.example/v1?", "https://gw.example/v1#x"]
)
def test_a_base_url_with_a_query_or_a_fragment_is_refused(name, url):
    # Paths are appended to it: `?region=eu/images/generations` would be every request's query.
    said = _refusal(**{name: url})
    assert said.startswith(f"{name.upper()} is invalid: must not have a query string or a fragment (? or #)"), said
    assert "region" not in said  # the value is never repeated: a key could be in it


def test_a_gateway_websocket_url_may_have_a_query():
    # discord.py replaces the query of the gateway URL with its own (v, encoding).
    assert (
        _settings(discord_gateway_url="wss://gateway.example/?v=10").discord_gateway_url
        == "wss://gateway.example/?v=10"
    )


def test_a_price_finer_than_a_micro_dollar_is_refused_not_rounded():
    # The books keep micro-dollars: 0.0000005 used to become $0.000001 an image without a word, so
    # /spend disagreed with the price the operator wrote by 100%.
    said = _refusal(image_prices="doubao-seedream-5-0-260128=0.0000005")
    assert said == (
        "IMAGE_PRICES is invalid: doubao-seedream-5-0-260128: a price per image is finer than a micro-dollar; "
        "write at most 6 decimal places"
    )
    assert str(_settings(image_prices="m=0.162500").image_prices["m"]) == "0.1625"  # trailing zeros are exact


def test_values_are_read_without_the_spaces_and_case_an_editor_adds():
    # `LOG_LEVEL= info `, `IMAGE_RESPONSE_FORMAT=B64_JSON`, a quoted " true ": each used to stop the
    # start ("Input should be 'DEBUG', ..."), while IMAGE_PROVIDER was already read this way.
    settings = _settings(
        log_level=" info ", image_response_format="B64_JSON", reference_images_as=" URL", image_stream=" false ",
        image_watermark=" TRUE", default_daily_images=" 5 ",
    )
    assert (settings.log_level, settings.image_response_format, settings.reference_images_as) == (
        "INFO", "b64_json", "url")
    assert (settings.image_stream, settings.image_watermark, settings.default_daily_images) == (False, True, 5)
    assert _settings(default_daily_images="   ").default_daily_images is None  # blank is not set, as empty is


def test_a_dev_server_id_of_zero_is_refused_not_a_silent_global_sync():
    # DISCORD_DEV_GUILD_ID=0 used to sync the commands globally (an hour to appear) without a word.
    assert _refusal(discord_dev_guild_id="0") == (
        "DISCORD_DEV_GUILD_ID is invalid: must be a server's id (right-click the server, Copy Server ID), "
        "or left empty"
    )
    assert _settings(discord_dev_guild_id=" 123456789012345678 ").discord_dev_guild_id == 123456789012345678


def test_quotes_the_environment_kept_around_a_value_are_dropped():
    # `docker run --env-file` and a compose file's `- IMAGE_API_KEY="sk-..."` pass the quotes on: the
    # key was sent with them (every request refused by the gateway, the start silent), while a quoted
    # IMAGE_PROVIDER stopped the start.
    settings = Settings(_env_file=None, discord_token="'token-x'", image_provider='"aiearth"',
                        image_api_key='"sk-k"', log_level="'debug'")  # fmt: skip
    assert (settings.discord_token.get_secret_value(), settings.image_api_key.get_secret_value()) == ("token-x", "sk-k")
    assert (settings.image_provider, settings.log_level) == ("aiearth", "DEBUG")


def test_a_budget_finer_than_a_micro_dollar_is_refused_as_budget_refuses_it():
    # Written "as for /budget", which refuses 5.9999999 rather than keep $6.00; the setting rounded it.
    said = _refusal(guild_monthly_budget_usd="5.9999999")
    assert said.startswith("GUILD_MONTHLY_BUDGET_USD is invalid:") and "6 decimal places" in said, said
    assert _settings(default_monthly_usd="5.999999").default_monthly_usd == Decimal("5.999999")
