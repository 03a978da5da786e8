"""The bot's own peak memory (its process alone) while a 15-image series of 4K
PNGs (~35 MiB each) is fetched, re-encoded under 10 MiB and posted on an unboosted server."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from tests.doubles.discord_double import DiscordDouble
from tests.doubles.image_gateway_double import ImageGatewayDouble
from tests.e2e.botproc import BotProcess
from tests.e2e.harness import API_KEY
from tests.e2e.uploads import PNG_4K, MiB

# Measured: 231 MB for 3, 281 MB for 15 (one 4K re-encode at a time, two malloc arenas); it was
# 327 and 535-600 MB with two re-encodes at once and glibc's default arenas.
BOT_PEAK_MB = {3: 300, 15: 400}


def _status(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024  # MB
    raise KeyError(key)


@pytest.mark.parametrize("count", [3, 15])
async def test_a_series_of_4k_pngs_keeps_the_bots_memory_bounded(tmp_path, count):
    db = tmp_path / "bot.db"
    async with DiscordDouble() as dd, ImageGatewayDouble(flavour="gogogotoken-com", api_key=API_KEY, **PNG_4K) as gw:
        guild = dd.add_guild("Test Server")
        channel = dd.add_channel(guild, "images")
        alice = dd.add_user("alice")
        dd.add_member(guild, alice)
        env = {"IMAGE_PROVIDER": gw.flavour.name, "IMAGE_API_KEY": API_KEY, "IMAGE_API_BASE_URL": gw.base_url,
               "DATABASE_URL": f"sqlite:///{db}"}  # fmt: skip
        async with BotProcess(dd, env, log_path=tmp_path / "bot.log") as bot:
            options = {"prompt": "fifteen panels of a fox", "count": count, "size": "4K"}
            inter = await dd.invoke_command("series", options, user=alice, guild=guild, channel=channel)
            async with asyncio.timeout(300):
                while True:
                    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                        row = conn.execute("SELECT status, images_delivered FROM requests").fetchone()
                    if row and row[0] != "pending":
                        break
                    await asyncio.sleep(0.2)
            await inter.wait_for_final(timeout=30)
            peak = _status(bot.pid, "VmHWM")
        assert row == ("settled", count)
        files = inter.files()
        assert len(files) == count and all(len(d) <= 10 * MiB for _n, d in files)
        assert peak <= BOT_PEAK_MB[count], f"the bot's peak RSS was {peak} MB"
