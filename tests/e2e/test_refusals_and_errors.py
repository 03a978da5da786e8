"""Bad options, quotas and gateway errors: a clear message, nothing spent that was not billed."""

from __future__ import annotations

import asyncio

import pytest

from tests.doubles.image_gateway_double import Fault
from tests.e2e.books import assert_books_balanced
from tests.e2e.harness import API_KEY, world

EPHEMERAL = 1 << 6


def is_ephemeral(inter) -> bool:
    return bool(inter.callback_data and inter.callback_data.get("flags", 0) & EPHEMERAL)


async def test_invalid_size_is_refused_privately_with_the_allowed_sizes(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        inter = await w.run("imagine", {"prompt": "a cat", "size": "0x0"})
        text = inter.all_text()
        assert "size" in text and "2K" in text and "4K" in text
        assert is_ephemeral(inter)
        assert w.gateway.generation_requests == []
        assert await w.ledger_rows() == []


async def test_unknown_model_names_the_choices(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        inter = await w.run("imagine", {"prompt": "a cat", "model": "dall-e-3"})
        assert "doubao-seedream-4-5-251128" in inter.all_text()
        assert w.gateway.generation_requests == []


async def test_content_filter_says_rephrase_and_charges_nothing(tmp_path):
    async with world(tmp_path) as w:
        inter = await w.run("imagine", {"prompt": "something forbidden"})
        assert "rephrase" in inter.all_text()
        assert inter.files() == []
        [row] = await w.ledger_rows()
        assert row["status"] == "released"
        assert row["cost_micros"] == 0 and row["charged_micros"] == 0
        assert row["error_code"] == "InputTextSensitiveContentDetected"


async def test_rate_limit_storm_is_retried_then_reported_busy(tmp_path):
    async with world(tmp_path, image_max_retries=2) as w:
        w.gateway.script(Fault.status(429, retry_after=0), times=3)
        inter = await w.run("imagine", {"prompt": "a cat"}, timeout=30)
        assert "try again in a minute" in inter.all_text()
        assert len(w.gateway.generation_requests) == 3  # the first try and two retries
        [row] = await assert_books_balanced(w.storage)
        assert row["status"] == "released" and row["charged_micros"] == 0


async def test_a_transient_503_is_retried_transparently(tmp_path):
    async with world(tmp_path) as w:
        w.gateway.script(Fault.status(503, retry_after=0), times=1)
        inter = await w.run("imagine", {"prompt": "a cat"}, timeout=30)
        assert len(inter.files()) == 1


@pytest.mark.parametrize(
    ("status", "expected", "operator_checks"),
    [
        (401, "admin must check", "IMAGE_API_KEY"),
        (402, "cannot use this model right now. A server admin must check", "credit"),  # out of credit
        (403, "cannot use this model", "access to this model"),
        (404, "does not know this model. Pick another one, or ask a server admin", "IMAGE_API_BASE_URL"),
        (405, "not set up correctly", "IMAGE_API_BASE_URL"),
        (422, "The image service refused the request", None),  # the member's request, not the setup
    ],
)
async def test_gateway_refusals_are_explained_without_secrets(tmp_path, caplog, status, expected, operator_checks):
    async with world(tmp_path) as w:
        w.gateway.script(Fault.status(status), times=1)
        inter = await w.run("imagine", {"prompt": "a cat"})
        text = inter.all_text()
        assert expected in text
        assert API_KEY not in text
        # The operator reads what to check in the log, as an error (an INFO line is easily missed).
        errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR" and "failed" in r.getMessage()]
        if operator_checks is None:
            assert errors == []
        else:
            assert len(errors) == 1 and operator_checks in errors[0], errors
            assert API_KEY not in errors[0]
        assert len(w.gateway.generation_requests) == 1  # 4xx are never retried
        [row] = await w.ledger_rows()
        assert row["status"] == "released"


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
async def test_a_400_about_the_members_request_quotes_the_gateway_and_says_nothing_was_charged(tmp_path, locale):
    async with world(tmp_path, flavour="aiearth") as w:
        w.gateway.script(Fault.status(400, "InvalidParameter", "Invalid image: the picture is too dark."))
        text = (await w.run("imagine", {"prompt": "a cat"}, locale=locale)).all_text()
        assert "Invalid image: the picture is too dark." in text  # the gateway's reason, as it gave it
        assert ("You were not charged." if locale == "en-US" else "未向你计费") in text, text
        [row] = await w.ledger_rows()
        assert (row["status"], row["charged_micros"]) == ("released", 0)


async def test_a_400_about_a_field_the_bot_sets_is_the_admins_to_fix(tmp_path, caplog):
    # aiearth's page: a parameter error means checking size, image, response_format, output_format
    # against the model. `watermark` is the bot's own field: the member cannot change it.
    async with world(tmp_path, flavour="aiearth") as w:
        w.gateway.script(Fault.status(400, "InvalidParameter",
                                      "The parameter `watermark` specified in the request is not valid."))
        text = (await w.run("imagine", {"prompt": "a cat"})).all_text()
        assert "admin must check" in text and "not charged" in text and "watermark" not in text, text
        errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR" and "failed" in r.getMessage()]
        assert len(errors) == 1 and "'watermark' field" in errors[0], errors


async def test_daily_quota_refuses_with_the_limit_and_the_reset_time(tmp_path):
    async with world(tmp_path, default_daily_images=2) as w:
        first = await w.run("imagine", {"prompt": "a cat", "count": 2})
        assert len(first.files()) == 2
        assert "0 images today" in first.all_text()
        refused = await w.run("imagine", {"prompt": "a dog"})
        text = refused.all_text()
        assert "daily limit of 2" in text and "<t:" in text
        assert is_ephemeral(refused)
        assert len(w.gateway.generation_requests) == 1
        # Another member still has their own quota.
        other = await w.run("imagine", {"prompt": "a dog"}, user=w.bob)
        assert len(other.files()) == 1


async def test_concurrent_requests_never_overshoot_the_server_budget(tmp_path):
    # $0.50 at $0.162 an image: exactly three images fit, whoever asks.
    async with world(tmp_path, guild_monthly_budget_usd="0.50") as w:
        users = [w.discord.add_user(f"member{i}") for i in range(10)]
        for user in users:
            w.discord.add_member(w.guild, user)
        handles = await asyncio.gather(*(
            w.discord.invoke_command("imagine", {"prompt": f"cat {i}"}, user=u, guild=w.guild, channel=w.channel)
            for i, u in enumerate(users)
        ))
        await asyncio.gather(*(h.wait_for_final(timeout=30) for h in handles))
        delivered = sum(len(h.files()) for h in handles)
        refusals = [h for h in handles if "budget" in h.all_text() and not h.files()]
        assert delivered == 3
        assert len(refusals) == 7
        rows = await w.ledger_rows()
        assert sum(r["cost_micros"] for r in rows) == 3 * 162_000
        assert sum(r["cost_micros"] for r in rows) <= 500_000


async def test_usage_shows_dollar_amounts(tmp_path):
    async with world(tmp_path, default_daily_images=5, default_monthly_usd="2", guild_monthly_budget_usd="10") as w:
        await w.run("imagine", {"prompt": "a cat"})
        inter = await w.run("usage")
        text = inter.all_text()
        assert "Images today: 1 of 5" in text
        assert "$0.162 of $2.00" in text
        assert "$9.838 of $10.00" in text
        assert is_ephemeral(inter)


async def test_usage_and_budget_show_say_how_much_is_held_for_requests_in_progress(tmp_path):
    # The limits count a request's reservation from the start: /usage and /budget show include it in
    # "spent" and say how much of it is only held, so they agree with /spend once it settles.
    async with world(tmp_path, start=False, guild_monthly_budget_usd="10", gateway={"latency": 2.0}) as w:
        admin = w.discord.add_user("owner")
        w.discord.add_member(w.guild, admin, roles=[w.discord.add_role(w.guild, "admins", permissions=1 << 5)])
        await w.start_bot()
        await w.run("imagine", {"prompt": "a cat"})  # settled: $0.162
        running = await w.discord.invoke_command("imagine", {"prompt": "four dogs", "count": 4}, user=w.alice,
                                                 guild=w.guild, channel=w.channel)  # $0.648 held meanwhile
        await running.wait_for_ack()
        usage = (await w.run("usage")).all_text()
        assert "Spent this month: $0.81" in usage and "Of which $0.648 is held for requests in progress" in usage
        shown = (await w.run("budget", {}, user=admin, subcommand="show")).all_text()
        assert "Of which $0.648 is held for requests in progress" in shown
        await running.wait_for_final(timeout=15)
        assert "held" not in (await w.run("usage")).all_text()
