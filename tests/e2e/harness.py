"""Run the real bot (bot.SeedreamBot, real discord.py, real aiohttp) against both doubles on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot import SeedreamBot, Services, make_client, point_discord_py, resolve_preset
from settings import Settings
from storage import Storage, open_storage
from tests.doubles.discord_double import DiscordDouble, Guild, InteractionHandle, User
from tests.doubles.discord_double.model import Channel
from tests.doubles.image_gateway_double import ImageGatewayDouble

API_KEY = "sk-test-SECRET-gateway-key-0123456789"


class LogCapture(logging.Handler):
    """Every log line the bot writes during a test, formatted as the real handler would."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class World:
    discord: DiscordDouble
    gateway: ImageGatewayDouble
    settings: Settings
    guild: Guild
    channel: Channel
    alice: User
    bob: User
    tmp: Path
    bot: SeedreamBot | None = None
    storage: Storage | None = None
    http: aiohttp.ClientSession | None = None
    logs: LogCapture = field(default_factory=LogCapture)
    _task: asyncio.Task | None = None

    async def start_bot(self) -> SeedreamBot:
        point_discord_py(self.settings)
        self.http = aiohttp.ClientSession()
        self.storage = await open_storage(self.settings.database_url)
        preset = resolve_preset(self.settings)
        services = Services(self.settings, self.http, self.storage, preset,
                            make_client(self.settings, preset, self.http))
        self.discord.ready_event.clear()
        bot = SeedreamBot(services)
        await bot.login(self.settings.discord_token.get_secret_value())
        self._task = asyncio.create_task(bot.connect(reconnect=False))
        await self.discord.wait_until_ready(timeout=10)
        self.bot = bot
        return bot

    async def stop_bot(self) -> None:
        if self.bot is not None:
            await self.bot.close()
        if self._task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._task, 5)
        if self.storage is not None:
            await self.storage.close()
        if self.http is not None:
            await self.http.close()
        self.bot = self.storage = self.http = self._task = None

    async def restart_bot(self) -> SeedreamBot:
        await self.stop_bot()
        return await self.start_bot()

    async def run(
        self, name: str, options: dict[str, Any] | None = None, *, user: User | None = None,
        channel: Channel | None = None, timeout: float = 15.0, **kwargs: Any,
    ) -> InteractionHandle:
        """Invoke a slash command and wait until the bot has finished answering it."""
        inter = await self.discord.invoke_command(
            name, options or {}, user=user or self.alice, guild=self.guild, channel=channel or self.channel, **kwargs
        )
        await inter.wait_for_final(timeout=timeout, quiet=0.3)
        return inter

    async def ledger_rows(self) -> list[dict[str, Any]]:
        assert self.storage is not None
        rows = await self.storage.db.fetchall("SELECT * FROM requests ORDER BY id")
        return [dict(row) for row in rows]


def make_settings(tmp: Path, dd: DiscordDouble, gw: ImageGatewayDouble, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "discord_token": dd.bot_token,
        "discord_api_base_url": dd.api_base,
        "discord_gateway_url": dd.gateway_url,
        "image_provider": gw.flavour.name,
        "image_api_key": API_KEY,
        "image_api_base_url": gw.base_url,
        "database_url": f"sqlite:///{tmp / 'bot.db'}",
        "image_max_retries": 2,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def world(tmp: Path, *, flavour: str = "gogogotoken-com", gateway: dict[str, Any] | None = None,
                discord: dict[str, Any] | None = None, start: bool = True, **settings: Any):
    async with (
        DiscordDouble(**(discord or {})) as dd,
        ImageGatewayDouble(flavour=flavour, api_key=API_KEY, **(gateway or {})) as gw,
    ):
        guild = dd.add_guild("Test Server")
        channel = dd.add_channel(guild, "images")
        alice, bob = dd.add_user("alice"), dd.add_user("bob")
        dd.add_member(guild, alice)
        dd.add_member(guild, bob)
        w = World(dd, gw, make_settings(tmp, dd, gw, **settings), guild, channel, alice, bob, tmp)
        root = logging.getLogger()
        root.addHandler(w.logs)
        previous_level = root.level
        root.setLevel(logging.DEBUG)
        try:
            if start:
                await w.start_bot()
            yield w
        finally:
            await w.stop_bot()
            root.removeHandler(w.logs)
            root.setLevel(previous_level)
        assert dd.spec_violations == [], dd.spec_violations
        assert dd.internal_errors == [], dd.internal_errors
        # What real Discord refuses (2000 characters, 10 files, the upload and request sizes) is a
        # failure wherever the test looked.
        assert dd.limit_rejections == [], dd.limit_rejections
        # Every test of the end-to-end suite is also a secrets test: neither the API key nor the
        # bot token may reach anything the bot sent to Discord or any log line it wrote.
        leaked = secret_leaks([*dd.all_outgoing_text(), *w.logs.lines], (API_KEY, dd.bot_token))
        assert leaked == [], leaked


FRAGMENT = 12  # this many characters of a secret in a row count as a leak (a cut-off key is still a key)


def secret_leaks(texts: list[str], secrets: tuple[str, ...]) -> list[str]:
    """The texts (first 200 characters) holding any `FRAGMENT`-character piece of a secret."""
    pieces = {secret[i : i + FRAGMENT] for secret in secrets for i in range(len(secret) - FRAGMENT + 1)}
    return [text[:200] for text in texts if any(piece in text for piece in pieces)]
