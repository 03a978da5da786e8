"""Starting the bot: command sync, crash recovery, `--check` and settings errors."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from storage.ledger import Limits, RequestRecord
from tests.e2e.botproc import BotProcess
from tests.e2e.harness import API_KEY, world

ROOT = Path(__file__).resolve().parents[2]


async def test_commands_sync_globally_only_when_they_changed(tmp_path):
    async with world(tmp_path) as w:
        assert w.discord.commands.put_counts[None] == 1
        names = {c["name"] for c in w.discord.commands.global_payload}
        assert {"imagine", "usage"} <= names
        await w.restart_bot()
        await w.restart_bot()
        assert w.discord.commands.put_counts[None] == 1
        # The commands still work after restarts without a sync.
        inter = await w.run("imagine", {"prompt": "a cat"})
        assert len(inter.files()) == 1


async def test_dev_guild_is_synced_at_every_start(tmp_path):
    async with world(tmp_path, start=False) as w:
        w.settings = w.settings.model_copy(update={"discord_dev_guild_id": w.guild.id})
        await w.start_bot()
        await w.restart_bot()
        assert w.discord.commands.put_counts[w.guild.id] == 2
        assert w.discord.commands.put_counts[None] == 0


async def test_reservations_left_by_a_crash_are_closed_at_start(tmp_path):
    async with world(tmp_path) as w:
        ledger = w.storage.ledger
        unlimited = Limits(None, None, None)
        request = RequestRecord(guild_id=w.guild.id, channel_id=w.channel.id, user_id=w.alice.id,
                                command="imagine", model="doubao-seedream-4-0-250828", size="2K", prompt="p",
                                images=2, unit_price_micros=162_000)
        never_answered = await ledger.reserve(request, limits=unlimited)
        billed_not_delivered = await ledger.reserve(request, limits=unlimited)
        await ledger.record_billed(billed_not_delivered, 2)
        half_delivered = await ledger.reserve(request, limits=unlimited)
        await ledger.record_billed(half_delivered, 2)
        await ledger.record_delivered(half_delivered, 1)
        await w.restart_bot()
        rows = {r["id"]: r for r in await w.ledger_rows()}
        assert all(r["status"] != "pending" for r in rows.values())
        assert rows[never_answered]["cost_micros"] == 0
        assert rows[billed_not_delivered]["cost_micros"] == 324_000
        assert rows[billed_not_delivered]["charged_micros"] == 0
        assert rows[half_delivered]["charged_micros"] == 162_000


async def _run_bot(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> tuple[int, str]:
    """`python bot.py` in an empty folder, so no developer's .env is read. A bot still running
    after `timeout` seconds (it started when it should have stopped) is killed and fails the test."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bot.py"), *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"bot.py {' '.join(args)} was still running after {timeout} s") from None
    return proc.returncode, out.decode()


def _env(**values: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    return {**keep, **values}


async def test_check_lists_models_and_never_prints_the_key(tmp_path):
    async with world(tmp_path, flavour="aiearth", start=False) as w:
        env = _env(DISCORD_TOKEN="token-that-is-secret-1234", IMAGE_PROVIDER="aiearth", IMAGE_API_KEY=API_KEY,
                   IMAGE_API_BASE_URL=w.gateway.base_url, DATABASE_URL=f"sqlite:///{tmp_path / 'c.db'}",
                   IMAGE_PRICES="doubao-seedream-5-0-260128=0.035")
        code, out = await _run_bot("--check", env=env, cwd=tmp_path)
        assert code == 0, out
        assert "doubao-seedream-5-0-260128" in out and "$0.035" in out
        assert API_KEY not in out and "token-that-is-secret-1234" not in out
        # aiearth publishes no prices: the others are free in the books, and the check says so
        [warning] = [line for line in out.splitlines() if line.startswith("warning: no price for ")]
        assert "doubao-seedream-4-5-251128" in warning and "doubao-seedream-5-0-260128" not in warning
        assert "USD limits and budgets do not stop them; set IMAGE_PRICES" in warning

        # The provider in any case, as people type it.
        code, out = await _run_bot("--check", env={**env, "IMAGE_PROVIDER": " AIEarth"}, cwd=tmp_path)
        assert code == 0 and "provider: aiearth at" in out, out

        env["IMAGE_API_KEY"] = "sk-wrong-key-0000000000"
        code, out = await _run_bot("--check", env=env, cwd=tmp_path)
        assert code == 1
        assert "sk-wrong-key-0000000000" not in out


async def test_a_missing_setting_stops_the_bot_with_one_clear_line(tmp_path):
    code, out = await _run_bot(env=_env(IMAGE_PROVIDER="nowhere", IMAGE_API_KEY="sk-never-shown-123456"), cwd=tmp_path)
    assert code == 2
    assert "DISCORD_TOKEN is not set" in out
    assert "IMAGE_PROVIDER is invalid" in out
    assert "sk-never-shown-123456" not in out
    assert "Traceback" not in out


def _bot_env(w, tmp_path: Path, **values: str) -> dict[str, str]:
    """Settings for a bot process that would log in to the Discord double and use the gateway double."""
    return _env(**{
        "DISCORD_TOKEN": w.discord.bot_token, "DISCORD_API_BASE_URL": w.discord.api_base,
        "DISCORD_GATEWAY_URL": w.discord.gateway_url, "IMAGE_PROVIDER": w.gateway.flavour.name,
        "IMAGE_API_KEY": API_KEY, "IMAGE_API_BASE_URL": w.gateway.base_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}", **values,
    })


def _one_clean_line(out: str, start: str) -> None:
    assert "Traceback" not in out, out
    lines = [line for line in out.splitlines() if line.startswith("configuration error:")]
    assert len(lines) == 1 and lines[0].startswith(start), out


async def test_a_wrong_image_model_stops_the_bot_before_it_logs_in(tmp_path):
    async with world(tmp_path, flavour="aiearth", start=False) as w:
        env = _bot_env(w, tmp_path, IMAGE_MODEL="doubao-seedream-9-9")
        for args in ((), ("--check",)):
            code, out = await _run_bot(*args, env=env, cwd=tmp_path, timeout=20)
            assert code == 2, out
            _one_clean_line(out, "configuration error: IMAGE_MODEL 'doubao-seedream-9-9'")
            assert "doubao-seedream-5-0-260128 (Seedream 5.0 Lite)" in out  # the models offered
        assert API_KEY not in out and w.discord.bot_token not in out


async def test_image_model_may_be_a_label_at_check_as_at_runtime(tmp_path):
    async with world(tmp_path, flavour="aiearth", start=False) as w:
        code, out = await _run_bot("--check", env=_bot_env(w, tmp_path, IMAGE_MODEL="seedream 4.5"), cwd=tmp_path)
        assert code == 0, out
        assert " * doubao-seedream-4-5-251128" in out


async def test_an_unusable_database_url_is_one_line_not_a_traceback(tmp_path):
    async with world(tmp_path, start=False) as w:
        for url, start in (
            ("postgres://bot:hunter2-password@db.example/bot", "configuration error: DATABASE_URL is invalid"),
            ("sqlite:////proc/x/bot.db", "configuration error: DATABASE_URL sqlite:////proc/x/bot.db"),
            (f"sqlite:///{tmp_path}", f"configuration error: DATABASE_URL sqlite:///{tmp_path}"),  # a folder
        ):
            for args in ((), ("--check",)):
                code, out = await _run_bot(*args, env=_bot_env(w, tmp_path, DATABASE_URL=url), cwd=tmp_path, timeout=20)
                assert code == 2, out
                _one_clean_line(out, start)
                assert "hunter2-password" not in out


async def test_image_api_base_url_must_be_an_http_url(tmp_path):
    async with world(tmp_path, start=False) as w:
        for url in ("notaurl", "ftp://gateway.example/v1", "https://", "https://me:hunter2pass@gateway.example/v1"):
            code, out = await _run_bot("--check", env=_bot_env(w, tmp_path, IMAGE_API_BASE_URL=url), cwd=tmp_path)
            assert code == 2, out
            _one_clean_line(out, "configuration error: IMAGE_API_BASE_URL is invalid")
            assert "hunter2pass" not in out


async def test_a_pasted_full_endpoint_is_trimmed_to_the_base(tmp_path):
    async with world(tmp_path, flavour="aiearth", start=False) as w:
        pasted = f"{w.gateway.base_url}/images/generations"
        code, out = await _run_bot("--check", env=_bot_env(w, tmp_path, IMAGE_API_BASE_URL=pasted), cwd=tmp_path)
        assert code == 0, out
        assert f"provider: aiearth at {w.gateway.base_url}\n" in out
        assert f"using {w.gateway.base_url} as the base" in out
    async with world(tmp_path, flavour="aiearth", start=False) as w:
        w.settings = w.settings.model_copy(update={"image_api_base_url": f"{w.gateway.base_url}/images/generations/"})
        await w.start_bot()
        inter = await w.run("imagine", {"prompt": "a cat"})
        assert len(inter.files()) == 1


async def test_check_skips_the_model_list_of_a_gateway_without_one(tmp_path):
    async with world(tmp_path, flavour="aiearth", gateway={"models_endpoint": False}, start=False) as w:
        code, out = await _run_bot("--check", env=_bot_env(w, tmp_path, IMAGE_PROVIDER="custom"), cwd=tmp_path)
        assert code == 0, out
        assert "lists no models (GET /models answered 404); skipped" in out
        # aiearth documents GET /models: a 404 there means a wrong base URL, and the check says so
        code, out = await _run_bot("--check", env=_bot_env(w, tmp_path, IMAGE_PROVIDER="aiearth"), cwd=tmp_path)
        assert code == 1 and "GET /models failed" in out, out


async def test_discord_urls_must_be_urls_with_a_host(tmp_path):
    async with world(tmp_path, start=False) as w:
        for name, url in (
            ("DISCORD_API_BASE_URL", "notaurl"), ("DISCORD_API_BASE_URL", "wss://discord.example/api/v10"),
            ("DISCORD_API_BASE_URL", "https://"), ("DISCORD_API_BASE_URL", "https://me:hunter2pass@discord.example"),
            ("DISCORD_GATEWAY_URL", "https://gateway.example"), ("DISCORD_GATEWAY_URL", "wss://"),
        ):
            for args in ((), ("--check",)):
                code, out = await _run_bot(*args, env=_bot_env(w, tmp_path, **{name: url}), cwd=tmp_path, timeout=20)
                assert code == 2, out
                _one_clean_line(out, f"configuration error: {name} is invalid")
                assert "hunter2pass" not in out


async def test_an_unreachable_discord_is_one_line_naming_the_host(tmp_path):
    async with world(tmp_path, start=False) as w:
        for url, failure in (
            ("http://127.0.0.1:1/api/v10", "could not reach Discord at 127.0.0.1:1: ClientConnectorError"),
            ("https://double.invalid/api/v10", "could not reach Discord at double.invalid: ClientConnector"),
        ):
            code, out = await _run_bot(env=_bot_env(w, tmp_path, DISCORD_API_BASE_URL=url), cwd=tmp_path, timeout=30)
            assert code == 1, out
            assert "Traceback" not in out, out
            assert [line for line in out.splitlines() if line.startswith(failure)], out
            assert w.discord.bot_token not in out and API_KEY not in out


async def test_prices_and_budgets_too_large_to_book_stop_the_bot(tmp_path):
    catalog = tmp_path / "catalog.toml"
    catalog.write_text('[models."doubao-seedream-4-0-250828"]\nprice_usd = "1e30"\n')
    async with world(tmp_path, start=False) as w:
        for values, start in (
            ({"IMAGE_PRICES": "doubao-seedream-4-0-250828=1e30"}, "configuration error: IMAGE_PRICES is invalid"),
            ({"IMAGE_PRICES": "doubao-seedream-4-0-250828=1000.01"}, "configuration error: IMAGE_PRICES is invalid"),
            ({"MODEL_CATALOG_FILE": str(catalog)}, f"configuration error: {catalog}"),
            ({"DEFAULT_MONTHLY_USD": "1e30"}, "configuration error: DEFAULT_MONTHLY_USD is invalid"),
            ({"GUILD_MONTHLY_BUDGET_USD": "1000000000.01"}, "configuration error: GUILD_MONTHLY_BUDGET_USD is invalid"),
        ):
            for args in ((), ("--check",)):
                code, out = await _run_bot(*args, env=_bot_env(w, tmp_path, **values), cwd=tmp_path, timeout=20)
                assert code == 2, out
                _one_clean_line(out, start)
                assert "$1,000" in out, out  # the cap is said


async def test_the_largest_price_and_budgets_still_book_a_request(tmp_path):
    top = {"doubao-seedream-4-0-250828": Decimal(1000)}
    async with world(tmp_path, image_prices=top, default_monthly_usd=Decimal(1_000_000_000),
                     guild_monthly_budget_usd=Decimal(1_000_000_000)) as w:
        inter = await w.run("imagine", {"prompt": "a cat", "count": 4})
        assert len(inter.files()) == 4
        [row] = await w.ledger_rows()
        assert row["charged_micros"] == 4_000_000_000


async def test_check_names_the_models_the_gateway_does_not_list(tmp_path, capsys):
    import dataclasses  # noqa: PLC0415

    from bot import check, resolve_preset  # noqa: PLC0415
    from settings import Settings  # noqa: PLC0415
    from tests.doubles.image_gateway_double import ImageGatewayDouble  # noqa: PLC0415

    async with ImageGatewayDouble(flavour="aiearth", api_key=API_KEY) as gw:
        served = {k: v for k, v in gw.flavour.models.items() if k != "doubao-seedream-4-5-251128"}
        gw.flavour = dataclasses.replace(gw.flavour, models=served)
        settings = Settings(_env_file=None, discord_token="x", image_provider="aiearth", image_api_key=API_KEY,
                            image_api_base_url=gw.base_url, database_url=f"sqlite:///{tmp_path / 'c.db'}")
        assert await check(settings, resolve_preset(settings)) == 0  # the default is there: a warning only
    out = capsys.readouterr().out
    [warning] = [line for line in out.splitlines() if line.startswith("warning: the gateway does not list")]
    assert "doubao-seedream-4-5-251128" in warning and "doubao-seedream-5-0-260128" not in warning


@pytest.mark.parametrize(
    ("provider", "given", "used"),
    [
        ("gogogotoken-ai", "https://gogogotoken.ai", "https://gogogotoken.ai/v1"),  # the page's "Base URL"
        ("302ai", "https://API.302.ai/", "https://API.302.ai/doubao"),
        ("gogogotoken-ai", "https://proxy.example", "https://proxy.example"),  # another host: as given
        ("aiearth", "https://api.aiearth.dev/v2", "https://api.aiearth.dev/v2"),  # a path given: as given
    ],
)
def test_the_gateway_host_alone_gets_the_gateway_path(provider, given, used):
    from bot import resolve_preset  # noqa: PLC0415
    from settings import Settings  # noqa: PLC0415

    settings = Settings(_env_file=None, discord_token="x", image_provider=provider, image_api_key="sk-k",
                        image_api_base_url=given)  # fmt: skip
    assert resolve_preset(settings).base_url == used


async def test_a_dev_guild_the_bot_is_not_in_is_one_line_naming_the_setting(tmp_path):
    async with world(tmp_path, start=False) as w:
        env = _bot_env(w, tmp_path, DISCORD_DEV_GUILD_ID="123456789012345678")  # a typo, or not invited yet
        code, out = await _run_bot(env=env, cwd=tmp_path, timeout=30)
        assert code == 2, out
        _one_clean_line(out, "configuration error: DISCORD_DEV_GUILD_ID 123456789012345678: Discord refused")


async def test_an_unreachable_discord_gateway_stops_the_bot_naming_its_host(tmp_path):
    # The API answers (login works); the websocket gateway does not (a firewall, a wrong URL).
    async with world(tmp_path, start=False) as w:
        env = _bot_env(w, tmp_path, DISCORD_GATEWAY_URL="ws://127.0.0.1:1/gateway")
        code, out = await _run_bot(env=env, cwd=tmp_path, timeout=60)
        assert code == 1, out
        assert out.splitlines()[-1] == "could not reach Discord at 127.0.0.1:1: its websocket gateway did not answer"
        assert "AttributeError" not in out and w.discord.bot_token not in out
        # that line alone, not after discord.py's "Attempting a reconnect" and its tracebacks
        assert "Traceback" not in out and "Attempting a reconnect" not in out, out


async def test_a_base_url_with_an_impossible_port_is_a_configuration_error(tmp_path):
    async with world(tmp_path, start=False) as w:
        for name, url in (("IMAGE_API_BASE_URL", "https://gw.example:99999/v1"),
                          ("DISCORD_API_BASE_URL", "http://127.0.0.1:99999/api/v10")):
            for args in ((), ("--check",)):
                code, out = await _run_bot(*args, env=_bot_env(w, tmp_path, **{name: url}), cwd=tmp_path, timeout=20)
                assert code == 2, out
                _one_clean_line(out, f"configuration error: {name} is invalid: is not a valid URL (check its host")


async def test_check_says_an_unreachable_gateway_in_one_line(tmp_path):
    async with world(tmp_path, start=False) as w:
        env = _bot_env(w, tmp_path, IMAGE_PROVIDER="custom", IMAGE_API_BASE_URL="http://127.0.0.1:1/v1")
        code, out = await _run_bot("--check", env=env, cwd=tmp_path, timeout=40)
        assert code == 1, out
        [failure] = [line for line in out.splitlines() if "gateway" in line and "failed" in line]
        assert failure.startswith("gateway: GET /models failed: connection to the gateway failed: Cannot connect")
        assert "WARNING" not in out and "ConnectionKey" not in out and "Traceback" not in out, out


async def test_a_duration_that_is_not_a_number_says_so(tmp_path):
    async with world(tmp_path, start=False) as w:
        for name in ("IMAGE_TIMEOUT_SECONDS", "PROGRESS_EDIT_SECONDS", "SHUTDOWN_GRACE_SECONDS"):
            code, out = await _run_bot("--check", env=_bot_env(w, tmp_path, **{name: "nan"}), cwd=tmp_path, timeout=20)
            assert code == 2, out
            _one_clean_line(out, f"configuration error: {name} is invalid: Input should be a finite number")


async def test_an_attribute_error_in_the_bots_own_start_is_not_told_as_an_unreachable_gateway(tmp_path, monkeypatch):
    # Before any websocket exists it is a bug in setup_hook, and must show as one.
    import bot as bot_module  # noqa: PLC0415

    async def broken(self):
        raise AttributeError("'Storage' object has no attribute 'untold'")

    monkeypatch.setattr(bot_module.SeedreamBot, "sync_commands", broken)
    async with world(tmp_path, start=False) as w:
        with pytest.raises(AttributeError, match="untold"):
            await bot_module.run(w.settings, bot_module.resolve_preset(w.settings))


async def test_a_passing_503_syncing_to_the_dev_guild_does_not_stop_the_bot(tmp_path):
    async with world(tmp_path, start=False) as w:
        w.settings = w.settings.model_copy(update={"discord_dev_guild_id": w.guild.id})
        w.discord.fail_next(1, status=503, method="PUT", path=r"/guilds/\d+/commands")
        await w.start_bot()  # not a configuration error: the bot is in that server
        assert [line for line in w.logs.lines if "could not sync the commands to the development guild" in line]
        await asyncio.wait_for(w.bot.wait_until_ready(), 10)  # and it is up


def _ledger_rows(db: Path) -> list[dict]:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute("SELECT * FROM requests ORDER BY id")]


async def _until_pending(db: Path, timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not any(row["status"] == "pending" for row in _ledger_rows(db)):
            await asyncio.sleep(0.05)


async def test_a_second_bot_on_the_same_database_stops_with_one_line(tmp_path):
    # A second start (start.sh beside a systemd unit) is no crash: its recover_pending would have
    # released the running bot's live reservation ($0 in the books while the gateway billed), and
    # both would have answered every command.
    db = tmp_path / "shared.db"
    async with world(tmp_path, start=False, gateway={"latency": 4.0}) as w:
        env = {"IMAGE_PROVIDER": w.gateway.flavour.name, "IMAGE_API_KEY": API_KEY, "IMAGE_MAX_RETRIES": "0",
               "IMAGE_API_BASE_URL": w.gateway.base_url, "DATABASE_URL": f"sqlite:///{db}"}  # fmt: skip
        for folder in ("first", "second", "after"):
            (tmp_path / folder).mkdir()
        async with BotProcess(w.discord, env, log_path=tmp_path / "first" / "bot.log") as first:
            handle = await w.discord.invoke_command(
                "imagine", {"prompt": "a lighthouse"}, user=w.alice, guild=w.guild, channel=w.channel
            )
            await _until_pending(db)  # at the gateway, its reservation held
            code, out = await _run_bot(env=_bot_env(w, tmp_path, **env), cwd=tmp_path / "second", timeout=30)
            assert code == 2, out
            _one_clean_line(out, f"configuration error: DATABASE_URL sqlite:///{db}: the database is in use by "
                                 f"another bot process (pid {first.pid}); stop it first")  # fmt: skip
            await handle.wait_for_final(timeout=20)
        assert len(handle.files()) == 1 and w.gateway.images_billed == 1, handle.all_text()
        [row] = _ledger_rows(db)
        assert (row["status"], row["cost_micros"], row["charged_micros"]) == ("settled", 162_000, 162_000), row
        # The first one killed (SIGKILL: none of its code ran), its lock went with it.
        async with BotProcess(w.discord, env, log_path=tmp_path / "after" / "bot.log"):
            pass


@contextlib.contextmanager
def _read_only(path: Path):
    """`path` unwritable, for root too (a file's mode does not stop root: the immutable flag does)."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    immutable = shutil.which("chattr") and subprocess.run(["chattr", "+i", path], check=False, capture_output=True)
    if not immutable or immutable.returncode != 0:
        pytest.skip("making a file read-only for root needs chattr +i")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", path], check=False)


async def test_a_read_only_database_is_one_line_at_check_and_at_start(tmp_path):
    # It reads well, so --check said ok, and the start died writing (recover_pending) with a traceback.
    db = tmp_path / "c.db"
    async with world(tmp_path, start=False) as w:
        env = _bot_env(w, tmp_path)
        code, out = await _run_bot("--check", env=env, cwd=tmp_path, timeout=20)  # creates the database
        assert code == 0, out
        with _read_only(db):
            for args in (("--check",), ()):
                code, out = await _run_bot(*args, env=env, cwd=tmp_path, timeout=30)
                assert code == 2, out
                _one_clean_line(out, f"configuration error: DATABASE_URL sqlite:///{db}: cannot open the database: "
                                     "attempt to write a readonly database")  # fmt: skip


async def test_a_base_url_with_a_query_string_stops_the_bot(tmp_path):
    # `https://gw/v1?region=eu` sent every request to `https://gw/v1?region=eu/images/generations`.
    async with world(tmp_path, start=False) as w:
        for url in (f"{w.gateway.base_url}?region=eu", f"{w.gateway.base_url}?key={API_KEY}"):
            for args in ((), ("--check",)):
                code, out = await _run_bot(*args, env=_bot_env(w, tmp_path, IMAGE_API_BASE_URL=url), cwd=tmp_path)
                assert code == 2, out
                _one_clean_line(out, "configuration error: IMAGE_API_BASE_URL is invalid: must not have a query string")
                assert API_KEY not in out and "region" not in out, out


async def test_check_never_prints_a_key_pasted_into_the_base_url(tmp_path):
    async with world(tmp_path, start=False) as w:
        env = _bot_env(w, tmp_path, IMAGE_API_BASE_URL=f"{w.gateway.base_url}/{API_KEY}")
        _code, out = await _run_bot("--check", env=env, cwd=tmp_path, timeout=20)
        assert f"provider: {w.gateway.flavour.name} at {w.gateway.base_url}/[redacted]\n" in out, out
        assert API_KEY not in out, out


async def test_amounts_in_dotenv_are_written_as_for_budget(tmp_path):
    # README: amounts "are written like 5, 12.50, $1,000, 12,50 or 0,162": .env took only 5 and 12.50.
    dotenv = tmp_path / ".env"
    async with world(tmp_path, start=False) as w:
        env = _bot_env(w, tmp_path)
        dotenv.write_text("DEFAULT_MONTHLY_USD=$5\nGUILD_MONTHLY_BUDGET_USD=$1,000\n"
                          "IMAGE_PRICES=doubao-seedream-4-0-250828=$0.162\n")  # fmt: skip
        code, out = await _run_bot("--check", env=env, cwd=tmp_path, timeout=20)
        assert code == 0, out
        assert " * doubao-seedream-4-0-250828" in out and "$0.162" in out, out
        for prices, start in (
            ("doubao-seedream-4-0-250828=0,162", "doubao-seedream-4-0-250828: commas separate the pairs, so 0,162 "
                                                 "is not one price; write decimals with a dot"),
            ("doubao-seedream-4-0-250828=0.1,doubao-seedream-4-0-250828=0.2", "doubao-seedream-4-0-250828 is priced "
                                                                             "twice"),
        ):  # fmt: skip
            dotenv.write_text(f"IMAGE_PRICES={prices}\n")
            code, out = await _run_bot("--check", env=env, cwd=tmp_path, timeout=20)
            assert code == 2, out
            _one_clean_line(out, f"configuration error: IMAGE_PRICES is invalid: {start}")
