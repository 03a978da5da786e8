"""The Seedream Discord bot: `python bot.py` starts it, `python bot.py --check` checks the setup.

main(): settings -> logging -> HTTP session -> storage -> gateway client -> bot. Resources are
opened here, handed to the bot, and closed in reverse order.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import dataclasses
import hashlib
import json
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands
from pydantic import ValidationError

from cogs.approval import submit_for_approval
from cogs.queue_controls import cancel_view
from i18n.translator import CatalogTranslator
from image_gateway.catalog import InvalidOptionError, ModelSpec, format_usd, usd_to_micros
from image_gateway.client import ImageClient
from image_gateway.errors import APIStatusError, scrub
from image_gateway.presets import Preset, build_catalog, get_preset
from log_setup import hide_reconnects_until_ready, redact, setup_logging
from pipeline.addresses import guarded_session
from pipeline.budget_alerts import BudgetAlerts
from pipeline.delivery import ChannelSink, InteractionSink, acknowledge, report_error
from pipeline.dispatch import Dispatcher
from pipeline.explain import UserError
from pipeline.interrupted import tell_interrupted
from pipeline.job import ImageJob
from pipeline.limits import LimitsResolver
from pipeline.moderation import moderation_checks
from pipeline.permissions import PostableChannel
from pipeline.progress import ChannelStatus, LiveStatus, TurnStatus
from pipeline.queue import FairQueue
from pipeline.runner import Pipeline, PipelineOptions, Ticket
from settings import Settings, describe_validation_error, load_settings, raw_secrets, unknown_settings
from storage import Storage, open_storage, sqlite_path_from_url
from storage.connection import NewerSchema
from storage.ledger import Limits

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one bot per database is up to the operator
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("seedream.bot")

EXTENSIONS = (
    "cogs.imagine", "cogs.usage", "cogs.edit", "cogs.series", "cogs.admin_moderation", "cogs.approval",
    "cogs.result_buttons", "cogs.queue_controls", "cogs.admin_quotas", "cogs.reports",
)
SYNC_FINGERPRINT_KEY = "command_tree_fingerprint"


class SeedreamTree(app_commands.CommandTree):
    """The one error funnel: every failure in a command becomes a short, private message."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        original = getattr(error, "original", None) or error.__cause__ or error
        if isinstance(original, app_commands.TransformerError):  # e.g. a "member" who left the server
            original = _unusable_option(original)
        await report_error(interaction, original)


def _unusable_option(error: app_commands.TransformerError) -> UserError:
    if error.type is discord.AppCommandOptionType.user and hasattr(error.value, "id"):
        return UserError("error.not_a_member", code="bad_option", member=f"<@{error.value.id}>")
    return UserError("error.bad_value", code="bad_option", value=str(error.value)[:100])


@dataclass(frozen=True)
class Services:
    settings: Settings
    http: aiohttp.ClientSession
    storage: Storage
    preset: Preset
    client: ImageClient


class SeedreamBot(commands.Bot):
    def __init__(self, services: Services, *, extensions: Sequence[str] = EXTENSIONS) -> None:
        # The bot has no voice: discord.py's warnings that voice's libraries are missing would be
        # two WARNING lines at every start for the operator to look into.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=SeedreamTree,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.services = services
        self.settings = services.settings
        self.storage = services.storage
        self.preset = services.preset
        self.limits_resolver = LimitsResolver(services.storage.quotas, default_limits(services.settings))
        self.budget_alerts = BudgetAlerts(
            self, services.storage.reports, services.storage.quotas,
            cheapest_image=min((spec.price_micros or 0 for spec in services.preset.models.values()), default=0),
        )  # fmt: skip
        self.pipeline = Pipeline(
            client=services.client,
            ledger=services.storage.ledger,
            http=services.http,
            limits=self.limits_for,
            limits_revision=self.limits_resolver.revision,
            settled=(self.budget_alerts.after_settle,),
            refused=(self.budget_alerts.after_refusal,),
            options=pipeline_options(services.settings),
            checks=moderation_checks(
                services.storage.guild_config, role_exists=self._role_exists, channel_exists=self._channel_exists
            ),
        )
        self.queue = FairQueue(
            concurrency=services.settings.max_concurrent_requests,
            per_member=services.settings.max_requests_per_member,
        )
        self.dispatcher = Dispatcher(
            self.pipeline, self.queue, services.storage.ledger,
            needs_review=lambda job: services.storage.guild_config.get(job.guild_id).needs_approval,
        )  # fmt: skip
        self._extensions = tuple(extensions)
        self._stopping: list[asyncio.Task[None]] = []
        self._telling: asyncio.Task[None] | None = None  # members of requests a stop cut short
        # (request id, action) of Re-roll and Upscale presses still running: a double click runs once
        self.presses_running: set[tuple[int, str]] = set()
        self.set_up = False  # setup_hook finished

    # -- start -----------------------------------------------------------------------
    async def setup_hook(self) -> None:
        await self.tree.set_translator(CatalogTranslator())
        recovered = await self.storage.ledger.recover_pending()
        if recovered:
            log.warning("closed %d reservation(s) left pending by an earlier stop", recovered)
        untold = await self.storage.requests.untold()  # this stop's, and any an earlier start did not tell
        if untold:  # their members are told once the bot is connected
            self._telling = asyncio.create_task(tell_interrupted(self, untold), name="tell-interrupted")
        for extension in self._extensions:
            await self.load_extension(extension)
        await self.sync_commands()
        self.set_up = True  # from here on, an AttributeError before the websocket is discord.py's (see run)

    async def sync_commands(self) -> None:
        """Sync to the dev guild on every start; globally only when Discord lacks this tree.

        It lacks it when the tree changed since the last sync for this application (a fingerprint
        kept per application id: a new bot token or a new Discord starts from nothing), or when the
        commands Discord has registered differ from the tree (one GET: commands deleted by hand,
        another deployment's). So an unchanged tree is not PUT again at every start."""
        dev_guild = self.settings.discord_dev_guild_id
        if dev_guild:
            guild = discord.Object(id=dev_guild)
            self.tree.copy_global_to(guild=guild)
            try:
                await self.tree.sync(guild=guild)
            except discord.DiscordServerError as error:  # Discord's passing trouble, not the setting
                log.warning("could not sync the commands to the development guild (%s); they are as last synced",
                            error.status)  # fmt: skip
                return
            except (discord.Forbidden, discord.NotFound) as error:  # 403 Missing Access: not in that server
                raise StartupError(
                    f"DISCORD_DEV_GUILD_ID {dev_guild}: Discord refused the commands there ({error.status}); "
                    "is the bot in that server?"
                ) from None
            log.info("synced commands to the development guild")
            return
        payload = await self.command_payload()
        key = f"{SYNC_FINGERPRINT_KEY}:{self.application_id}"
        fingerprint = command_fingerprint(payload)
        if await self.storage.meta.get(key) != fingerprint:
            reason = "the command tree changed or was never synced for this application"
        else:
            reason = await self.registered_commands_differ(payload)
        if reason is None:
            log.info("command tree unchanged; not syncing")
            return
        await self.tree.sync()
        await self.storage.meta.set(key, fingerprint)
        log.info("synced commands globally: %s", reason)

    async def command_payload(self) -> list[dict]:
        """The global commands as `tree.sync()` sends them (translated)."""
        translator = self.tree.translator
        payload = []
        for command in self.tree.get_commands():
            if translator is not None:
                payload.append(await command.get_translated_payload(self.tree, translator))
            else:
                payload.append(command.to_dict(self.tree))
        return payload

    async def registered_commands_differ(self, payload: list[dict]) -> str | None:
        """Why Discord's global commands are not `payload` (None: they are). A failed look is
        logged and trusted to the fingerprint: the start goes on, as it did before the look."""
        try:
            registered = await self.http.get_global_commands(self.application_id)  # type: ignore[arg-type]
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as error:
            why = getattr(error, "status", None) or type(error).__name__
            log.warning("could not list the commands on Discord (%s); trusting the last sync", why)
            return None
        if command_shapes(registered or []) == command_shapes(payload):
            return None
        return "the commands registered with Discord differ from this version's"

    # -- channels deleted under waiting requests ------------------------------------------
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        self._withdraw_in(channel.id)

    async def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        self._withdraw_in(payload.thread_id)

    async def on_thread_remove(self, thread: discord.Thread) -> None:
        """The bot was removed from a thread. discord.py keeps it in its cache, where
        `pipeline.permissions` would take a private one for a thread the bot is in: it leaves
        the cache, as Discord's next start would leave it out (its requests then are not made
        for nobody once their reply is gone)."""
        if thread.type is discord.ChannelType.private_thread:
            thread.guild._remove_thread(thread)  # discord.py has no public way

    def _withdraw_in(self, channel_id: int) -> None:
        """Requests waiting to post in a channel now deleted leave the line, released: the
        gateway would make, and bill, images that could go nowhere."""
        if withdrawn := self.queue.withdraw_in(channel_id):
            log.info("channel %s was deleted: %d waiting request(s) withdrawn", channel_id, withdrawn)

    # -- what the cogs share ---------------------------------------------------------
    def resolve_model(self, name: str | None) -> ModelSpec:
        return self.preset.model(name or self.preset.default_model)  # the default is IMAGE_MODEL's (resolve_preset)

    async def limits_for(self, job: ImageJob) -> Limits:
        """Member, role and server settings from the database over the .env defaults (pipeline.limits)."""
        return await self.limits_resolver.for_job(job)

    def _role_exists(self, guild_id: int, role_id: int) -> bool:
        guild = self.get_guild(guild_id)
        return guild is None or guild.get_role(role_id) is not None  # not cached: not known to be gone

    def _channel_exists(self, guild_id: int, channel_id: int) -> bool:
        guild = self.get_guild(guild_id)
        return guild is None or guild.get_channel_or_thread(channel_id) is not None  # not cached: not known gone

    async def generate(self, interaction: discord.Interaction, job: ImageJob) -> None:
        """Admit (refusals answer privately, nothing spent), then wait in line and run while the
        reply is deferred alongside (`acknowledge`: the gateway call need not wait for Discord).

        In approval mode the request goes to the moderators instead (cogs.approval)."""
        if self.storage.guild_config.get(job.guild_id).needs_approval:
            if self.queue.closed:  # stopping: a review posted now would wait for a bot going away
                raise UserError("queue.restarting", code="restarting")
            await submit_for_approval(self, interaction, job)
            return

        async def begin(ticket: Ticket) -> TurnStatus:
            sink = InteractionSink(interaction, ticket, acknowledged=acknowledge(interaction))
            return LiveStatus(
                sink,
                interval=self.settings.progress_edit_seconds,
                cancel_view=lambda: cancel_view(ticket.request_id, sink.locale),
            )

        await self.dispatcher.run(job, begin)

    async def generate_in_channel(
        self,
        channel: PostableChannel,
        job: ImageJob,
        *,
        admitted: Callable[[Ticket], Awaitable[None]] | None = None,
        upload_limit: int | None = None,
    ) -> None:
        """A request with no interaction to answer (an approved one), through the same line as a
        command: the concurrency limit, the shutdown and the books apply alike; it counts toward
        the member's requests in flight, but their number does not refuse a moderator's decision.
        `upload_limit`: the bytes a file may have, as Discord told an interaction in the server
        (default: discord.py's table for the server's boost level).

        A refusal before anything is reserved (restarting, a quota) raises; once
        admitted (`admitted` hears the ticket), results and failures go to `channel`, mentioning
        the member."""

        async def begin(ticket: Ticket) -> TurnStatus:
            if admitted is not None:
                await admitted(ticket)
            sink = ChannelSink(channel, ticket, upload_limit=upload_limit or channel.guild.filesize_limit)
            return ChannelStatus(
                sink,
                interval=self.settings.progress_edit_seconds,
                cancel_view=lambda: cancel_view(ticket.request_id, sink.locale),
            )

        await self.dispatcher.run(job, begin, approved=True)

    # -- stop ------------------------------------------------------------------------
    async def shutdown(self, grace: float | None = None) -> None:
        """Stop gracefully (SIGTERM, Ctrl-C): refuse new requests, withdraw the waiting ones,
        give the running ones `grace` seconds (SHUTDOWN_GRACE_SECONDS), stop the rest, then close.
        Every member affected is told; nothing is charged for an image not delivered."""
        await self.queue.drain(self.settings.shutdown_grace_seconds if grace is None else grace)
        await self.close()

    def request_shutdown(self) -> None:
        """From a signal handler: the first asks for a graceful stop, a second stops at once."""
        if not self._stopping:
            log.info("stopping: finishing requests in flight (up to %.0f s)", self.settings.shutdown_grace_seconds)
            task = asyncio.create_task(self.shutdown(), name="shutdown")
        else:
            log.info("stopping now")
            task = asyncio.create_task(self.close(), name="shutdown-now")
        task.add_done_callback(_log_failure)
        self._stopping.append(task)

    async def close(self) -> None:
        await self.queue.drain(0)  # direct close: nothing is left pending or untold
        await self.pipeline.close()  # settles still being retried: one last try
        if self._telling is not None:  # it may still wait for a ready that will not come
            self._telling.cancel()
        await super().close()


def command_fingerprint(payload: list[dict]) -> str:
    """A hash of everything the bot would send, localizations included."""
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def command_shapes(commands: Sequence[dict]) -> list[str]:
    """Commands as members see them (names, types, descriptions, options, permissions), in an
    order and spelling that do not depend on who wrote them: the tree's payload and Discord's
    answer compare equal when they are the same commands. Localizations are left to the
    fingerprint (Discord lists them only on request), as are fields Discord fills in itself."""
    return sorted(json.dumps(_command_shape(command), sort_keys=True) for command in commands)


def _command_shape(command: dict) -> dict:
    permissions = command.get("default_member_permissions")
    return {
        "type": int(command.get("type") or 1),
        "name": command.get("name"),
        "description": command.get("description") or "",
        "default_member_permissions": None if permissions is None else str(permissions),
        "nsfw": bool(command.get("nsfw")),
        "options": [_option_shape(option) for option in command.get("options") or ()],
    }


def _option_shape(option: dict) -> dict:
    shape = {
        "type": int(option.get("type") or 0),
        "name": option.get("name"),
        "description": option.get("description") or "",
        "required": bool(option.get("required")),
        "autocomplete": bool(option.get("autocomplete")),
        "choices": [[choice.get("name"), _number(choice.get("value"))] for choice in option.get("choices") or ()],
        "channel_types": sorted(option.get("channel_types") or ()),
        "options": [_option_shape(child) for child in option.get("options") or ()],
    }
    for limit in ("min_value", "max_value", "min_length", "max_length"):
        if option.get(limit) is not None:
            shape[limit] = _number(option[limit])
    return shape


def _number(value: object) -> object:
    """1 and 1.0 are the same bound or choice to Discord."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s failed", task.get_name(), exc_info=task.exception())


def _micros(usd) -> int | None:
    return None if usd is None else usd_to_micros(usd)


def default_limits(settings: Settings) -> Limits:
    """The .env defaults, used where no server, role or member setting applies."""
    return Limits(
        daily_images=settings.default_daily_images,
        monthly_micros=_micros(settings.default_monthly_usd),
        guild_monthly_micros=_micros(settings.guild_monthly_budget_usd),
    )


def pipeline_options(settings: Settings) -> PipelineOptions:
    return PipelineOptions(
        response_format=settings.image_response_format,
        watermark=settings.image_watermark,
        stream=settings.image_stream,
        references_as=settings.reference_images_as,
        max_result_bytes=settings.max_result_mb * 1024 * 1024,
        result_memory_bytes=settings.result_memory_mb * 1024 * 1024,
        max_concurrent_downloads=settings.max_concurrent_downloads,
    )


_ENDPOINT = "/images/generations"


class StartupError(Exception):
    """A setting that passed validation but cannot be used (the database will not open): main()
    prints it as one `configuration error:` line, like a malformed setting."""


class DiscordUnreachable(Exception):
    """Discord did not answer at login (no network, a wrong DISCORD_API_BASE_URL): main() prints
    one line naming the host and the failure, not aiohttp's traceback. Once logged in, discord.py
    reconnects by itself."""

    def __init__(self, host: str, error: BaseException | str) -> None:
        reason = error if isinstance(error, str) else type(error).__name__
        if detail := getattr(error, "strerror", None):  # "Name or service not known", "Connect call failed ..."
            reason = f"{reason} ({detail})"
        super().__init__(f"could not reach Discord at {host}: {reason}")


def discord_host(settings: Settings) -> str:
    """The host (and port) of Discord's API as configured; settings refuse a URL with a password."""
    return urlsplit(settings.discord_api_base_url or discord.http.Route.BASE).netloc


def gateway_host(settings: Settings) -> str:
    """The host (and port) of Discord's websocket gateway as configured."""
    return urlsplit(settings.discord_gateway_url or str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)).netloc


def resolve_preset(settings: Settings) -> Preset:
    """The provider's preset with the operator's catalog, prices and base URL, its default model
    set from IMAGE_MODEL. Raises ValueError (one line) for a base URL the custom provider lacks
    or an IMAGE_MODEL the catalog does not offer: that stops the bot at start (and `--check`),
    rather than letting it log in and fail every /imagine."""
    preset = build_catalog(
        get_preset(settings.image_provider),
        catalog_file=settings.model_catalog_file,
        prices=settings.image_prices,
    )
    if settings.image_api_base_url:
        preset = dataclasses.replace(preset, base_url=api_base_url(settings.image_api_base_url, settings, preset))
    if not preset.base_url:
        raise ValueError("IMAGE_API_BASE_URL is not set; the custom provider needs one")
    return dataclasses.replace(preset, default_model=default_model(settings, preset).id)


def api_base_url(url: str, settings: Settings, preset: Preset) -> str:
    """The base requests are made under. An operator who pasted the whole endpoint gets it
    trimmed (and told), not requests to .../images/generations/images/generations; one who gave
    the gateway's own host without a path (a page that says "Base URL: https://gogogotoken.ai"
    and the path apart) gets the preset's path on it (and is told), not a 404 on every request."""
    base = url.strip().rstrip("/")
    if base.lower().endswith(_ENDPOINT):
        base = base[: -len(_ENDPOINT)].rstrip("/")
        log.info("IMAGE_API_BASE_URL ends with %s; using %s as the base", _ENDPOINT, scrub(base, settings.secrets()))
    given, known = urlsplit(base), urlsplit(preset.base_url)
    if known.path and not given.path and given.netloc.lower() == known.netloc.lower():
        base = f"{base}{known.path.rstrip('/')}"
        log.info("IMAGE_API_BASE_URL has no path; using %s as the base, as %s does", base, preset.name)
    return base


def default_model(settings: Settings, preset: Preset) -> ModelSpec:
    """IMAGE_MODEL as a model id or label, read as a member's choice is (`Preset.model`), or the
    preset's default; ValueError names the models offered."""
    try:
        return preset.model(settings.image_model or preset.default_model)
    except InvalidOptionError:
        offered = ", ".join(f"{spec.id} ({spec.label})" for spec in preset.models.values())
        chosen = (settings.image_model or "").strip()[:60]
        raise ValueError(f"IMAGE_MODEL {chosen!r} is not offered by {preset.name}; choose one of: {offered}") from None


class DatabaseInUse(Exception):
    """Another bot process holds the database's lock (`lock_database`)."""

    def __init__(self, pid: str) -> None:
        super().__init__(pid)
        self.pid = pid


@contextlib.asynccontextmanager
async def open_database(settings: Settings, *, exclusive: bool = False):
    """`open_storage`, with a database that cannot be opened or written (a folder that cannot be
    created, a read-only file, not an SQLite file) as one StartupError line instead of a traceback.

    `exclusive` (the running bot, not `--check`) first locks the database for the life of the
    process: a second bot on it would answer every command too, and settle the first one's live
    requests as a crash's at its start (recover_pending), though the gateway bills them."""
    url, path = settings.database_url, sqlite_path_from_url(settings.database_url)
    with contextlib.ExitStack() as held:  # the lock outlives the storage
        try:
            if exclusive:
                held.enter_context(lock_database(path))
            await asyncio.to_thread(_probe_sqlite, path)
            storage = await open_storage(url)
        except DatabaseInUse as error:
            pid = f" (pid {error.pid})" if error.pid.isdigit() else ""
            raise StartupError(
                f"DATABASE_URL {url}: the database is in use by another bot process{pid}; "
                "stop it first, or give this one its own DATABASE_URL"
            ) from None
        except NewerSchema as error:
            raise StartupError(
                f"DATABASE_URL {url}: written by a newer version of the bot ({error}); "
                "run that version, or give this one another DATABASE_URL"
            ) from None
        except (OSError, sqlite3.Error) as error:
            reason = redact(str(error) or type(error).__name__, settings.secrets())
            raise StartupError(f"DATABASE_URL {url}: cannot open the database: {reason}") from None
        try:
            yield storage
        finally:
            await storage.close()


@contextlib.contextmanager
def lock_database(path: str):
    """Hold `<database file>.lock` (flock, exclusive) while the bot runs; the file keeps the
    holder's pid. The system lets go when the process ends, however it ends (a crash, SIGKILL),
    so a stale file never stops a start; it stays on disk, harmless. Raises DatabaseInUse."""
    if path == ":memory:" or fcntl is None:
        yield
        return
    lock_path = Path(path).resolve()
    lock_path = lock_path.with_name(f"{lock_path.name}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+", encoding="ascii", errors="replace") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            raise DatabaseInUse(file.read(20).strip()) from None
        except OSError as error:  # a filesystem without locks (ENOLCK: some network mounts)
            log.warning("cannot lock %s (%s): nothing stops a second bot on this database", lock_path,
                        error.strerror or type(error).__name__)  # fmt: skip
            yield
            return
        file.truncate(0)
        file.write(f"{os.getpid()}\n")
        file.flush()
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def _probe_sqlite(path: str) -> None:
    """Create the folder and open the file once, plainly (when aiosqlite's own connect fails it
    leaves a worker thread behind that prints a traceback as the process exits), and prove it
    can be written: a read-only file or folder passes every read and fails the first write, at
    start (recover_pending). user_version is written back as it was, and that rolled back."""
    if path == ":memory:":
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        conn.execute(f"PRAGMA user_version = {int(version)}")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()


def point_discord_py(settings: Settings) -> None:
    """Send discord.py's REST and gateway traffic elsewhere (tests, proxies)."""
    if settings.discord_api_base_url:
        discord.http.Route.BASE = settings.discord_api_base_url.rstrip("/")
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


async def check(settings: Settings, preset: Preset) -> int:
    """`--check`: settings, database, gateway models and prices. Never prints a secret."""
    secrets = settings.secrets()
    print(f"provider: {preset.name} at {redact(preset.base_url, secrets)}")
    async with open_database(settings) as storage:
        usage = await storage.ledger.usage(0, 0)
        print(f"database: {redact(settings.database_url, secrets)} (ok; {usage.pending_images} pending)")
    default = preset.default_model  # IMAGE_MODEL, checked by resolve_preset
    print("models:")
    for spec in preset.models.values():
        price = "price unknown (set IMAGE_PRICES)" if spec.price_micros is None else format_usd(spec.price_micros)
        mark = "*" if spec.id == default else " "
        print(f" {mark} {spec.id:<34} {price}")
    if (note := unpriced_note(preset)) is not None:
        print(f"warning: {note}")
    for note in unknown_settings():
        print(f"warning: {note}")
    if not preset.has_models_endpoint:
        print("gateway: this gateway has no model list; skipped")
        return 0
    async with aiohttp.ClientSession() as http:
        client = make_client(settings, preset, http, max_retries=0)  # one look, one line: no retry warnings
        try:
            served = await client.list_models()
        except APIStatusError as error:
            # A custom gateway may list no models; a known gateway's 404 means a wrong base URL.
            if preset.name != "custom" or error.status not in (404, 405):
                print(f"gateway: GET /models failed: {redact(str(error), settings.secrets())}", file=sys.stderr)
                return 1
            print(f"gateway: this gateway lists no models (GET /models answered {error.status}); skipped")
            return 0
        except Exception as error:  # the check reports any failure, scrubbed
            print(f"gateway: GET /models failed: {redact(str(error), settings.secrets())}", file=sys.stderr)
            return 1
    missing = [model for model in preset.models if model not in served]
    print(f"gateway: answers with {len(served)} model(s)")
    if default in missing:
        print(f"gateway does not list the default model {default}", file=sys.stderr)
        return 1
    if missing:  # members can still pick them, and would be told the service does not know them
        print(f"warning: the gateway does not list {', '.join(missing)}: members who pick them will be "
              "told the image service does not know the model")
    return 0


def make_client(
    settings: Settings, preset: Preset, http: aiohttp.ClientSession, *, max_retries: int | None = None
) -> ImageClient:
    return ImageClient(
        http,
        preset,
        api_key=settings.image_api_key.get_secret_value(),
        timeout=settings.image_timeout_seconds,
        max_retries=settings.image_max_retries if max_retries is None else max_retries,
        max_result_bytes=settings.max_result_mb * 1024 * 1024,  # an answer's cap follows the results' own
        max_calls=settings.max_concurrent_requests,
    )


def unpriced_note(preset: Preset) -> str | None:
    """Models without a price cost $0 in the books, so dollar limits never stop them: said at
    every start (and by --check) rather than found out from a bill."""
    unpriced = [spec.id for spec in preset.models.values() if spec.price_micros is None]
    if not unpriced:
        return None
    return (
        f"no price for {', '.join(unpriced)}: their images are recorded as $0 and monthly USD "
        "limits and budgets do not stop them; set IMAGE_PRICES (see .env.example)"
    )


async def run(settings: Settings, preset: Preset) -> None:
    point_discord_py(settings)
    if (note := unpriced_note(preset)) is not None:
        log.warning("%s", note)
    for note in unknown_settings():
        log.warning("%s", note)
    # Downloads and gateway calls share one session; it reaches only public addresses when the
    # gateway is on one (results named on this machine or the LAN are refused: pipeline.fetch).
    stand_in = urlsplit(settings.discord_api_base_url).hostname if settings.discord_api_base_url else None
    async with (
        guarded_session(
            preset.base_url, trusted_hosts=[stand_in] if stand_in else [],
            allow_private=settings.allow_private_result_addresses,
        ) as http,
        open_database(settings, exclusive=True) as storage,
    ):
        services = Services(settings, http, storage, preset, make_client(settings, preset, http))
        async with SeedreamBot(services) as bot:
            show_reconnects = hide_reconnects_until_ready()  # until then a failure is one line (below)

            async def ready() -> None:
                show_reconnects()

            bot.add_listener(ready, "on_ready")
            with stop_on_signals(bot):
                try:
                    await bot.start(settings.discord_token.get_secret_value())
                except (aiohttp.ClientError, OSError, TimeoutError) as error:
                    raise DiscordUnreachable(discord_host(settings), error) from None
                except discord.HTTPException as error:
                    if bot.user is not None:  # logged in: a real answer of Discord's, a bug to show
                        raise
                    # Something answered the login, not as Discord does: a proxy's error page, a URL
                    # without its /api/v10, an address Discord's Cloudflare refuses (1020).
                    raise DiscordUnreachable(
                        discord_host(settings),
                        f"it answered HTTP {error.status} to the login, not as Discord's API does "
                        "(check DISCORD_API_BASE_URL)",
                    ) from None
                except AttributeError:
                    # discord.py's reconnect reads the websocket it never had when the first
                    # connect to the gateway failed (the API answered, the gateway did not); one
                    # raised by the bot's own start (setup_hook) is a bug and shows as one.
                    if bot.ws is not None or not bot.set_up:
                        raise
                    raise DiscordUnreachable(gateway_host(settings), "its websocket gateway did not answer") from None
                finally:
                    show_reconnects()


@contextlib.contextmanager
def stop_on_signals(bot: SeedreamBot):
    """SIGINT (Ctrl-C) and SIGTERM ask for `bot.shutdown()` instead of killing requests in flight."""
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, bot.request_shutdown)
        except (NotImplementedError, RuntimeError):  # Windows: Ctrl-C stays a KeyboardInterrupt
            continue
        installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


M_ARENA_MAX = -8  # glibc's mallopt parameter


def limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that allocates its own arena, and memory freed in one is not
    returned to the system while anything else lives there: the worker threads that re-encode
    large results left a series of fifteen 4K PNGs at ~535 MB, against ~245 MB with two arenas.
    Before any thread starts; nothing elsewhere (musl has no mallopt, the setting is glibc's)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is not None and os.environ.get("MALLOC_ARENA_MAX") is None:  # the operator's own choice wins
        mallopt(M_ARENA_MAX, arenas)


def main(argv: Sequence[str] | None = None) -> int:
    limit_malloc_arenas()
    parser = argparse.ArgumentParser(description="Seedream image bot for Discord")
    parser.add_argument("--check", action="store_true", help="validate the setup and exit")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ValidationError as error:
        print(f"configuration error: {redact(describe_validation_error(error), raw_secrets())}", file=sys.stderr)
        return 2
    except ValueError as error:  # a settings file that is not text
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, settings.secrets())
    try:
        preset = resolve_preset(settings)
    except (ValueError, OSError) as error:
        print(f"configuration error: {redact(str(error), settings.secrets())}", file=sys.stderr)
        return 2
    try:
        if args.check:
            return asyncio.run(check(settings, preset))
        asyncio.run(run(settings, preset))
    except StartupError as error:
        print(f"configuration error: {redact(str(error), settings.secrets())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    except discord.LoginFailure:
        print("DISCORD_TOKEN was refused by Discord", file=sys.stderr)
        return 1
    except DiscordUnreachable as error:
        print(redact(str(error), settings.secrets()), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
