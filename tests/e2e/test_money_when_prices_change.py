"""The operator restarts the bot with a NEW price while requests are
pending (a crash) or waiting for a moderator; prices written with many decimals."""

from __future__ import annotations

from decimal import Decimal

from storage.models import RequestRecord
from tests.e2e.harness import API_KEY, make_settings, world
from tests.e2e.staff import add_staff, eventually
from tests.e2e.test_admin_quotas import PRICE, budget, server
from tests.e2e.test_approval import button, review_message
from tests.e2e.test_midnight import UNLIMITED
from tests.e2e.test_reports import csv_rows, spend
from tests.e2e.test_startup import _env, _run_bot

SEEDREAM_4 = "doubao-seedream-4-0-250828"
NEW_PRICE = "0.5"


async def restart_with(w, **settings):
    """Stop the bot, change its settings (as an operator editing .env), start it again."""
    await w.stop_bot()
    w.settings = make_settings(w.tmp, w.discord, w.gateway, **settings)
    await w.start_bot()


async def test_a_crash_is_settled_at_the_price_of_its_reservation_after_a_price_change(tmp_path):
    # A request reserved at $0.162 (2 images; 2 billed, 1 delivered when the bot stopped)
    # is closed at the next start, which runs with the price raised to $0.50: the server pays
    # 2 x $0.162, the member 1 x $0.162, and the notice, /spend, its CSV and /usage say so; a new
    # request pays the new price.
    async with server(tmp_path) as w:
        await w.start_bot()
        record = RequestRecord(w.guild.id, w.channel.id, w.alice.id, "imagine", SEEDREAM_4, "2K",
                               "cut short", 2, PRICE, locale="en-US")
        rid = await w.storage.ledger.reserve(record, limits=UNLIMITED)
        await w.storage.ledger.record_billed(rid, 2)
        await w.storage.ledger.record_delivered(rid, 1)
        await restart_with(w, image_prices={SEEDREAM_4: NEW_PRICE})
        [row] = await w.ledger_rows()
        assert (row["status"], row["cost_micros"], row["charged_micros"]) == ("settled", 2 * PRICE, PRICE), row
        await eventually(lambda: any("cut short" in (m.get("content") or "")
                                     for m in w.discord.channel_messages(w.channel)))
        [notice] = [m["content"] for m in w.discord.channel_messages(w.channel) if "cut short" in m["content"]]
        assert "$0.162" in notice, notice
        new = await w.run("imagine", {"prompt": "after the price change"})
        assert "cost $0.50" in new.all_text(), new.all_text()
        report = await spend(w, {})
        assert "Total spend: $0.824 (charged to members for delivered images: $0.662)" in report.all_text(), \
            report.all_text()
        lines = csv_rows(report)
        assert [r["unit_price_usd"] for r in lines] == ["0.162000", "0.500000"]
        assert sum(Decimal(r["cost_usd"]) for r in lines) == Decimal("0.824")
        usage = (await w.run("usage", {})).all_text()
        assert "Spent this month: $0.662" in usage, usage


async def test_approval_charges_no_more_than_the_moderator_was_shown_after_a_price_change(tmp_path):
    # Approval mode: the review says "costs at most $0.324" (2 x $0.162). The operator restarts
    # the bot with the price raised to $0.50; the review's Approve button still works after the
    # restart (README). The moderator approved $0.324, not $1.00: nothing is made, and the
    # moderator, the review and the member say why.
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin,
                    subcommand="approval")
        asked = await w.run("imagine", {"prompt": "a red fox", "count": 2})
        assert "sent to the moderators" in asked.all_text()
        message = review_message(w, staff)
        assert "costs at most $0.324" in message["content"], message["content"]
        await restart_with(w, image_prices={SEEDREAM_4: NEW_PRICE})
        message = review_message(w, staff)
        approved = await w.discord.click_button(message, button(message, "approve"), user=staff.moderator)
        await approved.wait_for_final()
        rose = "price went up from $0.324 to $1.00 after it was reviewed"
        await eventually(lambda: any(rose in (m.get("content") or "") for m in w.discord.channel_messages(w.channel)))
        assert rose in approved.all_text() and rose in review_message(w, staff)["content"], approved.all_text()
        assert w.gateway.generation_requests == [] and await w.ledger_rows() == []


async def test_prices_with_many_decimals_as_the_operator_wrote_them(tmp_path):
    # $0.0035 and $0.000001 are kept to the micro-dollar and shown exactly.
    async with server(tmp_path, flavour="aiearth",
                      image_prices="doubao-seedream-5-0-260128=0.0035,doubao-seedream-4-5-251128=$0.000001") as w:
        await w.start_bot()
        a = await w.run("imagine", {"prompt": "a", "count": 3})
        assert "cost $0.0105" in a.all_text(), a.all_text()
        b = await w.run("imagine", {"prompt": "b", "count": 4, "model": "doubao-seedream-4-5-251128"})
        assert "cost $0.000004" in b.all_text(), b.all_text()
        await budget(w, "set", {"amount": "0.010504"})
        shown = (await budget(w, "show", {})).all_text()
        assert "Spent this month: $0.010504, left: $0.00" in shown, shown
        refused = (await w.run("imagine", {"prompt": "c", "model": "doubao-seedream-4-5-251128"})).all_text()
        assert "used up" in refused, refused


async def check_with_prices(tmp_path, prices: str) -> tuple[int, str]:
    async with world(tmp_path, flavour="aiearth", start=False) as w:
        env = _env(DISCORD_TOKEN="token-that-is-secret-1234", IMAGE_PROVIDER="aiearth", IMAGE_API_KEY=API_KEY,
                   IMAGE_API_BASE_URL=w.gateway.base_url, DATABASE_URL=f"sqlite:///{tmp_path / 'c.db'}",
                   IMAGE_PRICES=prices)
        return await _run_bot("--check", env=env, cwd=tmp_path)


async def test_check_shows_the_price_the_books_will_use(tmp_path):
    # The ledger keeps micro-dollars: --check prints the price as the books use it ("1e-6" is
    # $0.000001), and a price with more decimals than that is refused, not rounded.
    code, out = await check_with_prices(tmp_path, "doubao-seedream-5-0-260128=0.123457,"
                                                  "doubao-seedream-4-5-251128=1e-6")
    assert code == 0, out
    assert "$0.123457" in out and "$0.000001" in out, out
    code, out = await check_with_prices(tmp_path, "doubao-seedream-5-0-260128=0.1234567")
    assert code == 2 and "finer than a micro-dollar" in out, out


async def test_a_thousands_separator_in_a_price_is_named_as_such(tmp_path):
    # README: "the comma separates the pairs, so `0,035` is refused, saying so". `1,000` is told
    # "write the price without a thousands separator"; `1,000.50` (the same mistake with cents)
    # is told only "expected model=usd pairs separated by commas, got '000.50'".
    code, out = await check_with_prices(tmp_path, "doubao-seedream-5-0-260128=1,000.50")
    assert code == 2, out
    assert "thousands separator" in out, out
