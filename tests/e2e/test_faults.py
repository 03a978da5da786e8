"""The gateway and Discord misbehave: nothing lost, nothing charged twice, the books balance.

After every fault: no pending row, spent <= every limit, usage() = the sums over the rows
(tests.e2e.books). A 429 storm that outlasts the retries is in test_refusals_and_errors.
"""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from storage import Limits
from tests.doubles.image_gateway_double import Fault
from tests.e2e.books import assert_books_balanced
from tests.e2e.harness import world
from tests.e2e.staff import eventually

PRICE = 162_000  # Seedream 4.0 on gogogotoken.com
LIMITS = Limits(daily_images=20, monthly_micros=5_000_000, guild_monthly_micros=10_000_000)
QUOTAS = {"default_daily_images": 20, "default_monthly_usd": "5", "guild_monthly_budget_usd": "10"}


async def run(w, options: dict, *, timeout: float = 60.0, final: bool = True):
    """/imagine, then wait until its ledger row is closed (progress edits can look final early)."""
    inter = await w.discord.invoke_command("imagine", options, user=w.alice, guild=w.guild, channel=w.channel)
    async with asyncio.timeout(timeout):
        await inter.wait_for_ack(timeout)
        while not (rows := await w.ledger_rows()) or rows[-1]["status"] == "pending":
            await asyncio.sleep(0.05)
    if not final:  # an expired token: the reply stays "thinking" for ever
        await asyncio.sleep(1.0)
        return inter
    # the summary or the failure follows the books within milliseconds
    return await inter.wait_for_final(timeout=timeout, quiet=1.0)


LOST = "1 image could not be fetched from the gateway or arrived damaged; you were not charged"
GATEWAY_FAULTS = [
    # fault, settings, what the member reads, images the server paid for
    (Fault.hang(), {"image_timeout_seconds": 0.5}, "took too long", 0),
    (Fault.reset(), {}, "could not reach the image service, or the connection broke", 0),  # billed upstream, unheard
    (Fault.truncated_json(), {}, "could not use", 0),
    (Fault.html(), {}, "busy", 0),  # a proxy's 502 page: reported (no retries here)
    (Fault.empty_data(), {}, "could not use", 0),
    (Fault.missing_file(), {}, LOST, 1),  # billed; the URL 404s
    (Fault.damaged_file(), {}, LOST, 1),  # billed; the file is half a JPEG (the full check decodes it)
    (Fault.damaged_file(), {"gateway": {"image_format": "png"}}, LOST, 1),  # half a PNG: its CRCs tell
]


@pytest.mark.parametrize(("fault", "settings", "says", "billed"), GATEWAY_FAULTS,
                         ids=["timeout", "reset", "truncated", "html", "empty", "404-url",
                              "damaged-jpeg", "damaged-png"])  # fmt: skip
async def test_gateway_fault_charges_the_member_nothing(tmp_path, fault, settings, says, billed):
    async with world(tmp_path, image_max_retries=0, **QUOTAS, **settings) as w:
        w.gateway.script(fault)
        inter = await run(w, {"prompt": "a cat"})
        assert inter.files() == []
        assert says in inter.all_text()
        [row] = await assert_books_balanced(w.storage, LIMITS)
        assert row["charged_micros"] == 0
        assert row["cost_micros"] == billed * PRICE  # server spend records what the gateway billed
        # the next request is not affected
        again = await run(w, {"prompt": "a dog"})
        assert len(again.files()) == 1
        await assert_books_balanced(w.storage, LIMITS)


async def test_one_of_two_result_urls_404s_the_member_pays_for_one(tmp_path):
    async with world(tmp_path, **QUOTAS) as w:
        original = w.gateway._outcome  # expire the first stored file only
        served = []

        async def first_expires(job, index, failed, store):
            outcome = await original(job, index, failed, store and index != 0)
            served.append(index)
            return outcome

        w.gateway._outcome = first_expires
        inter = await run(w, {"prompt": "a cat", "count": 2})
        assert len(inter.files()) == 1
        [row] = await assert_books_balanced(w.storage, LIMITS)
        assert (row["images_billed"], row["images_delivered"]) == (2, 1)
        assert row["cost_micros"] == 2 * PRICE and row["charged_micros"] == PRICE


async def test_a_transient_5xx_on_upload_is_retried_and_charged_once(tmp_path):
    async with world(tmp_path, **QUOTAS) as w:
        fault = w.discord.fail_uploads(1, status=502)
        inter = await run(w, {"prompt": "a cat"})
        assert fault.hits == 1
        assert len(inter.files()) == 1
        [row] = await assert_books_balanced(w.storage, LIMITS)
        assert row["charged_micros"] == PRICE


async def test_an_upload_that_keeps_failing_is_not_charged(tmp_path):
    async with world(tmp_path, **QUOTAS) as w:
        w.discord.fail_uploads(5, status=500)  # discord.py tries five times (about 25 s of pauses)
        inter = await run(w, {"prompt": "a cat"})
        assert inter.files() == []
        assert "could not be posted" in inter.all_text()
        [row] = await assert_books_balanced(w.storage, LIMITS)
        assert row["cost_micros"] == PRICE and row["charged_micros"] == 0


async def test_a_429_with_retry_after_is_waited_out(tmp_path):
    async with world(tmp_path, **QUOTAS) as w:
        fault = w.discord.rate_limit_next(1, retry_after=0.5, path="webhooks")
        inter = await run(w, {"prompt": "a cat", "count": 2})
        assert fault.hits == 1
        assert len(inter.files()) == 2
        [row] = await assert_books_balanced(w.storage, LIMITS)
        assert row["charged_micros"] == 2 * PRICE


async def test_an_expired_interaction_token_sends_the_results_to_the_channel(tmp_path):
    async with world(tmp_path, discord={"token_ttl": 1.0}, gateway={"latency": 1.5}, **QUOTAS) as w:
        inter = await run(w, {"prompt": "a cat"}, final=False)
        posted = [m for m in w.discord.channel_messages(w.channel) if m.get("attachments")]
        assert len(posted) == 1
        assert posted[0]["content"].startswith(f"<@{w.alice.id}>")  # the member is told where it is
        assert "a cat" in posted[0]["content"]
        assert inter.files() == []
        [row] = await assert_books_balanced(w.storage, LIMITS)
        assert row["charged_micros"] == PRICE


async def test_an_interaction_discord_will_not_acknowledge_gets_its_images_in_the_channel(tmp_path):
    # The reply is deferred alongside the gateway call. When Discord refuses the defer (the
    # interaction is gone), the gateway has already been asked: its image goes to the channel,
    # mentioning the member, and is paid for once, so no money the gateway took goes unrecorded.
    async with world(tmp_path, gateway={"latency": 0.5}, **QUOTAS) as w:
        refused = w.discord.fail_next(
            1, status=404, method="POST", path="/callback$", body={"code": 10062, "message": "Unknown interaction"}
        )
        inter = await w.discord.invoke_command(
            "imagine", {"prompt": "a cat"}, user=w.alice, guild=w.guild, channel=w.channel
        )
        async with asyncio.timeout(10):  # never acknowledged: wait for the books instead
            while not (rows := await w.ledger_rows()) or rows[-1]["status"] == "pending":
                await asyncio.sleep(0.05)
        assert refused.hits == 1 and inter.files() == []
        [posted] = [m for m in w.discord.channel_messages(w.channel) if m.get("attachments")]
        assert posted["content"].startswith(f"<@{w.alice.id}>") and "a cat" in posted["content"]
        [row] = await assert_books_balanced(w.storage, LIMITS)
        assert (row["status"], row["images_delivered"], row["charged_micros"]) == ("settled", 1, PRICE)
        assert any("refused the acknowledgement" in line for line in w.logs.lines)

        again = await run(w, {"prompt": "a dog"})
        assert len(again.files()) == 1


async def test_the_gateway_call_does_not_wait_for_a_slow_discord_to_acknowledge(tmp_path):
    # The reply is deferred alongside the gateway call: a Discord slow to answer the defer
    # (held here until the gateway has the request) costs the member no extra wait.
    async with world(tmp_path, gateway={"latency": 0.2}, **QUOTAS) as w:
        held = w.discord.hold_next(1, method="POST", path="/callback$")
        inter = await w.discord.invoke_command(
            "imagine", {"prompt": "a cat"}, user=w.alice, guild=w.guild, channel=w.channel
        )
        async with asyncio.timeout(10):
            while not w.gateway.generation_requests:
                await asyncio.sleep(0.02)
        assert held.hits == 1  # the defer is still unanswered while the gateway works
        held.release()
        final = await inter.wait_for_final(timeout=30)
        assert len(final.files()) == 1
        [row] = await assert_books_balanced(w.storage, LIMITS)
        assert (row["status"], row["charged_micros"]) == ("settled", PRICE)


async def test_a_gateway_that_sends_more_images_than_asked_is_held_to_the_request(tmp_path):
    # /imagine count=1, and the gateway answers with four images and bills four: one is fetched,
    # posted and paid for; the limits (2 images a day, a $0.35 server budget) are never passed.
    quotas = {"default_daily_images": 2, "default_monthly_usd": "5", "guild_monthly_budget_usd": "0.35"}
    limits = Limits(daily_images=2, monthly_micros=5_000_000, guild_monthly_micros=350_000)
    async with world(tmp_path, **quotas) as w:
        w.gateway.script(Fault.partial(failed=(), count=4))
        inter = await run(w, {"prompt": "a cat"})
        assert len(inter.files()) == 1
        assert w.gateway.file_fetches == 1  # the three extra images are not even downloaded
        assert "1 image" in inter.all_text() and "$0.162" in inter.all_text()
        [row] = await assert_books_balanced(w.storage, limits)
        assert (row["images_billed"], row["images_delivered"]) == (1, 1)
        assert row["cost_micros"] == row["charged_micros"] == row["reserved_micros"] == PRICE
        extra = [line for line in w.logs.lines if "more images than the 1 asked for" in line]
        assert len(extra) == 1  # one warning for the request, not one per extra image
        assert any("(billed=4 delivered=1 reported)" in line for line in w.logs.lines)  # the gateway's figure

        again = await run(w, {"prompt": "a dog"})  # the second of two a day still fits
        assert len(again.files()) == 1
        await assert_books_balanced(w.storage, limits)


async def test_a_failed_per_image_call_is_not_blamed_on_the_content_filter(tmp_path):
    # aiearth takes no "n": /imagine count=2 is two calls, and one answers 500 (no retries here).
    prices = {"doubao-seedream-5-0-260128": "0.135"}
    async with world(tmp_path, flavour="aiearth", image_max_retries=0, image_prices=prices, **QUOTAS) as w:
        w.gateway.script(Fault.status(500))
        inter = await run(w, {"prompt": "a cat", "count": 2})
        assert len(inter.files()) == 1
        assert "1 of 2 could not be made by the image service and were not charged." in inter.all_text()
        assert "content filter" not in inter.all_text()
        [row] = await assert_books_balanced(w.storage, LIMITS)
        assert (row["images_billed"], row["images_delivered"], row["charged_micros"]) == (1, 1, 135_000)


async def test_a_request_that_outlives_its_token_pings_the_member_once_in_the_channel(tmp_path):
    async with world(
        tmp_path, flavour="aiearth", image_prices={"doubao-seedream-5-0-260128": "0.135"},
        gateway={"per_image_latency": 0.5}, discord={"token_ttl": 0.3},
    ) as w:  # fmt: skip
        inter = await w.discord.invoke_command(
            "series", {"prompt": "a sunrise in 4 steps", "count": 4}, user=w.alice, guild=w.guild, channel=w.channel
        )
        await inter.wait_for_ack(10)
        async with asyncio.timeout(20):
            while not (rows := await w.ledger_rows()) or rows[-1]["status"] == "pending":
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the summary follows the books
        posted = [m for m in w.discord.channel_messages(w.channel) if m["type"] == 0]  # not the reply itself
        assert len(posted) > 1, [m["content"] for m in posted]  # several messages in the channel
        notifying = [m for m in posted if any(u["id"] == str(w.alice.id) for u in m["mentions"])]
        assert notifying == posted[:1]  # the first notifies the member, the others only name her
        assert all(m["content"].startswith(f"<@{w.alice.id}>") for m in posted)


@pytest.mark.parametrize("reported", [1, 0])
async def test_a_gateway_that_counts_fewer_images_than_it_sent_is_booked_for_those_it_sent(
    tmp_path, monkeypatch, reported
):
    # usage.generated_images under the truth: the images delivered were made all the same, so the
    # server's spend (and budget) and the member's charge count them; nothing is handed out free.
    from tests.doubles.image_gateway_double import responses  # noqa: PLC0415

    counted = responses.usage

    def undercounted(outcomes, minimal):
        usage = counted(outcomes, minimal)
        usage["generated_images"] = reported
        return usage

    monkeypatch.setattr(responses, "usage", undercounted)
    async with world(tmp_path, **QUOTAS) as w:
        inter = await w.run("imagine", {"prompt": "a cat", "count": 2})
        assert len(inter.files()) == 2
        [row] = await assert_books_balanced(w.storage, LIMITS)
        assert (row["images_billed"], row["images_delivered"]) == (2, 2)
        assert row["cost_micros"] == row["charged_micros"] == 2 * PRICE
        assert "$0.324" in inter.all_text()


async def test_a_connection_dropped_while_the_image_is_uploaded_is_told_plainly_and_not_charged(tmp_path):
    async with world(tmp_path, **QUOTAS) as w:
        dropped = w.discord.fail_next(1, status=None, uploads_only=True)
        dropped.drop = True
        inter = await w.run("imagine", {"prompt": "a cat"})
        assert dropped.hits == 1
        assert "could not be posted to Discord. You were not charged" in inter.all_text()
        [row] = await assert_books_balanced(w.storage, LIMITS)
        assert row["charged_micros"] == 0 and row["cost_micros"] == PRICE  # made and billed, not delivered
        assert not [line for line in w.logs.lines if "failed unexpectedly" in line]


@pytest.mark.parametrize("status", [503, 429])
async def test_one_busy_answer_from_the_result_url_does_not_lose_the_paid_image(tmp_path, monkeypatch, status):
    from aiohttp import web  # noqa: PLC0415

    from tests.doubles.image_gateway_double import ImageGatewayDouble  # noqa: PLC0415

    serve, fetches = ImageGatewayDouble._file, []

    async def busy_once(self, request):
        fetches.append(request.path)
        if len(fetches) == 1:
            return web.Response(status=status, text="Slow Down", headers={"Retry-After": "0"})
        return await serve(self, request)

    monkeypatch.setattr(ImageGatewayDouble, "_file", busy_once)
    async with world(tmp_path, **QUOTAS) as w:
        inter = await w.run("imagine", {"prompt": "a cat"})
        assert len(fetches) == 2 and len(inter.files()) == 1
        [row] = await assert_books_balanced(w.storage, LIMITS)
        assert row["charged_micros"] == row["cost_micros"] == PRICE


async def test_fewer_images_than_asked_are_explained_and_only_those_charged(tmp_path):
    async with world(tmp_path, **QUOTAS) as w:
        w.gateway.script(Fault.partial(failed=(), count=2))  # answers count=4 with two images
        inter = await w.run("imagine", {"prompt": "a cat", "count": 4})
        assert len(inter.files()) == 2
        assert "The image service made 2 of the 4 images asked for" in inter.all_text()
        [row] = await assert_books_balanced(w.storage, LIMITS)
        assert row["charged_micros"] == row["cost_micros"] == 2 * PRICE
        w.gateway.script(Fault.partial(failed=(1,), count=2))  # one made, one refused by its filter
        inter = await w.run("imagine", {"prompt": "a dog", "count": 2})
        assert "1 of 2 could not be made" in inter.all_text() or "1 of 2 were refused" in inter.all_text()
        assert "asked for" not in inter.all_text()


async def test_a_database_that_refuses_the_settle_after_delivery_does_not_tell_the_member_otherwise(
    tmp_path, monkeypatch
):
    # A full disk when the books close: the member has their images and the summary they were
    # shown; the settle is tried again until the database takes it.
    monkeypatch.setattr("pipeline.runner.SETTLE_RETRY_DELAYS", (0.1, 0.1, 0.1))
    async with world(tmp_path) as w:
        real_settle, refusals = w.storage.ledger.settle, []

        async def full_disk(*args, **kwargs):
            if len(refusals) < 2:
                refusals.append(1)
                raise sqlite3.OperationalError("database or disk is full")
            return await real_settle(*args, **kwargs)

        monkeypatch.setattr(w.storage.ledger, "settle", full_disk)
        inter = await w.run("imagine", {"prompt": "a cat", "count": 2})
        assert len(inter.files()) == 2
        text = inter.all_text()
        assert "cost $0.324" in text and "went wrong" not in text and "not charged" not in text, text
        await eventually(lambda: len(refusals) == 2)
        for _ in range(50):
            [row] = await w.ledger_rows()
            if row["status"] != "pending":
                break
            await asyncio.sleep(0.1)
        assert (row["status"], row["images_delivered"], row["cost_micros"]) == ("settled", 2, 324_000)
