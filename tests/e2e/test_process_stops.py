"""The real `python bot.py` process stopped mid-request (SIGTERM, SIGKILL mid-series),
then restarted; the books, the members' notices and what /usage, /spend and /budget show agree."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from storage import open_storage
from tests.doubles.discord_double import DiscordDouble
from tests.doubles.image_gateway_double import Fault, ImageGatewayDouble
from tests.e2e.books import assert_books_balanced
from tests.e2e.botproc import BotProcess
from tests.e2e.harness import API_KEY
from tests.e2e.test_crash_recovery import (
    LIMITS,
    PRICE,
    bot_env,
    read_row,
    server_with_alice,
    wait_for_notice,
    wait_for_row,
)

MANAGE_GUILD = 1 << 5
SEEDREAM_5 = "doubao-seedream-5-0-260128"
PRICE_5 = 135_000


async def sigterm_and_wait(bot: BotProcess, timeout: float = 30.0) -> int:
    """A graceful stop as systemd or docker asks for one; the process's exit code."""
    assert bot.proc is not None
    bot.proc.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(bot.proc.wait(), timeout)


def notices(dd: DiscordDouble, channel: Any, user_id: int) -> list[str]:
    return [
        m.get("content") or ""
        for m in dd.channel_messages(channel)
        if (m.get("content") or "").startswith(f"<@{user_id}>") and "The bot restarted" in (m.get("content") or "")
    ]


async def test_sigterm_mid_generation_stops_releases_tells_and_exits_cleanly(tmp_path):
    db = tmp_path / "bot.db"
    async with DiscordDouble() as dd, ImageGatewayDouble(api_key=API_KEY) as gw:
        guild, channel, alice = server_with_alice(dd)
        gw.script(Fault.hang())
        env = {**bot_env(gw, db), "SHUTDOWN_GRACE_SECONDS": "1"}
        async with BotProcess(dd, env, log_path=tmp_path / "bot.log") as bot:
            inter = await dd.invoke_command("imagine", {"prompt": "a cat", "count": 2}, user=alice, guild=guild,
                                            channel=channel)  # fmt: skip
            await wait_for_row(db, lambda row: row["status"] == "pending")
            async with asyncio.timeout(10):
                while not gw.generation_requests:
                    await asyncio.sleep(0.05)
            code = await sigterm_and_wait(bot)
            logs = bot.logs()
        assert code == 0, logs[-2000:]
        assert "Traceback" not in logs, logs[-3000:]
        text = inter.all_text()
        assert "this request was stopped" in text, text
        assert "You were not charged for images you did not get" in text, text
        row = read_row(db)
        assert (row["status"], row["cost_micros"], row["charged_micros"]) == ("released", 0, 0), row
        gw.clear_faults()
        # the restart has nothing to close and nobody to tell again
        async with BotProcess(dd, env, log_path=tmp_path / "bot2.log") as bot2:
            second = await dd.invoke_command("imagine", {"prompt": "a dog"}, user=alice, guild=guild, channel=channel)
            await second.wait_for_final(timeout=30)
            assert len(second.files()) == 1
            assert "left pending by an earlier stop" not in bot2.logs()
            assert notices(dd, channel, alice.id) == []
            async with open_storage(f"sqlite:///{db}") as storage:
                await assert_books_balanced(storage, LIMITS)


async def test_sigterm_while_discord_refuses_the_upload_charges_the_member_nothing(tmp_path):
    db = tmp_path / "bot.db"
    async with DiscordDouble() as dd, ImageGatewayDouble(api_key=API_KEY) as gw:
        guild, channel, alice = server_with_alice(dd)
        uploads = dd.fail_uploads(50, status=500)  # discord.py retries with growing pauses
        env = {**bot_env(gw, db), "SHUTDOWN_GRACE_SECONDS": "1"}
        async with BotProcess(dd, env, log_path=tmp_path / "bot.log") as bot:
            inter = await dd.invoke_command("imagine", {"prompt": "a cat", "count": 2}, user=alice, guild=guild,
                                            channel=channel)  # fmt: skip
            async with asyncio.timeout(20):
                while uploads.hits == 0:
                    await asyncio.sleep(0.05)
            code = await sigterm_and_wait(bot)
            logs = bot.logs()
        assert code == 0, logs[-2000:]
        assert "Traceback" not in logs, logs[-3000:]
        row = read_row(db)
        assert row["status"] == "settled", row
        assert (row["cost_micros"], row["charged_micros"]) == (2 * PRICE, 0), row
        text = inter.all_text()
        assert "this request was stopped" in text, text
        assert inter.files() == []
        async with open_storage(f"sqlite:///{db}") as storage:
            await assert_books_balanced(storage, LIMITS)


async def test_sigkill_midway_through_a_series_charges_what_arrived_and_usage_agrees(tmp_path):
    db = tmp_path / "bot.db"
    async with DiscordDouble() as dd, ImageGatewayDouble(flavour="aiearth", api_key=API_KEY,
                                                         per_image_latency=3.0) as gw:  # fmt: skip
        guild, channel, alice = server_with_alice(dd)
        admin = dd.add_user("admin")
        dd.add_member(guild, admin, [dd.add_role(guild, "Admins", MANAGE_GUILD)])
        env = {**bot_env(gw, db), "IMAGE_PRICES": f"{SEEDREAM_5}=0.135"}
        async with BotProcess(dd, env, log_path=tmp_path / "bot.log") as bot:
            inter = await dd.invoke_command("series", {"prompt": "four seasons", "count": 4}, user=alice,
                                            guild=guild, channel=channel)  # fmt: skip
            at_kill = await wait_for_row(db, lambda row: (row["images_delivered"] or 0) >= 1)
            bot.kill()
        assert at_kill["status"] == "pending" and at_kill["images_delivered"] == 1, at_kill
        assert len(inter.files()) == 1
        async with BotProcess(dd, env, log_path=tmp_path / "bot.log"):
            told = (await wait_for_notice(dd, channel, alice.id))["content"]
            assert "1 of 4 images reached you and you were charged $0.135" in told, told
            async with open_storage(f"sqlite:///{db}") as storage:
                [row] = await assert_books_balanced(storage, LIMITS)
            assert row["status"] == "settled"
            assert (row["images_delivered"], row["charged_micros"]) == (1, PRICE_5), row
            assert row["cost_micros"] >= PRICE_5
            usage = await dd.invoke_command("usage", {}, user=alice, guild=guild, channel=channel)
            await usage.wait_for_final(timeout=10)
            text = usage.all_text()
            assert "$0.135" in text, text
            assert "held" not in text.lower(), text  # nothing pending after the restart
            spend = await dd.invoke_command("spend", {}, user=admin, guild=guild, channel=channel)
            await spend.wait_for_final(timeout=15)
            shown = spend.all_text()
            assert (f"Total spend: ${row['cost_micros'] / 1e6:.3f} (charged to members for delivered images: "
                    "$0.135)") in shown, shown
            assert f"Images billed: {row['images_billed']}, delivered: 1" in shown, shown


async def test_a_budget_warning_crossed_by_spend_a_crash_left_is_posted_after_the_restart(tmp_path):
    # The server's budget is $0.50 with a warning at 50%. /imagine count=2 is made and billed
    # ($0.324, 65%), and the bot is killed while Discord refuses the upload. The restart books the
    # $0.324 as this month's spend; the warning is due now. A member's next /imagine of two
    # ($0.324 more) is refused by the budget, so no settlement comes along to post it later.
    db = tmp_path / "bot.db"
    async with DiscordDouble() as dd, ImageGatewayDouble(api_key=API_KEY) as gw:
        guild, channel, alice = server_with_alice(dd)
        admin = dd.add_user("admin")
        dd.add_member(guild, admin, [dd.add_role(guild, "Admins", MANAGE_GUILD)])
        mods = dd.add_channel(guild, "mods")
        env = bot_env(gw, db)
        async with BotProcess(dd, env, log_path=tmp_path / "bot.log") as bot:
            setting = await dd.invoke_command("budget", {"amount": "0.5", "warn_percent": 50, "warn_channel": mods},
                                              user=admin, guild=guild, channel=channel, subcommand="set")
            await setting.wait_for_final(timeout=10)
            assert "$0.50" in setting.all_text(), setting.all_text()
            uploads = dd.fail_uploads(50, status=500)
            await dd.invoke_command("imagine", {"prompt": "a cat", "count": 2}, user=alice, guild=guild,
                                    channel=channel)  # fmt: skip
            await wait_for_row(db, lambda row: row["status"] == "pending" and uploads.hits >= 1
                               and row["images_billed"] == 2)
            bot.kill()
        dd.faults.clear()
        async with BotProcess(dd, env, log_path=tmp_path / "bot.log"):
            await wait_for_notice(dd, channel, alice.id)
            row = read_row(db)
            assert (row["status"], row["cost_micros"]) == ("settled", 2 * PRICE), row
            shown = await dd.invoke_command("budget", {}, user=admin, guild=guild, channel=channel, subcommand="show")
            await shown.wait_for_final(timeout=10)
            assert "$0.324" in shown.all_text(), shown.all_text()
            refused = await dd.invoke_command("imagine", {"prompt": "a dog", "count": 2}, user=alice, guild=guild,
                                              channel=channel)  # fmt: skip
            await refused.wait_for_final(timeout=10)
            assert "budget" in refused.all_text(), refused.all_text()
            await asyncio.sleep(1.0)
            warnings = [m["content"] for m in dd.channel_messages(mods)]
            assert any("$0.324 of its monthly image budget of $0.50" in text for text in warnings), (
                f"no budget warning after the restart; mods channel: {warnings}"
            )
