"""Settings, read from the environment and `.env`, validated at start.

A missing or malformed setting stops the bot with one line naming it; the value of a
secret is never echoed (see `describe_validation_error`).
"""

from __future__ import annotations

import difflib
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from image_gateway.money import (
    MAX_PRICE_USD,
    MAX_USD,
    MICROS_PER_USD,
    AmountTooLarge,
    FinerThanMicros,
    price_to_micros,
    read_usd,
)
from storage import sqlite_path_from_url

MAX_BUDGET_USD = MAX_USD  # /budget's and /quota's cap
ENV_FILE = ".env"  # read from the working directory, beside the environment (which wins)
SECRET_NAMES = ("DISCORD_TOKEN", "IMAGE_API_KEY")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        case_sensitive=False,
    )

    # Discord
    discord_token: SecretStr
    discord_dev_guild_id: int | None = None
    # Where discord.py talks to; only changed for tests, proxies or self-hosted doubles.
    discord_api_base_url: str | None = None
    discord_gateway_url: str | None = None

    # Image gateway
    image_provider: Literal["gogogotoken-ai", "gogogotoken-com", "aiearth", "302ai", "xmsmartlink", "custom"]
    image_api_key: SecretStr
    image_api_base_url: str | None = None
    image_model: str | None = None
    model_catalog_file: Path | None = None
    image_prices: Annotated[dict[str, Decimal], NoDecode] = Field(default_factory=dict)
    image_watermark: bool = False
    image_response_format: Literal["url", "b64_json"] = "url"
    image_stream: bool = True
    image_timeout_seconds: float = Field(default=600.0, gt=0, allow_inf_nan=False)
    image_max_retries: int = Field(default=3, ge=0, le=10)
    reference_images_as: Literal["data_uri", "url"] = "data_uri"
    max_result_mb: int = Field(default=64, ge=1, le=512)
    result_memory_mb: int = Field(default=96, ge=0, le=4096)
    max_concurrent_downloads: int = Field(default=8, ge=1, le=64)
    allow_private_result_addresses: bool = False

    # Storage and limits
    database_url: str = "sqlite:///data/bot.db"
    default_daily_images: int | None = Field(default=None, ge=0)
    default_monthly_usd: Decimal | None = Field(default=None, ge=0)
    guild_monthly_budget_usd: Decimal | None = Field(default=None, ge=0)

    # Queue, progress messages and shutdown
    max_concurrent_requests: int = Field(default=100, ge=1, le=256)
    max_requests_per_member: int = Field(default=2, ge=1, le=50)
    progress_edit_seconds: float = Field(default=5.0, gt=0, le=60, allow_inf_nan=False)
    shutdown_grace_seconds: float = Field(default=60.0, ge=0, le=3600, allow_inf_nan=False)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("image_prices", mode="before")
    @classmethod
    def _parse_prices(cls, value: object) -> object:
        """Accept `model=0.135,other=$0.162` as well as a JSON object; each price is read as /budget
        reads an amount (`read_usd`), but the comma only separates the pairs."""
        if not isinstance(value, str):
            return value
        prices: dict[str, Decimal] = {}
        pair: tuple[str, str] | None = None  # the last one, for a decimal comma that split it
        for item in filter(None, (part.strip() for part in value.split(","))):
            model, sep, usd = (text.strip() for text in item.partition("="))
            if not sep and pair is not None and _DIGITS.fullmatch(item) and pair[1].removeprefix("$").isdigit():
                raise ValueError(_comma_in_price(*pair, item))
            if not sep or not model:
                raise ValueError(f"expected model=usd pairs separated by commas, got {item!r}")
            if model in prices:
                raise ValueError(f"{model} is priced twice; keep one price for it")
            subject = f"{model}: a price per image"
            prices[model] = _usd(usd, cap=MAX_PRICE_USD, example="0.035 or $0.035", subject=subject, exact=True)
            pair = (model, usd)
        return prices

    @field_validator("image_prices")
    @classmethod
    def _sane_prices(cls, prices: dict[str, Decimal]) -> dict[str, Decimal]:
        """Refused here, naming the model, rather than overflowing the books at every request."""
        for model, usd in prices.items():
            try:
                price_to_micros(usd)
            except ValueError as error:
                raise ValueError(f"{model}: {error}") from None
        return prices

    @field_validator("default_monthly_usd", "guild_monthly_budget_usd", mode="before")
    @classmethod
    def _parse_budget(cls, value: object) -> object:
        """Written as for /budget ("5", "$5", "$1,000", "12,50"), read by the same `read_usd`."""
        if not isinstance(value, str):
            return value
        return _usd(value, cap=MAX_BUDGET_USD, example="5, 12.50, $1,000 or 12,50", exact=True)  # as /budget

    @field_validator("default_monthly_usd", "guild_monthly_budget_usd")
    @classmethod
    def _sane_budget(cls, usd: Decimal | None) -> Decimal | None:
        """The cap /budget and /quota use: a larger amount is a typo, and SQLite's integers end."""
        if usd is not None and usd > MAX_BUDGET_USD:
            raise ValueError(f"must be at most ${MAX_BUDGET_USD:,}")
        return usd

    @model_validator(mode="before")
    @classmethod
    def _trimmed(cls, data: object) -> object:
        """Spaces around a value are the editor's (`LOG_LEVEL= INFO `, a quoted `" true "`), as
        they are around a secret, and so are quotes the environment kept (`docker run --env-file`
        and a compose file's `- IMAGE_API_KEY="sk-..."` pass them on, where `.env` drops them):
        every value is read without them, and one of spaces only is not set, as an empty one is."""
        if not isinstance(data, dict):
            return data
        trimmed = {key: _unquoted(value) if isinstance(value, str) else value for key, value in data.items()}
        return {key: value for key, value in trimmed.items() if value != ""}

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value  # "info" is INFO

    @field_validator("image_provider", "image_response_format", "reference_images_as", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value  # "AIEarth" is aiearth, "URL" is url

    @field_validator("discord_dev_guild_id")
    @classmethod
    def _server_id(cls, value: int | None) -> int | None:
        """A server's id (Developer Mode, Copy Server ID); 0 would sync to no server, silently."""
        if value is not None and value <= 0:
            raise ValueError("must be a server's id (right-click the server, Copy Server ID), or left empty")
        return value

    @field_validator("image_api_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        """An http(s) URL with a host; the message never repeats the value (it may hold a password)."""
        return _url(value, ("http", "https"), "https://api.example.com/v1", "the gateway key goes in IMAGE_API_KEY",
                    base=True)  # fmt: skip

    @field_validator("discord_api_base_url")
    @classmethod
    def _discord_api_url(cls, value: str | None) -> str | None:
        """Checked here, not found out as an aiohttp traceback at login."""
        return _url(value, ("http", "https"), "https://discord.com/api/v10", "the token goes in DISCORD_TOKEN",
                    base=True)  # fmt: skip

    @field_validator("discord_gateway_url")
    @classmethod
    def _discord_gateway_url(cls, value: str | None) -> str | None:
        return _url(value, ("ws", "wss"), "wss://gateway.discord.gg", "the token goes in DISCORD_TOKEN")

    @field_validator("database_url")
    @classmethod
    def _sqlite_url(cls, value: str) -> str:
        """Refuse an unsupported URL here, with the other settings, not as a traceback at start."""
        sqlite_path_from_url(value)  # its messages name only the scheme: a URL can carry a password
        return value

    @field_validator("discord_token", "image_api_key")
    @classmethod
    def _whole_secret(cls, value: SecretStr) -> SecretStr:
        """Spaces and line ends around a secret are the editor's (a `.env` saved on Windows), not
        the secret's: sent as they are, every gateway call fails (401, or a header aiohttp refuses).
        One inside it cannot be sent in a header at all."""
        secret = value.get_secret_value().strip()
        if not secret:
            raise ValueError("must not be blank")
        if any(char.isspace() or not char.isprintable() for char in secret):
            raise ValueError("must not contain spaces, tabs or line breaks; paste it again")
        return SecretStr(secret)

    def secrets(self) -> tuple[str, ...]:
        """The values that must never appear in a message or a log line."""
        return (self.discord_token.get_secret_value(), self.image_api_key.get_secret_value())


def _unquoted(value: str) -> str:
    """`value` without the spaces around it and one pair of quotes around the rest."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].strip()
    return value


def _url(
    value: str | None, schemes: tuple[str, ...], example: str, credentials: str, *, base: bool = False
) -> str | None:
    """`value` as a URL of one of `schemes` with a host, else ValueError saying what is wanted;
    the message never repeats the value (it may hold a password or a key). A `base` URL, which
    paths are appended to, has no query string or fragment: `https://gw/v1?region=eu` would send
    every request to `https://gw/v1?region=eu/images/generations`."""
    if value is None:
        return None
    value = value.strip()
    wanted = " or ".join(f"{scheme}://" for scheme in schemes)
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - a port that is not a number from 0 to 65535 raises here, not at every request
    except ValueError:
        raise ValueError(f"is not a valid URL (check its host and port), e.g. {example}") from None
    if parts.scheme.lower() not in schemes:
        raise ValueError(f"must be a URL starting with {wanted}, e.g. {example}")
    if not host:
        raise ValueError(f"must be a URL with a host, starting with {wanted}, e.g. {example}")
    if parts.username is not None or parts.password is not None:  # aiohttp would refuse it beside a token
        raise ValueError(f"must not hold a user name or password; {credentials}")
    if base and ("?" in value or "#" in value):
        raise ValueError(f"must not have a query string or a fragment (? or #), e.g. {example}; {credentials}")
    return value


def _usd(text: str, *, cap: int, example: str, subject: str = "", exact: bool = False) -> Decimal:
    """An amount in USD read by `read_usd`, as /budget reads it ("5", "12.50", "$1,000", "12,50",
    "0,162"), at most `cap` dollars (`exact`: to the micro-dollar, not rounded); ValueError says
    what is wanted (of `subject`, else of the setting) without repeating the value."""
    said = f"{subject} is " if subject else ""
    try:
        micros = read_usd(text, exact=exact)
    except FinerThanMicros as finer:
        raise ValueError(f"{said}{finer}") from None
    except AmountTooLarge:
        micros = None
    except (ValueError, TypeError):
        raise ValueError(f"{said}not a dollar amount; write it like {example}") from None
    if micros is None or micros > cap * MICROS_PER_USD:
        raise ValueError(f"{said}more than ${cap:,}, the most it can be")
    return Decimal(micros) / MICROS_PER_USD


_DIGITS = re.compile(r"[0-9]+(?:\.[0-9]*)?")  # what follows a thousands separator or a decimal comma


def _comma_in_price(model: str, usd: str, digits: str) -> str:
    """`model=0,035` (or `1,000.50`) split at its comma: the pairs' separator took it for the next pair."""
    if "." not in digits and (usd.removeprefix("$") == "0" or len(digits) <= 2):
        hint = f"write decimals with a dot: {model}={usd}.{digits}"
    else:
        hint = "write the price without a thousands separator"
    return f"{model}: commas separate the pairs, so {usd},{digits} is not one price; {hint}"


def describe_validation_error(error: ValidationError) -> str:
    """One line per bad setting, naming the environment variable, never echoing its value."""
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        name = "_".join(str(part) for part in item["loc"][:1]).upper() or "SETTINGS"
        if item["type"] == "missing":
            lines.append(f"{name} is not set")
        else:
            lines.append(f"{name} is invalid: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(lines)


def _env_file(env_file: str | Path) -> dict[str, str]:
    """`env_file` as pydantic-settings reads it, names in capitals; empty when it cannot be read."""
    try:
        return {name.upper(): value or "" for name, value in dotenv_values(env_file).items() if name}
    except (OSError, UnicodeDecodeError):
        return {}


def raw_secrets(env_file: str | Path = ENV_FILE) -> tuple[str, ...]:
    """The token and the key as written in the environment and `env_file`, for a settings error
    (when `Settings.secrets` cannot be had): a key pasted on another setting's line must not be
    printed back."""
    written = [*_env_file(env_file).items(), *((name.upper(), value) for name, value in os.environ.items())]
    values = [value for name, value in written if name in SECRET_NAMES]
    return tuple({form for value in values for form in (value.strip(), _unquoted(value)) if form})


_SETTING_NAME = re.compile(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)+")  # how every setting is named: SOME_NAME


def unknown_settings(env_file: str | Path = ENV_FILE) -> list[str]:
    """What looks meant as a setting but is none, said by name (never its value): every name in
    `env_file` that is not a setting, and an environment variable whose name is close to one's
    (`GUILD_MONTHLY_BUDGET=50` would otherwise leave the budget unlimited without a word)."""
    known = [name.upper() for name in Settings.model_fields]
    written = set(_env_file(env_file))
    secrets = [secret.upper() for secret in raw_secrets(env_file)]
    notes, unnamed = [], 0
    for name in sorted(written.difference(known)):
        if not _SETTING_NAME.fullmatch(name) or any(name in secret or secret in name for secret in secrets):
            unnamed += 1  # a value on a line of its own (a key pasted twice): never repeated
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        notes.append(f"{name} in {env_file} is not a setting" + (f"; did you mean {close[0]}?" if close else ""))
    if unnamed:
        notes.append(f"{unnamed} line(s) in {env_file} are not NAME=value settings (not shown, a key could be in "
                     "them); they are ignored")
    for name in sorted({name.upper() for name in os.environ}.difference(known, written)):
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.85)
        if close:
            notes.append(f"the environment variable {name} is not a setting; did you mean {close[0]}?")
    return notes


def load_settings(**overrides: object) -> Settings:
    """Read settings; raises `ValidationError` (format it with `describe_validation_error`), or
    ValueError for a settings file that is not UTF-8 text."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except UnicodeDecodeError:  # saved by a Windows editor in its own code page, or as UTF-16
        raise ValueError(f"{ENV_FILE} is not UTF-8 text; save it as UTF-8 (Notepad: Save as, Encoding UTF-8)") from None
