"""Configuring and starting the bot as an owner does (`python bot.py [--check]` as a process): a
setting that cannot be used is one `configuration error:` line, never a traceback, and no line
repeats the token or the key, even one pasted on another setting's line."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.doubles.discord_double import DiscordDouble
from tests.doubles.image_gateway_double import ImageGatewayDouble
from tests.e2e.botproc import BotProcess
from tests.e2e.harness import API_KEY
from tests.e2e.test_startup import _env, _run_bot

TOKEN = "review.discord-token.SECRET-0123456789"


def _config_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("configuration error:")]


# IMAGE_PRICES's messages name the model as written: a key pasted on that line (or the token) was
# printed in full.
@pytest.mark.parametrize("written", [
    API_KEY,  # the key pasted on the IMAGE_PRICES line
    f"{API_KEY}=abc",
    f"{API_KEY}=1,{API_KEY}=2",
    TOKEN,
])
async def test_a_secret_pasted_into_image_prices_is_never_printed(tmp_path, written):
    env = _env(DISCORD_TOKEN=TOKEN, IMAGE_PROVIDER="gogogotoken-com", IMAGE_API_KEY=API_KEY,
               DATABASE_URL=f"sqlite:///{tmp_path / 'b.db'}", IMAGE_PRICES=written)
    code, out = await _run_bot("--check", env=env, cwd=tmp_path, timeout=30)
    assert code == 2, out
    assert len(_config_lines(out)) == 1 and "IMAGE_PRICES" in out, out
    assert API_KEY not in out and TOKEN not in out, out


# A database that cannot be opened is named by its DATABASE_URL, which may hold a secret.
async def test_a_secret_inside_an_unusable_database_url_is_never_printed(tmp_path):
    env = _env(DISCORD_TOKEN=TOKEN, IMAGE_PROVIDER="gogogotoken-com", IMAGE_API_KEY=API_KEY,
               DATABASE_URL=f"sqlite:////proc/{API_KEY}/bot.db")
    code, out = await _run_bot("--check", env=env, cwd=tmp_path, timeout=30)
    assert code == 2 and len(_config_lines(out)) == 1, out
    assert API_KEY not in out, out


# A database written by a newer version of the bot (an upgrade rolled back) used to stop --check
# and the start with a RuntimeError traceback.
async def test_a_database_from_a_newer_bot_is_one_configuration_error_line(tmp_path):
    db = tmp_path / "newer.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 99")
    async with DiscordDouble() as dd:
        env = _env(DISCORD_TOKEN=dd.bot_token, DISCORD_API_BASE_URL=dd.api_base, DISCORD_GATEWAY_URL=dd.gateway_url,
                   IMAGE_PROVIDER="gogogotoken-com", IMAGE_API_KEY=API_KEY, DATABASE_URL=f"sqlite:///{db}")
        for args in (("--check",), ()):
            code, out = await _run_bot(*args, env=env, cwd=tmp_path, timeout=30)
            assert "Traceback" not in out, out[-1500:]
            assert code == 2, out
            [line] = _config_lines(out)
            assert line.startswith("configuration error: DATABASE_URL") and "newer" in line, out


# From the environment (docker --env-file written on Windows, `export IMAGE_API_KEY=" sk-..."`) the
# key was used as given: a trailing CR failed every request ("Something went wrong on the bot's
# side", aiohttp refusing the header), a leading space got 401 on every request. It is trimmed.
@pytest.mark.parametrize("key", [API_KEY + "\r", " " + API_KEY], ids=["trailing-CR", "leading-space"])
async def test_an_api_key_with_surrounding_whitespace_works_or_stops_the_start(tmp_path, key):
    flavour = "gogogotoken-com"
    async with DiscordDouble() as dd, ImageGatewayDouble(flavour=flavour, api_key=API_KEY) as gw:
        guild = dd.add_guild("S")
        channel = dd.add_channel(guild, "images")
        alice = dd.add_user("alice")
        dd.add_member(guild, alice)
        env = {"IMAGE_PROVIDER": flavour, "IMAGE_API_KEY": key, "IMAGE_API_BASE_URL": gw.base_url,
               "DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}", "IMAGE_MAX_RETRIES": 0}
        bot = BotProcess(dd, env, log_path=tmp_path / "bot.log")
        try:
            await bot.start()
        except RuntimeError:  # refused at start: fine, if it says which setting in one line
            await bot.stop()
            assert len(_config_lines(bot.logs())) == 1 and "IMAGE_API_KEY" in bot.logs(), bot.logs()
            return
        try:
            inter = await dd.invoke_command("imagine", {"prompt": "a cat"}, user=alice, guild=guild, channel=channel)
            await inter.wait_for_final(timeout=30)
        finally:
            bot.kill()
            await bot.stop()
        assert len(inter.files()) == 1, inter.all_text()
        assert "Traceback" not in bot.logs()


async def test_a_key_with_a_line_break_inside_is_one_configuration_error_line(tmp_path):
    env = _env(DISCORD_TOKEN=TOKEN, IMAGE_PROVIDER="gogogotoken-com", IMAGE_API_KEY=API_KEY[:10] + "\n" + API_KEY[10:],
               DATABASE_URL=f"sqlite:///{tmp_path / 'b.db'}")
    code, out = await _run_bot("--check", env=env, cwd=tmp_path, timeout=30)
    assert code == 2, out
    [line] = _config_lines(out)
    assert "IMAGE_API_KEY" in line and "line breaks" in line, out
    assert API_KEY[10:] not in out and API_KEY[:10] not in out, out


# .env.example copied with Windows line endings, a UTF-8 BOM and quoted values, only the
# token and key filled in, gives the documented defaults (gogogotoken.com's built-in prices).
async def test_env_example_with_crlf_bom_and_quotes_checks_with_the_documented_defaults(tmp_path):
    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text(encoding="utf-8")
    text = example.replace("DISCORD_TOKEN=\n", f'DISCORD_TOKEN="{TOKEN}"\n')
    text = text.replace("IMAGE_API_KEY=\n", f"IMAGE_API_KEY='{API_KEY}'\n")
    (tmp_path / ".env").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    code, out = await _run_bot("--check", env=_env(), cwd=tmp_path, timeout=30)
    assert code == 0, out
    assert "provider: gogogotoken-com at https://gogogotoken.com/v1" in out
    assert " * doubao-seedream-4-0-250828" in out and "$0.162" in out and "$0.135" in out
    assert "database: sqlite:///data/bot.db (ok" in out and (tmp_path / "data" / "bot.db").exists()
    assert API_KEY not in out and TOKEN not in out



async def test_a_misspelled_setting_is_named_not_silently_ignored(tmp_path):
    # GUILD_MONTHLY_BUDGET (without _USD) used to leave the server's budget unlimited without a word.
    (tmp_path / ".env").write_text(
        f"DISCORD_TOKEN={TOKEN}\nIMAGE_PROVIDER=gogogotoken-com\nIMAGE_API_KEY={API_KEY}\n"
        "GUILD_MONTHLY_BUDGET=50\nSOMETHING_ELSE=1\n"
    )
    env = _env(DATABASE_URL=f"sqlite:///{tmp_path / 'b.db'}", IMAGE_MAX_RETRYS="2", EDITOR="vi")
    code, out = await _run_bot("--check", env=env, cwd=tmp_path, timeout=30)
    assert code == 0, out
    warnings = [line for line in out.splitlines() if " is not a setting" in line]
    assert warnings == [
        "warning: GUILD_MONTHLY_BUDGET in .env is not a setting; did you mean GUILD_MONTHLY_BUDGET_USD?",
        "warning: SOMETHING_ELSE in .env is not a setting",
        "warning: the environment variable IMAGE_MAX_RETRYS is not a setting; did you mean IMAGE_MAX_RETRIES?",
    ], out
    assert API_KEY not in out and TOKEN not in out
