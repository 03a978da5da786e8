"""The settings of README.md and .env.example, as a server owner meets them with `python bot.py`
and `python bot.py --check` (run as a process in an empty folder, so no developer's .env is read)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.doubles.discord_double import DiscordDouble
from tests.doubles.image_gateway_double import ImageGatewayDouble
from tests.e2e.botproc import BotProcess
from tests.e2e.harness import API_KEY

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "discord-token-that-is-secret-0123456789"


async def run_bot(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bot.py"), *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"bot.py {' '.join(args)} still running after {timeout} s") from None
    return proc.returncode, out.decode()


def base_env(tmp: Path, **values: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    return {
        **keep,
        "DISCORD_TOKEN": TOKEN,
        "IMAGE_API_KEY": API_KEY,
        "DATABASE_URL": f"sqlite:///{tmp / 'c.db'}",
        **values,
    }


def one_config_line(out: str, starts: str) -> str:
    assert "Traceback" not in out, out
    lines = [line for line in out.splitlines() if line.startswith("configuration error:")]
    assert len(lines) == 1, out
    assert lines[0].startswith(starts), out
    assert API_KEY not in out and TOKEN not in out
    return lines[0]


# -- bad values: one `configuration error:` line naming the setting, exit 2 ------------------------

BAD = [
    ("MAX_CONCURRENT_REQUESTS", "0"),
    ("MAX_CONCURRENT_REQUESTS", "257"),
    ("MAX_CONCURRENT_REQUESTS", "ten"),
    ("MAX_REQUESTS_PER_MEMBER", "51"),
    ("DEFAULT_DAILY_IMAGES", "-1"),
    ("DEFAULT_DAILY_IMAGES", "2.5"),
    ("DEFAULT_MONTHLY_USD", "-5"),
    ("GUILD_MONTHLY_BUDGET_USD", "lots"),
    ("RESULT_MEMORY_MB", "-1"),
    ("RESULT_MEMORY_MB", "4097"),
    ("MAX_CONCURRENT_DOWNLOADS", "0"),
    ("MAX_CONCURRENT_DOWNLOADS", "65"),
    ("MAX_RESULT_MB", "513"),
    ("IMAGE_RESPONSE_FORMAT", "png"),
    ("REFERENCE_IMAGES_AS", "base64"),
    ("IMAGE_WATERMARK", "maybe"),
    ("IMAGE_STREAM", "sometimes"),
    ("IMAGE_TIMEOUT_SECONDS", "0"),
    ("IMAGE_MAX_RETRIES", "11"),
    ("PROGRESS_EDIT_SECONDS", "61"),
    ("SHUTDOWN_GRACE_SECONDS", "3601"),
    ("LOG_LEVEL", "verbose"),
    ("DISCORD_DEV_GUILD_ID", "my-server"),
]


async def test_every_bad_value_is_one_configuration_error_line_naming_it(tmp_path):
    failures = []
    for name, value in BAD:
        for args in ((), ("--check",)):
            env = base_env(tmp_path, IMAGE_PROVIDER="gogogotoken-com", **{name: value})
            code, out = await run_bot(*args, env=env, cwd=tmp_path, timeout=30)
            lines = [line for line in out.splitlines() if line.startswith("configuration error:")]
            ok = code == 2 and len(lines) == 1 and lines[0].startswith(f"configuration error: {name} is invalid")
            if not ok or "Traceback" in out:
                failures.append((name, value, args, code, out[-400:]))
    assert failures == []


async def test_the_edges_of_every_range_are_accepted_by_check(tmp_path):
    env = base_env(
        tmp_path, IMAGE_PROVIDER="gogogotoken-com", MAX_CONCURRENT_REQUESTS="256", MAX_REQUESTS_PER_MEMBER="50",
        RESULT_MEMORY_MB="0", MAX_CONCURRENT_DOWNLOADS="64", MAX_RESULT_MB="512", IMAGE_MAX_RETRIES="10",
        PROGRESS_EDIT_SECONDS="60", SHUTDOWN_GRACE_SECONDS="3600", DEFAULT_DAILY_IMAGES="0",
        DEFAULT_MONTHLY_USD="$1,000", GUILD_MONTHLY_BUDGET_USD="0,162", LOG_LEVEL="warning",
        IMAGE_WATERMARK="true", IMAGE_STREAM="false", IMAGE_RESPONSE_FORMAT="b64_json", REFERENCE_IMAGES_AS="url",
    )  # fmt: skip
    code, out = await run_bot("--check", env=env, cwd=tmp_path)
    assert code == 0, out


# -- providers and prices at --check ---------------------------------------------------------------

async def test_check_on_gogogotoken_com_shows_the_pages_prices_and_an_override(tmp_path):
    env = base_env(tmp_path, IMAGE_PROVIDER="gogogotoken-com")
    code, out = await run_bot("--check", env=env, cwd=tmp_path)
    assert code == 0, out
    assert "provider: gogogotoken-com at https://gogogotoken.com/v1" in out
    lines = {line.split()[-2] if line.startswith(" *") else line.split()[0]: line for line in out.splitlines()
             if "doubao-" in line}  # fmt: skip
    assert "$0.162" in lines["doubao-seedream-4-0-250828"], out
    assert "$0.135" in lines["doubao-seedream-4-5-251128"], out
    assert "$0.135" in lines["doubao-seedream-5-0-260128"], out
    assert " * doubao-seedream-4-0-250828" in out  # the default, first in README's table
    assert "warning: no price" not in out
    env["IMAGE_PRICES"] = "doubao-seedream-4-5-251128=$0.14"
    code, out = await run_bot("--check", env=env, cwd=tmp_path)
    assert code == 0, out
    [line] = [line for line in out.splitlines() if "doubao-seedream-4-5-251128" in line]
    assert "$0.14" in line and "$0.135" not in line, out


@pytest.mark.parametrize(
    ("provider", "base", "models"),
    [
        ("gogogotoken-ai", "https://gogogotoken.ai/v1", ["doubao-seedream-5-0-lite", "doubao-seedream-4-5"]),
        ("aiearth", "https://api.aiearth.dev/v1", ["doubao-seedream-5-0-260128", "doubao-seedream-4-5-251128",
                                                   "doubao-seedream-4-0-250828", "doubao-seedream-3-0-t2i-250415",
                                                   "doubao-seededit-3-0-i2i-250628"]),
        ("302ai", "https://api.302.ai/doubao", ["doubao-seedream-3-0-t2i-250415", "doubao-seededit-3-0-i2i-250628",
                                                "doubao-seedream-4-0-250828", "doubao-seedream-4-5-251128",
                                                "doubao-seedream-5-0-260128"]),
        ("xmsmartlink", "https://vip.xmsmartlink.com/v1", ["doubao-seedream-5-0-260128", "gpt-image-1.5",
                                                           "gpt-image-2"]),
    ],
)  # fmt: skip
async def test_check_lists_the_readme_table_of_each_gateway_default_first(tmp_path, provider, base, models):
    if provider == "aiearth":  # it has GET /models: let it answer from a double
        async with ImageGatewayDouble(flavour="aiearth", api_key=API_KEY) as gw:
            env = base_env(tmp_path, IMAGE_PROVIDER=provider, IMAGE_API_BASE_URL=gw.base_url)
            code, out = await run_bot("--check", env=env, cwd=tmp_path)
    else:
        env = base_env(tmp_path, IMAGE_PROVIDER=provider)
        code, out = await run_bot("--check", env=env, cwd=tmp_path)
        assert f"provider: {provider} at {base}\n" in out, out
        assert "this gateway has no model list; skipped" in out, out
    assert code == 0, out
    listed = [line.split()[-3] if "price unknown" in line else None for line in out.splitlines()
              if line.startswith(("  ", " *")) and "price unknown" in line]  # fmt: skip
    ids = [line.replace("*", " ").split()[0] for line in out.splitlines() if line.startswith(("  ", " *"))]
    assert ids == models, out
    assert f" * {models[0]}" in out
    assert listed  # README: "prices built in: no"
    [warning] = [line for line in out.splitlines() if line.startswith("warning: no price for")]
    assert all(m in warning for m in models)


async def test_custom_without_a_base_url_is_one_line(tmp_path):
    for args in ((), ("--check",)):
        code, out = await run_bot(*args, env=base_env(tmp_path, IMAGE_PROVIDER="custom"), cwd=tmp_path)
        assert code == 2, out
        one_config_line(out, "configuration error: IMAGE_API_BASE_URL is not set; the custom provider needs one")


async def test_custom_check_against_a_gateway_listing_its_models(tmp_path):
    async with ImageGatewayDouble(flavour="aiearth", api_key=API_KEY) as gw:
        env = base_env(tmp_path, IMAGE_PROVIDER="custom", IMAGE_API_BASE_URL=gw.base_url)
        code, out = await run_bot("--check", env=env, cwd=tmp_path)
        assert code == 0, out
        assert " * doubao-seedream-5-0-260128" in out
        assert "gateway: answers with 5 model(s)" in out
    async with ImageGatewayDouble(flavour="xmsmartlink", api_key=API_KEY, models_endpoint=True) as gw:
        # a custom gateway whose list lacks the default model fails the check, naming it
        env = base_env(tmp_path, IMAGE_PROVIDER="custom", IMAGE_API_BASE_URL=gw.base_url,
                       IMAGE_MODEL="doubao-seedream-4-5-251128")
        code, out = await run_bot("--check", env=env, cwd=tmp_path)
        assert code == 1, out
        assert "does not list the default model doubao-seedream-4-5-251128" in out


async def test_a_price_for_another_gateways_model_id_is_one_line_naming_this_gateways(tmp_path):
    # README: "by that gateway's model ids ...; an id the gateway does not offer stops the start"
    env = base_env(tmp_path, IMAGE_PROVIDER="gogogotoken-ai", IMAGE_PRICES="doubao-seedream-5-0-260128=0.035")
    for args in ((), ("--check",)):
        code, out = await run_bot(*args, env=env, cwd=tmp_path)
        assert code == 2, out
        line = one_config_line(out, "configuration error: IMAGE_PRICES names a model this gateway does not offer")
        assert "doubao-seedream-5-0-lite" in line and "doubao-seedream-4-5" in line


async def test_a_catalog_file_that_does_not_exist_is_one_line(tmp_path):
    env = base_env(tmp_path, IMAGE_PROVIDER="aiearth", MODEL_CATALOG_FILE=str(tmp_path / "missing.toml"))
    for args in ((), ("--check",)):
        code, out = await run_bot(*args, env=env, cwd=tmp_path)
        assert code == 2, out
        one_config_line(out, f"configuration error: {tmp_path / 'missing.toml'}")


async def test_a_catalog_file_adding_a_model_to_gogogotoken_ai_keeps_its_floor_at_check(tmp_path):
    catalog = tmp_path / "catalog.toml"
    catalog.write_text('[models."doubao-seedream-4-0-250828"]\nlike = "doubao-seedream-4-0-250828"\n'
                       'default_size = "1K"\nprice_usd = "0.03"\n', encoding="utf-8")  # fmt: skip
    env = base_env(tmp_path, IMAGE_PROVIDER="gogogotoken-ai", MODEL_CATALOG_FILE=str(catalog))
    code, out = await run_bot("--check", env=env, cwd=tmp_path)
    assert code == 2, out
    line = one_config_line(out, f"configuration error: {catalog}")
    assert "default_size" in line


# -- LOG_LEVEL, as the running bot writes its log -------------------------------------------------

async def _imagine_in_a_process(tmp_path: Path, **values: str) -> tuple[str, str]:
    """Start `python bot.py` with these settings, run one /imagine, stop it; (its log, the interaction token)."""
    async with DiscordDouble() as dd, ImageGatewayDouble(flavour="gogogotoken-com", api_key=API_KEY) as gw:
        guild = dd.add_guild("Test Server")
        channel = dd.add_channel(guild, "images")
        alice = dd.add_user("alice")
        dd.add_member(guild, alice)
        env = {"IMAGE_PROVIDER": gw.flavour.name, "IMAGE_API_KEY": API_KEY, "IMAGE_API_BASE_URL": gw.base_url,
               "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", **values}  # fmt: skip
        async with BotProcess(dd, env, log_path=tmp_path / "bot.log") as bot:
            inter = await dd.invoke_command("imagine", {"prompt": "a cat"}, user=alice, guild=guild, channel=channel)
            await inter.wait_for_final(timeout=30)
            assert len(inter.files()) == 1, inter.all_text()
            await bot.stop()
            return bot.logs(), inter.token


async def test_log_level_warning_in_lower_case_keeps_info_lines_out(tmp_path):
    logs, _ = await _imagine_in_a_process(tmp_path, LOG_LEVEL="warning")
    assert not [line for line in logs.splitlines() if " INFO " in line or " DEBUG " in line], logs[-2000:]


async def test_log_level_info_says_what_the_bot_did(tmp_path):
    logs, _ = await _imagine_in_a_process(tmp_path, LOG_LEVEL="INFO")
    assert any(" INFO " in line for line in logs.splitlines()), logs[-2000:]
    assert not any(" DEBUG " in line for line in logs.splitlines()), logs[-2000:]


async def test_log_level_debug_never_writes_an_interaction_token(tmp_path):
    # log_setup: "an interaction's token answers as the bot for 15 minutes"
    logs, token = await _imagine_in_a_process(tmp_path, LOG_LEVEL="debug")
    assert any(" DEBUG " in line for line in logs.splitlines()), logs[-2000:]
    leaked = [line[:200] for line in logs.splitlines() if token[:24] in line]
    assert leaked == []
