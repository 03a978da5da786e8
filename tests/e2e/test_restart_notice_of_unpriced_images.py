"""An unpriced model's cost is 'not known' in a restart's notice, as in results and /history, also
once a price was set at that restart."""

from __future__ import annotations

import asyncio

from tests.doubles.discord_double import DiscordDouble
from tests.doubles.image_gateway_double import ImageGatewayDouble
from tests.e2e.botproc import BotProcess
from tests.e2e.harness import API_KEY
from tests.e2e.test_crash_recovery import server_with_alice, wait_for_notice, wait_for_row


async def test_restart_notice_for_images_made_unpriced_is_not_free_once_a_price_is_set_at_the_restart(tmp_path):
    # README "Prices": without a price "members then read the cost of their images as not
    # known, in results, /history and a restart's notice". An operator on aiearth (no published
    # price) sees "$0" in /spend and does what the README says: sets IMAGE_PRICES and restarts.
    # A /series that was running is cut short by that (crash-)restart after its first image.
    # /history and /spend then say that image's cost is "not known" (842378e), but the restart
    # notice, written under the new prices, told the member "you were charged $0.00": free.
    db = tmp_path / "bot.db"
    async with DiscordDouble() as dd, ImageGatewayDouble(flavour="aiearth", api_key=API_KEY,
                                                         per_image_latency=30) as gw:
        guild, channel, alice = server_with_alice(dd)
        env = {"IMAGE_PROVIDER": "aiearth", "IMAGE_API_KEY": API_KEY, "IMAGE_API_BASE_URL": gw.base_url,
               "IMAGE_MAX_RETRIES": 0, "DATABASE_URL": f"sqlite:///{db}"}
        async with BotProcess(dd, env, log_path=tmp_path / "bot.log") as bot:
            series = await dd.invoke_command("series", {"prompt": "four seasons", "count": 4}, user=alice,
                                             guild=guild, channel=channel)
            await series.wait_for(lambda e: bool((e.message or {}).get("attachments")), timeout=20)
            await asyncio.sleep(0.5)  # the delivery recorded
            row = await wait_for_row(db, lambda row: row["status"] == "pending")
            bot.kill()
        model = row["model"]
        env["IMAGE_PRICES"] = f"{model}=0.035"
        async with BotProcess(dd, env, log_path=tmp_path / "bot.log"):
            text = (await wait_for_notice(dd, channel, alice.id, timeout=20))["content"]
            history = await dd.invoke_command("history", {}, user=alice, guild=guild, channel=channel)
            await history.wait_for_final(timeout=15, quiet=0.3)
        assert "1 of 4" in text, text
        line = [x for x in history.all_text().splitlines() if x.startswith("`#")]
        assert line and "not known" in line[0], history.all_text()  # /history: not known
        assert "charged $0.00" not in text, (
            f"the restart notice calls an image made without a price free, where /history says "
            f"its cost is not known: {text}")
