"""Starting the bot: command sync, crash recovery, `--check` and settings errors."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from storage.ledger import Limits, RequestRecord
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


async def _run_bot(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """`python bot.py` in an empty folder, so no developer's .env is read."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bot.py"), *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
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
