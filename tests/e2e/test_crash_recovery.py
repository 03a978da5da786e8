"""SIGKILL a real `python bot.py` mid-request; on restart the books close from what is known.

The bot runs as its own process (tests.e2e.botproc) against both doubles in this one; the test
reads the SQLite file directly to know where the request is before it kills the process.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from storage import Limits, open_storage
from tests.doubles.discord_double import DiscordDouble
from tests.doubles.image_gateway_double import Fault, ImageGatewayDouble
from tests.e2e.books import assert_books_balanced
from tests.e2e.botproc import BotProcess
from tests.e2e.harness import API_KEY

PRICE = 162_000  # Seedream 4.0 on gogogotoken.com
LIMITS = Limits(daily_images=10, monthly_micros=2_000_000, guild_monthly_micros=5_000_000)


def bot_env(gw: ImageGatewayDouble, db: Path) -> dict[str, Any]:
    return {
        "IMAGE_PROVIDER": gw.flavour.name,
        "IMAGE_API_KEY": API_KEY,
        "IMAGE_API_BASE_URL": gw.base_url,
        "IMAGE_MAX_RETRIES": 0,
        "DATABASE_URL": f"sqlite:///{db}",
        "DEFAULT_DAILY_IMAGES": LIMITS.daily_images,
        "DEFAULT_MONTHLY_USD": "2",
        "GUILD_MONTHLY_BUDGET_USD": "5",
    }


def read_row(db: Path) -> dict[str, Any] | None:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM requests ORDER BY id DESC LIMIT 1").fetchone()
    return dict(row) if row else None


async def wait_until_told(db: Path, timeout: float = 20.0) -> None:
    """Until no member is left to tell: a notice is sent, then recorded (a stop between the two
    tells them again at the next start, rather than never)."""
    async with asyncio.timeout(timeout):
        while True:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
                if conn.execute("SELECT COUNT(*) FROM untold").fetchone()[0] == 0:
                    return
            await asyncio.sleep(0.05)


async def wait_for_row(db: Path, ready, timeout: float = 20.0) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        row = read_row(db) if db.exists() else None
        if row is not None and ready(row):
            return row
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the request never reached the awaited state: {read_row(db)}")


async def wait_for_notice(dd: DiscordDouble, channel: Any, user_id: int, timeout: float = 10.0) -> dict[str, Any]:
    """The channel message that tells a member their request was cut short by the stop."""
    async with asyncio.timeout(timeout):
        while True:
            for message in dd.channel_messages(channel):
                content = message.get("content") or ""
                if content.startswith(f"<@{user_id}>") and ("The bot restarted" in content or "机器人重启" in content):
                    return message
            await asyncio.sleep(0.05)


def server_with_alice(dd: DiscordDouble) -> tuple[Any, Any, Any]:
    """A server with a channel and one member, alice: (guild, channel, alice)."""
    guild = dd.add_guild("Test Server")
    channel = dd.add_channel(guild, "images")
    alice = dd.add_user("alice")
    dd.add_member(guild, alice)
    return guild, channel, alice


async def crash_and_restart(tmp_path: Path, arrange, reached) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Start the bot, /imagine count=2, SIGKILL it once `reached(row)`, restart on the same DB.
    Returns the row as it was at the kill and all rows after the restart."""
    db = tmp_path / "bot.db"
    async with DiscordDouble() as dd, ImageGatewayDouble(api_key=API_KEY) as gw:
        guild, channel, alice = server_with_alice(dd)
        arrange(dd, gw)
        env = bot_env(gw, db)
        async with BotProcess(dd, env, log_path=tmp_path / "bot.log") as bot:
            await dd.invoke_command("imagine", {"prompt": "a cat", "count": 2}, user=alice, guild=guild,
                                    channel=channel)  # fmt: skip
            at_kill = await wait_for_row(db, reached)
            bot.kill()
        async with BotProcess(dd, env, log_path=tmp_path / "bot.log") as bot:
            # setup_hook has run recover_pending() before the bot connected
            async with open_storage(f"sqlite:///{db}") as storage:
                rows = await assert_books_balanced(storage, LIMITS)
            told = await wait_for_notice(dd, channel, alice.id)
            assert "The bot restarted while your request “a cat” was running" in told["content"], told
            assert [user["id"] for user in told["mentions"]] == [str(alice.id)]  # pinged
            gw.clear_faults()
            dd.faults.clear()
            second = await dd.invoke_command("imagine", {"prompt": "a dog"}, user=alice, guild=guild, channel=channel)
            await second.wait_for_final(timeout=30)
            assert len(second.files()) == 1, second.all_text()  # the restarted bot works
            async with open_storage(f"sqlite:///{db}") as storage:
                await assert_books_balanced(storage, LIMITS)
        assert API_KEY not in bot.logs()
    return at_kill, rows


async def test_killed_between_reserve_and_settle_releases_the_reservation(tmp_path):
    def arrange(dd, gw):
        gw.script(Fault.hang())

    at_kill, rows = await crash_and_restart(tmp_path, arrange, lambda row: row["status"] == "pending")
    assert at_kill["reserved_micros"] == 2 * PRICE and at_kill["images_billed"] is None
    [row] = rows
    assert row["status"] == "released"
    assert row["cost_micros"] == 0 and row["charged_micros"] == 0


async def test_killed_during_upload_charges_the_server_what_was_billed_and_the_member_nothing(tmp_path):
    uploads = []

    def arrange(dd, gw):
        # discord.py retries 5xx with growing pauses: the upload stalls, and the kill lands in it
        uploads.append(dd.fail_uploads(4, status=500))

    def uploading(row) -> bool:
        return row["status"] == "pending" and uploads[0].hits >= 1

    at_kill, rows = await crash_and_restart(tmp_path, arrange, uploading)
    assert uploads[0].hits >= 1  # killed while Discord was refusing the upload, not before it
    assert at_kill["images_billed"] == 2 and at_kill["images_delivered"] is None
    [row] = rows
    assert row["status"] == "settled"
    assert row["cost_micros"] == 2 * PRICE  # the gateway billed two images: the server paid for them
    assert row["charged_micros"] == 0  # none reached the member


async def test_killed_while_parallel_calls_are_answered_keeps_what_was_billed(tmp_path):
    # aiearth takes no "n": four images are four calls. Three answer (and are billed), the fourth
    # hangs, the bot is killed: the server's cost must record the three.
    db = tmp_path / "bot.db"
    price = 135_000
    async with DiscordDouble() as dd, ImageGatewayDouble(flavour="aiearth", api_key=API_KEY) as gw:
        guild, channel, alice = server_with_alice(dd)
        gw.script(Fault.delay(0.0), times=3)
        gw.script(Fault.hang())
        env = {**bot_env(gw, db), "IMAGE_PRICES": f"doubao-seedream-5-0-260128={price / 1e6}"}
        async with BotProcess(dd, env, log_path=tmp_path / "bot.log") as bot:
            await dd.invoke_command("imagine", {"prompt": "a cat", "count": 4}, user=alice, guild=guild,
                                    channel=channel)  # fmt: skip
            at_kill = await wait_for_row(db, lambda row: (row["images_billed"] or 0) >= 3)
            bot.kill()
        assert gw.images_billed == 3 and at_kill["status"] == "pending"
        async with BotProcess(dd, env, log_path=tmp_path / "bot.log"), open_storage(f"sqlite:///{db}") as storage:
            [row] = await assert_books_balanced(storage, LIMITS)  # the restart settled it
        assert row["status"] == "settled"
        assert (row["cost_micros"], row["charged_micros"]) == (3 * price, 0)  # billed; none delivered


async def test_killed_after_a_moderator_approves_but_before_the_request_starts_it_waits_again(tmp_path):
    # Approved, then the bot dies while it looks the member up (before anything is reserved):
    # after the restart the review message has its buttons back, and a second approval runs it.
    from tests.e2e.staff import MANAGE_GUILD, MANAGE_MESSAGES  # noqa: PLC0415

    db = tmp_path / "bot.db"
    async with DiscordDouble() as dd, ImageGatewayDouble(api_key=API_KEY) as gw:
        guild = dd.add_guild("Test Server")
        channel, mods_channel = dd.add_channel(guild, "images"), dd.add_channel(guild, "mods")
        alice, admin, moderator = dd.add_user("alice"), dd.add_user("admin"), dd.add_user("moderator")
        dd.add_member(guild, alice)
        dd.add_member(guild, admin, [dd.add_role(guild, "Admins", MANAGE_GUILD)])
        dd.add_member(guild, moderator, [dd.add_role(guild, "Moderators", MANAGE_MESSAGES)])
        env = bot_env(gw, db)

        def approve_button(review: dict[str, Any]) -> str:
            ids = [c["custom_id"] for row in review.get("components") or [] for c in row["components"]]
            return next(i for i in ids if i.startswith("approval:approve:"))

        async with BotProcess(dd, env, log_path=tmp_path / "bot.log") as bot:
            on = await dd.invoke_command("settings", {"mode": "on", "channel": mods_channel}, user=admin,
                                         guild=guild, channel=channel, subcommand="approval")  # fmt: skip
            await on.wait_for_final(timeout=10)
            ask = await dd.invoke_command("imagine", {"prompt": "a fox"}, user=alice, guild=guild, channel=channel)
            await ask.wait_for_final(timeout=10)
            [review] = dd.channel_messages(mods_channel)
            held = dd.hold_next(1, method="GET", path=r"/guilds/\d+/members/\d+")
            await dd.click_button(review, approve_button(review), user=moderator)
            async with asyncio.timeout(10):
                while held.hits == 0:
                    await asyncio.sleep(0.05)
            bot.kill()
            held.release()
        async with BotProcess(dd, env, log_path=tmp_path / "bot.log"):
            async with asyncio.timeout(10):
                while not dd.channel_messages(mods_channel)[0].get("components"):
                    await asyncio.sleep(0.05)
            [review] = dd.channel_messages(mods_channel)
            assert "waits for a decision again" in review["content"]
            again = await dd.click_button(review, approve_button(review), user=moderator)
            await again.wait_for_final(timeout=10)
            async with asyncio.timeout(30):
                while not any(m.get("attachments") for m in dd.channel_messages(channel)):
                    await asyncio.sleep(0.1)
            async with open_storage(f"sqlite:///{db}") as storage:
                [row] = await assert_books_balanced(storage, LIMITS)
            assert (row["status"], row["images_delivered"], row["charged_micros"]) == ("settled", 1, PRICE)


async def killed_while_generating(dd, gw, env, tmp_path, options, guild, channel, user, **invoke) -> None:
    """A bot process killed (SIGKILL) while the gateway makes the request's images: its row pending."""
    gw.script(Fault.hang())
    async with BotProcess(dd, env, log_path=tmp_path / "bot.log") as bot:
        await dd.invoke_command("imagine", options, user=user, guild=guild, channel=channel, **invoke)
        await wait_for_row(tmp_path / "bot.db", lambda row: row["status"] == "pending")
        bot.kill()
    gw.clear_faults()


async def test_a_member_not_told_before_a_second_stop_is_told_at_the_next_start(tmp_path):
    # Killed mid-request; the next start closes the books, but Discord refuses the notice (503)
    # and that start is killed too: the start after it still tells the member.
    db = tmp_path / "bot.db"
    async with DiscordDouble() as dd, ImageGatewayDouble(api_key=API_KEY) as gw:
        guild, channel, alice = server_with_alice(dd)
        env = bot_env(gw, db)
        await killed_while_generating(dd, gw, env, tmp_path, {"prompt": "a cat", "count": 2}, guild, channel, alice)
        refused = dd.fail_next(1000, status=503, method="POST", path=r"/channels/\d+/messages$")
        async with BotProcess(dd, env, log_path=tmp_path / "bot.log") as bot:
            async with asyncio.timeout(15):
                while refused.hits == 0:
                    await asyncio.sleep(0.05)
            bot.kill()
        dd.faults.clear()
        assert read_row(db)["status"] == "released"  # that start closed the books, and told no one
        async with BotProcess(dd, env, log_path=tmp_path / "bot.log"):
            notice = await wait_for_notice(dd, channel, alice.id)
            await wait_until_told(db)  # off the list: the start after this one tells no one again
        assert "a cat" in notice["content"]
        async with open_storage(f"sqlite:///{db}") as storage:
            await assert_books_balanced(storage, LIMITS)
            assert await storage.requests.untold() == []


async def test_a_chinese_member_is_told_in_chinese_that_a_crash_cut_their_request_short(tmp_path):
    # The server's language is English; alice uses Discord in Chinese and every other answer she
    # gets is Chinese: so is the notice after the restart, which no interaction carries.
    db = tmp_path / "bot.db"
    async with DiscordDouble() as dd, ImageGatewayDouble(api_key=API_KEY) as gw:
        guild, channel, alice = server_with_alice(dd)
        env = bot_env(gw, db)
        await killed_while_generating(dd, gw, env, tmp_path, {"prompt": "一只猫"}, guild, channel, alice,
                                      locale="zh-CN")  # fmt: skip
        async with BotProcess(dd, env, log_path=tmp_path / "bot.log"):
            text = (await wait_for_notice(dd, channel, alice.id))["content"]
        assert "restarted" not in text and "重启" in text, text
