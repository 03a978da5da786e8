"""`python bot.py` as a process, set up as README.md says: `cp .env.example
.env`, then DISCORD_TOKEN, IMAGE_PROVIDER and IMAGE_API_KEY filled in (the doubles' addresses come
from the environment, which wins over .env). What the operator reads at start, and the first
/imagine of a member."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.doubles.discord_double import DiscordDouble
from tests.doubles.image_gateway_double import ImageGatewayDouble
from tests.e2e.botproc import BotProcess
from tests.e2e.harness import API_KEY

ROOT = Path(__file__).resolve().parents[2]
LEVEL = re.compile(r"^\S+ \S+ (WARNING|ERROR|CRITICAL)\s")


def _dotenv_as_the_readme_says(folder: Path, token: str, provider: str, key: str) -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    text = example.replace("DISCORD_TOKEN=\n", f"DISCORD_TOKEN={token}\n")
    text = re.sub(r"^IMAGE_PROVIDER=.*$", f"IMAGE_PROVIDER={provider}", text, flags=re.M)
    text = text.replace("IMAGE_API_KEY=\n", f"IMAGE_API_KEY={key}\n")
    (folder / ".env").write_text(text, encoding="utf-8")


def _doubles_env(gw: ImageGatewayDouble) -> dict[str, str]:
    return {"IMAGE_API_BASE_URL": gw.base_url, "HOME": os.environ.get("HOME", "")}


# The start log of a fresh install on aiearth had three WARNING lines: the one real problem (no
# prices set: spend recorded as $0) and two from discord.py about voice ("PyNaCl is not installed,
# voice will NOT be supported", and davey's), at every start, for a bot with no voice: an operator
# following "one clear line per problem" wondered what to install. One WARNING line, the prices'.
async def test_the_start_log_of_a_fresh_install_warns_only_about_real_problems(tmp_path):
    async with ImageGatewayDouble(flavour="aiearth", api_key=API_KEY) as gw, DiscordDouble() as dd:
        _dotenv_as_the_readme_says(tmp_path, dd.bot_token, "aiearth", API_KEY)
        async with BotProcess(dd, _doubles_env(gw), log_path=tmp_path / "bot.log") as bot:
            pass
        logs = bot.logs()
    warnings = [line.split(" ", 2)[2] for line in logs.splitlines() if LEVEL.match(line)]
    assert len(warnings) == 1 and "no price for doubao-seedream-5-0-260128" in warnings[0], warnings
    assert API_KEY not in logs and dd.bot_token not in logs


# IMAGE_API_KEY given through the environment with its quotes ("sk-..."), as `docker run
# --env-file` and a compose file's `- IMAGE_API_KEY="sk-..."` pass it, was taken as it was: the bot
# started without a word, and every member's request then failed ("The bot is not set up
# correctly"). The quotes are dropped, as .env drops them, and the request works.
async def test_a_quoted_api_key_in_the_environment_works(tmp_path):
    async with ImageGatewayDouble(flavour="gogogotoken-com", api_key=API_KEY) as gw, DiscordDouble() as dd:
        guild = dd.add_guild("Server")
        channel = dd.add_channel(guild, "images")
        alice = dd.add_user("alice")
        dd.add_member(guild, alice)
        _dotenv_as_the_readme_says(tmp_path, dd.bot_token, "gogogotoken-com", "")
        env = {**_doubles_env(gw), "IMAGE_API_KEY": f'"{API_KEY}"'}
        bot = BotProcess(dd, env, log_path=tmp_path / "bot.log")
        await bot.start()
        try:
            inter = await dd.invoke_command("imagine", {"prompt": "a fox"}, user=alice, guild=guild, channel=channel)
            await inter.wait_for_final(timeout=20, quiet=0.5)
            text = inter.all_text()
        finally:
            bot.kill()
            await bot.stop()
        assert len(inter.files()) == 1, text
