"""Limits, refusals and budget warnings where amounts do not divide evenly,
where a price is zero, and where a limit is changed under what is already spent."""

from __future__ import annotations

from decimal import Decimal

from tests.e2e.staff import eventually
from tests.e2e.test_admin_quotas import PRICE, budget, quota, server
from tests.e2e.test_reports import csv_rows, spend

SEEDREAM_5 = "doubao-seedream-5-0-260128"




async def test_one_image_refused_by_the_monthly_limit_is_not_told_to_ask_for_fewer(tmp_path):
    # Limit $1.00, price $0.162: six images ($0.972) fit, $0.028 is left. A seventh single image is
    # refused, and not with "Ask for fewer images", which a member asking for one image cannot do:
    # for this model the limit is as good as reached for the month.
    async with server(tmp_path, default_monthly_usd="1") as w:
        await w.start_bot()
        await w.run("imagine", {"prompt": "four", "count": 4})
        last = await w.run("imagine", {"prompt": "two", "count": 2})
        assert "Left for you: $0.028 this month." in last.all_text(), last.all_text()
        refused = (await w.run("imagine", {"prompt": "one more"})).all_text()
        assert "$0.972 spent" in refused, refused
        assert "Ask for fewer images" not in refused, refused


async def test_one_image_refused_by_the_budget_is_not_told_to_ask_for_fewer(tmp_path):
    # The same for the server budget: $1.00, $0.972 spent, one image needs $0.162.
    async with server(tmp_path) as w:
        await w.start_bot()
        await budget(w, "set", {"amount": "1"})
        await w.run("imagine", {"prompt": "four", "count": 4})
        await w.run("imagine", {"prompt": "two", "count": 2}, user=w.bob)
        refused = (await w.run("imagine", {"prompt": "one more"})).all_text()
        assert "$0.972 spent" in refused, refused
        assert "Ask for fewer images" not in refused, refused


async def test_a_budget_of_zero_stops_an_unpriced_gateway_too(tmp_path):
    # README: "a budget set to `0` stops everything not yet sent to the gateway"; the bot's own
    # refusal for a $0 budget says "no images can be made here until a moderator raises it".
    # On aiearth without IMAGE_PRICES (no prices built in) every image is $0, and 0 + 0 is not past
    # a limit of 0: the owner's emergency stop must stop those too.
    async with server(tmp_path, flavour="aiearth") as w:
        await w.start_bot()
        saved = await budget(w, "set", {"amount": "0"})
        assert "$0.00" in saved.all_text(), saved.all_text()
        made = await w.run("imagine", {"prompt": "after the stop"})
        assert w.gateway.generation_requests == [], made.all_text()
        assert made.files() == [], made.all_text()


async def test_a_member_limit_of_zero_dollars_blocks_on_an_unpriced_gateway(tmp_path):
    # /quota set monthly_usd:0 - the bot's own words for it: "Your monthly limit is $0.00: you
    # cannot make images in this server", also when the price is $0.
    async with server(tmp_path, flavour="aiearth") as w:
        await w.start_bot()
        await quota(w, "set", {"member": w.alice, "monthly_usd": "0"})
        made = await w.run("imagine", {"prompt": "blocked member"})
        assert w.gateway.generation_requests == [], made.all_text()


async def test_budget_lowered_below_what_is_spent_posts_its_warning(tmp_path):
    # $0.972 spent of a $5 budget (19%), warning at 80%. The owner lowers the budget to $0.50,
    # keeping the warning: the month's settled spend ($0.972) is now past 80% (194%). README: the
    # warning is posted "when the month's settled spend reaches that share, and again after the
    # amount or share changes". No request can settle any more this month (each is refused by the
    # budget), so the change itself must bring the warning.
    async with server(tmp_path) as w:
        mods = w.discord.add_channel(w.guild, "mods")
        await w.start_bot()
        await budget(w, "set", {"amount": "5", "warn_percent": 80, "warn_channel": mods})
        await w.run("imagine", {"prompt": "a", "count": 4})
        await w.run("imagine", {"prompt": "b", "count": 2})
        assert w.discord.channel_messages(mods) == []
        await budget(w, "set", {"amount": "0.50"})
        refused = (await w.run("imagine", {"prompt": "c"}, user=w.bob)).all_text()
        assert "budget" in refused, refused
        warnings = [m["content"] for m in w.discord.channel_messages(mods)]
        assert any("$0.972 of its monthly image budget of $0.50" in text for text in warnings), warnings



async def test_a_warning_at_100_percent_comes_when_the_budget_cannot_take_one_more_image(tmp_path):
    # $1.00 at $0.162 an image stops at $0.972 (97%): spend never reaches the 100% an owner chose,
    # so the warning used to never come while every member was being refused.
    async with server(tmp_path) as w:
        mods = w.discord.add_channel(w.guild, "mods")
        await w.start_bot()
        await budget(w, "set", {"amount": "1", "warn_percent": 100, "warn_channel": mods})
        await w.run("imagine", {"prompt": "a", "count": 3})
        refused = (await w.run("imagine", {"prompt": "b", "count": 4})).all_text()  # $0.514 left: 3 fit
        assert "budget" in refused, refused
        await w.run("imagine", {"prompt": "c", "count": 3})  # $0.972
        assert w.discord.channel_messages(mods) == []  # nothing said while an image still fits
        for prompt in ("d", "e"):
            assert "budget" in (await w.run("imagine", {"prompt": prompt}, user=w.bob)).all_text()
        await eventually(lambda: w.discord.channel_messages(mods))
        [warning] = w.discord.channel_messages(mods)
        assert "spent $0.972 of its monthly image budget of $1.00" in warning["content"], warning
        assert "less than one image's price is left" in warning["content"], warning


async def test_warning_at_exactly_the_threshold_and_once_a_month(tmp_path):
    # Budget $0.648 = 4 images, warning at 50%: 2 images are exactly $0.324 = 50% -> "reaches".
    async with server(tmp_path) as w:
        mods = w.discord.add_channel(w.guild, "mods")
        await w.start_bot()
        await budget(w, "set", {"amount": "0.648", "warn_percent": 50, "warn_channel": mods})
        await w.run("imagine", {"prompt": "a"})
        assert w.discord.channel_messages(mods) == []
        await w.run("imagine", {"prompt": "b"})  # $0.324: exactly 50%
        [warning] = w.discord.channel_messages(mods)
        assert "$0.324 of its monthly image budget of $0.648" in warning["content"], warning
        await w.run("imagine", {"prompt": "c"})  # crossed again: no second warning this month
        await w.run("imagine", {"prompt": "d"})  # $0.648: 100% of the budget
        assert len(w.discord.channel_messages(mods)) == 1
        refused = (await w.run("imagine", {"prompt": "e"})).all_text()
        assert "used up" in refused, refused


async def test_tiny_price_adds_up_exactly_everywhere(tmp_path):
    # $0.0035 per image (aiearth's published price order of magnitude): 3 + 4 + 1 images.
    async with server(tmp_path, flavour="aiearth", image_prices=f"{SEEDREAM_5}=0.0035",
                      default_monthly_usd="0.03") as w:
        await w.start_bot()
        first = await w.run("imagine", {"prompt": "a", "count": 3})
        assert "cost $0.0105" in first.all_text(), first.all_text()
        assert "Left for you: $0.0195 this month." in first.all_text(), first.all_text()
        await w.run("imagine", {"prompt": "b", "count": 4}, user=w.bob)
        last = await w.run("imagine", {"prompt": "c"})
        assert "Left for you: $0.016 this month." in last.all_text(), last.all_text()
        usage = (await w.run("usage", {})).all_text()
        assert "Spent this month: $0.014 of $0.03" in usage, usage
        report = await spend(w, {})
        assert "Total spend: $0.028 (charged to members for delivered images: $0.028)" in report.all_text()
        lines = csv_rows(report)
        assert sum(Decimal(r["cost_usd"]) for r in lines) == Decimal("0.028")
        assert {r["unit_price_usd"] for r in lines} == {"0.003500"}
        # 0.03 / 0.0035 = 8.57: the member may make 8 images in all; 4 are made, 4 more fit, a 9th does not
        fits = await w.run("imagine", {"prompt": "d", "count": 4})
        assert len(fits.files()) == 4, fits.all_text()
        assert "Left for you: $0.002 this month." in fits.all_text(), fits.all_text()
        over = (await w.run("imagine", {"prompt": "e"})).all_text()
        assert "$0.028 spent" in over and "this needs $0.0035" in over, over
        report = await spend(w, {"member": w.alice})
        assert "Total spend: $0.028" in report.all_text(), report.all_text()
        assert sum(Decimal(r["charged_usd"]) for r in csv_rows(report)) == Decimal("0.028")


async def test_monthly_limit_lowered_below_spend_mid_month(tmp_path):
    # $0.486 spent; the limit is lowered to $0.30: /usage and /quota show agree, nothing is left.
    async with server(tmp_path, default_monthly_usd="5") as w:
        await w.start_bot()
        await w.run("imagine", {"prompt": "a", "count": 3})
        await quota(w, "set", {"member": w.alice, "monthly_usd": "0.30"})
        usage = (await w.run("usage", {})).all_text()
        assert "Spent this month: $0.486 of $0.30" in usage, usage
        refused = (await w.run("imagine", {"prompt": "b"})).all_text()
        assert "reached your monthly limit of $0.30" in refused, refused
        shown = (await quota(w, "show", {"member": w.alice})).all_text()
        assert "$0.30" in shown, shown
        rows = await w.ledger_rows()
        assert sum(r["charged_micros"] for r in rows) == 3 * PRICE


async def test_a_budget_of_zero_stops_a_model_priced_at_zero(tmp_path):
    # The same with the price written explicitly as 0 (IMAGE_PRICES=...=0; no "no price" warning at
    # start either): /budget set 0 "stops everything not yet sent to the gateway".
    async with server(tmp_path, flavour="aiearth", image_prices=f"{SEEDREAM_5}=0") as w:
        await w.start_bot()
        await budget(w, "set", {"amount": "0"})
        made = await w.run("imagine", {"prompt": "after the stop"})
        assert w.gateway.generation_requests == [], made.all_text()
