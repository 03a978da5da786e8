"""Operators' mistakes: `python bot.py [--check]` as an operator runs it, as a process in an empty
folder with its own `.env` (so no developer's .env is read), against doubles on loopback only.

README: a setting that cannot be used stops the start and `--check` with one `configuration error:`
line; a Discord that cannot be reached is one `could not reach Discord at <host>` line; the token
and the key never appear in any output."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from tests.doubles.discord_double import DiscordDouble
from tests.doubles.image_gateway_double import ImageGatewayDouble
from tests.e2e.botproc import BotProcess
from tests.e2e.harness import API_KEY
from tests.e2e.test_startup import _env, _run_bot

TOKEN = "operator.discord-token.SECRET-0123456789"
KEY = "sk-operator-secret-key-0a1b2c3d4e5f"


def _config_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("configuration error:")]


def _write_env(folder: Path, text: str, encoding: str = "utf-8") -> None:
    (folder / ".env").write_bytes(text.encode(encoding))


# A `.env` that is not UTF-8 (a comment with an accent saved by a Windows editor in Windows-1252,
# or Notepad's "Unicode", i.e. UTF-16) used to stop `python bot.py` and `--check` with a 12-line
# UnicodeDecodeError traceback naming neither `.env` nor what to do. README: one `configuration
# error:` line, exit 2.
async def test_a_dotenv_not_saved_as_utf8_is_one_configuration_error_line(tmp_path):
    lines = (
        "# réglages du bot (saved by a Windows editor)\n"
        f"DISCORD_TOKEN={TOKEN}\nIMAGE_PROVIDER=gogogotoken-com\nIMAGE_API_KEY={KEY}\n"
        "DATABASE_URL=sqlite:///bot.db\n"
    )
    failures = []
    for encoding in ("cp1252", "utf-16"):
        _write_env(tmp_path, lines, encoding)
        for args in (("--check",), ()):
            code, out = await _run_bot(*args, env=_env(), cwd=tmp_path, timeout=30)
            assert KEY not in out and TOKEN not in out, out
            ok = code == 2 and "Traceback" not in out and len(_config_lines(out)) == 1 and ".env" in out
            if not ok:
                failures.append((encoding, args, code, out[-300:]))
    assert failures == []


# A key pasted a second time on a line of its own in `.env` (a paste that went twice, or the old
# key kept below the new one) used to be printed back at every start and by `--check`, in capitals
# ("warning: SK-... in .env is not a setting"): unknown names are said in capitals, and the
# redaction compared case-sensitively. README: "never logged or shown".
async def test_a_key_pasted_on_its_own_line_in_dotenv_is_never_printed_in_any_case(tmp_path):
    _write_env(tmp_path, (
        f"DISCORD_TOKEN={TOKEN}\nIMAGE_PROVIDER=gogogotoken-com\n"
        f"IMAGE_API_KEY={KEY}\n{KEY}\n"
        "DATABASE_URL=sqlite:///bot.db\n"
    ))  # fmt: skip
    code, out = await _run_bot("--check", env=_env(), cwd=tmp_path, timeout=30)
    assert code == 0, out  # the settings themselves are fine
    assert KEY.lower() not in out.lower(), out
    assert "1 line(s) in .env are not NAME=value settings" in out, out


async def _fake_discord(status: int, body: str) -> tuple[web.AppRunner, str]:
    """Something on loopback that answers every request with `status` (a proxy or a wrong path)."""

    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=status, text=body, content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"127.0.0.1:{port}"


# DISCORD_API_BASE_URL that answers, but not as Discord's API (the version left out of the URL, a
# proxy's 404 page, or Cloudflare's 403 "Access denied (1020)" page that Discord serves to a banned
# address) used to end the start with discord.py's 25-line traceback. README: "a Discord that
# cannot be reached stops it with one `could not reach Discord at <host>` line".
async def test_a_discord_url_that_answers_404_or_403_at_login_is_one_line_not_a_traceback(tmp_path):
    failures = []
    for status, body in ((404, "<html>404 page not found</html>"), (403, "<html>error 1020 Access denied</html>")):
        runner, host = await _fake_discord(status, body)
        try:
            env = _env(DISCORD_TOKEN=TOKEN, IMAGE_PROVIDER="gogogotoken-com", IMAGE_API_KEY=KEY,
                       DATABASE_URL=f"sqlite:///{tmp_path / f'b{status}.db'}",
                       DISCORD_API_BASE_URL=f"http://{host}/api/v10", DISCORD_GATEWAY_URL=f"ws://{host}/gateway")
            code, out = await _run_bot(env=env, cwd=tmp_path, timeout=30)
        finally:
            await runner.cleanup()
        assert TOKEN not in out and KEY not in out, out
        named = [line for line in out.splitlines() if host in line and "Discord" in line]
        if code == 0 or "Traceback" in out or len(named) != 1:
            failures.append((status, code, out[-400:]))
    assert failures == []


# The `custom` preset as the README documents it: IMAGE_API_BASE_URL with the whole
# endpoint pasted, a model chosen by its label, prices written with `$`, and `--check` listing the
# five models with the default first and the prices; then a normal start against both doubles.
async def test_custom_gateway_with_label_model_and_dollar_prices_checks_and_starts(tmp_path):
    async with ImageGatewayDouble(flavour="aiearth", api_key=API_KEY) as gw, DiscordDouble() as dd:
        env = _env(
            DISCORD_TOKEN=dd.bot_token, DISCORD_API_BASE_URL=dd.api_base, DISCORD_GATEWAY_URL=dd.gateway_url,
            IMAGE_PROVIDER="Custom", IMAGE_API_KEY=f"  {API_KEY}\r",
            IMAGE_API_BASE_URL=f"{gw.base_url}/images/generations", IMAGE_MODEL="seedream 4.5",
            IMAGE_PRICES="doubao-seedream-4-5-251128=$0.04, doubao-seedream-5-0-260128=0.035",
            DATABASE_URL=f"sqlite:///{tmp_path / 'custom.db'}", LOG_LEVEL="warning",
        )  # fmt: skip
        code, out = await _run_bot("--check", env=env, cwd=tmp_path, timeout=30)
        assert code == 0, out
        assert " * doubao-seedream-4-5-251128" in out and "$0.04" in out and "$0.035" in out, out
        assert f"provider: custom at {gw.base_url}\n" in out, out
        assert "gateway: answers with 5 model(s)" in out, out
        assert API_KEY not in out and dd.bot_token not in out

        # The same settings start the bot; SIGTERM stops it cleanly (exit 0, no traceback).
        bot = BotProcess(dd, {k: v for k, v in env.items() if k not in ("PATH",)}, log_path=tmp_path / "bot.log")
        await bot.start()
        await bot.stop()
        assert bot.proc is not None and bot.proc.returncode == 0, bot.logs()[-800:]
        logs = bot.logs()
        assert "Traceback" not in logs and API_KEY not in logs and dd.bot_token not in logs, logs[-800:]
