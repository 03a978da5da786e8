"""Gateway and Discord faults beyond test_faults.py, with retries on, on /series,
and on Discord's side (a deleted reply, a deleted channel, a defer Discord keeps failing)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from storage import Limits
from tests.doubles.image_gateway_double import Fault, ImageGatewayDouble
from tests.doubles.image_gateway_double import responses as gw_responses
from tests.e2e.books import assert_books_balanced
from tests.e2e.harness import world

PRICE = 162_000  # Seedream 4.0 on gogogotoken.com
SEEDREAM_5 = "doubao-seedream-5-0-260128"
PRICE_5 = 135_000
LIMITS = Limits(daily_images=20, monthly_micros=5_000_000, guild_monthly_micros=10_000_000)
QUOTAS = {"default_daily_images": 20, "default_monthly_usd": "5", "guild_monthly_budget_usd": "10"}
SERIES = {"flavour": "aiearth", "image_prices": {SEEDREAM_5: "0.135"}}


async def closed_row(w, timeout: float = 30.0) -> dict:
    async with asyncio.timeout(timeout):
        while not (rows := await w.ledger_rows()) or rows[-1]["status"] == "pending":
            await asyncio.sleep(0.05)
    return rows[-1]


def no_bug_lines(w) -> None:
    bad = [line for line in w.logs.lines if "failed unexpectedly" in line or "Traceback" in line]
    assert bad == [], bad[:3]


# -- the gateway ---------------------------------------------------------------------------------


async def test_a_connection_reset_mid_body_is_never_retried_even_with_retries_on(tmp_path):
    # The gateway made (and billed) the images before the body broke: a retry would pay twice.
    async with world(tmp_path, image_max_retries=3, **QUOTAS) as w:
        w.gateway.script(Fault.reset())
        inter = await w.run("imagine", {"prompt": "a cat", "count": 2}, timeout=30)
        assert len(w.gateway.generation_requests) == 1
        assert "could not reach the image service, or the connection broke" in inter.all_text()
        [row] = await assert_books_balanced(w.storage, LIMITS)
        assert row["charged_micros"] == 0
        no_bug_lines(w)


async def test_a_timeout_is_never_retried_even_with_retries_on(tmp_path):
    async with world(tmp_path, image_max_retries=3, image_timeout_seconds=0.5, **QUOTAS) as w:
        w.gateway.script(Fault.hang())
        inter = await w.run("imagine", {"prompt": "a cat"}, timeout=30)
        assert len(w.gateway.generation_requests) == 1
        assert "took too long" in inter.all_text()
        [row] = await assert_books_balanced(w.storage, LIMITS)
        assert (row["status"], row["charged_micros"]) == ("released", 0)


async def test_a_proxy_html_error_page_on_every_try_is_busy_without_the_html(tmp_path):
    async with world(tmp_path, image_max_retries=2, **QUOTAS) as w:
        w.gateway.script(Fault.html(502), times=3)
        inter = await w.run("imagine", {"prompt": "a cat"}, timeout=60)
        assert len(w.gateway.generation_requests) == 3  # a 502 before any answer: nothing made, retried
        text = inter.all_text()
        assert "busy" in text and "<html" not in text.lower() and "nginx" not in text, text
        [row] = await assert_books_balanced(w.storage, LIMITS)
        assert (row["status"], row["charged_micros"]) == ("released", 0)


@pytest.mark.parametrize("status", [504, 524])
async def test_a_proxys_gateway_timeout_is_not_retried_for_the_gateway_may_still_bill(tmp_path, status):
    # 504 (or Cloudflare's 524): the proxy in front gave up waiting, the gateway behind it had the
    # request and may still make and bill the images; asked again, the server could pay twice.
    async with world(tmp_path, image_max_retries=3, **QUOTAS) as w:
        w.gateway.script(Fault.html(status), times=3)
        inter = await w.run("imagine", {"prompt": "a cat"}, timeout=30)
        assert len(w.gateway.generation_requests) == 1
        text = inter.all_text()
        assert "took too long" in text and "not charged" in text and "<html" not in text.lower(), text
        [row] = await assert_books_balanced(w.storage, LIMITS)
        assert (row["status"], row["charged_micros"]) == ("released", 0)


async def test_a_proxy_html_page_answered_with_200_is_told_plainly_and_not_retried(tmp_path):
    # A captive portal or a CDN challenge page with status 200: the gateway may or may not have
    # been reached, so it is not asked again; the member reads no HTML.
    async with world(tmp_path, image_max_retries=2, **QUOTAS) as w:
        w.gateway.script(Fault.html(200, "<html><body><h1>Please wait...</h1></body></html>"))
        inter = await w.run("imagine", {"prompt": "a cat"}, timeout=30)
        assert len(w.gateway.generation_requests) == 1
        text = inter.all_text()
        assert "<html" not in text.lower() and "Please wait" not in text, text
        assert "You were not charged" in text, text
        await assert_books_balanced(w.storage, LIMITS)
        no_bug_lines(w)


async def test_a_429_whose_retry_after_outlasts_the_timeout_is_not_waited_for(tmp_path):
    async with world(tmp_path, image_max_retries=3, image_timeout_seconds=3, **QUOTAS) as w:
        w.gateway.script(Fault.status(429, retry_after=30), times=5)
        started = asyncio.get_running_loop().time()
        inter = await w.run("imagine", {"prompt": "a cat"}, timeout=30)
        assert asyncio.get_running_loop().time() - started < 6
        assert "busy" in inter.all_text()
        [row] = await assert_books_balanced(w.storage, LIMITS)
        assert (row["status"], row["charged_micros"]) == ("released", 0)


async def test_a_series_whose_stream_goes_silent_keeps_and_charges_only_what_arrived(tmp_path):
    # The first image comes at once, the next would come after 5 s: the 1 s idle time gives up.
    async with world(tmp_path, image_timeout_seconds=1.0, gateway={"per_image_latency": 5.0}, **SERIES) as w:
        inter = await w.discord.invoke_command("series", {"prompt": "four seasons", "count": 4}, user=w.alice,
                                               guild=w.guild, channel=w.channel)  # fmt: skip
        row = await closed_row(w)
        await inter.wait_for_final(timeout=10, quiet=0.5)
        assert len(inter.files()) == 1
        assert (row["status"], row["images_delivered"], row["charged_micros"]) == ("settled", 1, PRICE_5)
        text = inter.all_text()
        assert "The request stopped before all 4 images were made" in text, text
        assert "You were not charged." not in text
        await assert_books_balanced(w.storage)


async def test_a_series_stream_closed_cleanly_before_its_completion_event_charges_what_arrived(
    tmp_path, monkeypatch
):
    # A proxy ends the response (a clean end of the chunked body) after the first image, with no
    # completion event and no [DONE].
    async def cut_stream(self, request, job, outcomes, fault):
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        await response.write(gw_responses.partial_event(self._echo(job), 0, outcomes[0], job.response_format))
        await response.write_eof()
        return response

    monkeypatch.setattr(ImageGatewayDouble, "_stream", cut_stream)
    async with world(tmp_path, **SERIES) as w:
        inter = await w.discord.invoke_command("series", {"prompt": "four seasons", "count": 4}, user=w.alice,
                                               guild=w.guild, channel=w.channel)  # fmt: skip
        row = await closed_row(w)
        await inter.wait_for_final(timeout=10, quiet=0.5)
        assert len(inter.files()) == 1
        assert (row["images_delivered"], row["charged_micros"]) == (1, PRICE_5)
        text = inter.all_text()
        assert "You were not charged." not in text, text
        assert "1 image" in text and "$0.135" in text, text
        await assert_books_balanced(w.storage)
        no_bug_lines(w)


async def test_a_series_whose_result_links_all_404_charges_the_member_nothing(tmp_path):
    async with world(tmp_path, **SERIES) as w:
        w.gateway.script(Fault.missing_file())
        inter = await w.discord.invoke_command("series", {"prompt": "four seasons", "count": 3}, user=w.alice,
                                               guild=w.guild, channel=w.channel)  # fmt: skip
        row = await closed_row(w)
        await inter.wait_for_final(timeout=10, quiet=0.5)
        assert inter.files() == []
        assert row["charged_micros"] == 0
        assert row["cost_micros"] == 3 * PRICE_5  # made and billed: the server's spend says so
        text = inter.all_text()
        assert "not charged" in text, text
        assert "went wrong" not in text.lower(), text
        await assert_books_balanced(w.storage)
        no_bug_lines(w)


async def test_a_series_answered_with_empty_data_is_released_and_told(tmp_path):
    async with world(tmp_path, **SERIES) as w:
        w.gateway.script(Fault.empty_data())
        inter = await w.discord.invoke_command("series", {"prompt": "four seasons", "count": 3}, user=w.alice,
                                               guild=w.guild, channel=w.channel)  # fmt: skip
        row = await closed_row(w)
        await inter.wait_for_final(timeout=10, quiet=0.5)
        assert (row["status"], row["cost_micros"], row["charged_micros"]) == ("released", 0, 0)
        assert "You were not charged" in inter.all_text(), inter.all_text()
        await assert_books_balanced(w.storage)


async def test_one_of_two_parallel_calls_reset_mid_body_is_neither_retried_nor_charged(tmp_path):
    # aiearth takes no "n": /imagine count=2 is two calls; one breaks mid-body (made upstream,
    # unheard), the other answers. With retries on, the broken one is not asked again.
    async with world(tmp_path, image_max_retries=3, **SERIES, **QUOTAS) as w:
        w.gateway.script(Fault.reset())
        inter = await w.run("imagine", {"prompt": "a cat", "count": 2}, timeout=30)
        assert len(w.gateway.generation_requests) == 2
        assert len(inter.files()) == 1
        [row] = await assert_books_balanced(w.storage, LIMITS)
        assert (row["images_delivered"], row["charged_micros"]) == (1, PRICE_5)
        text = inter.all_text()
        assert "content filter" not in text and "You were not charged." not in text, text
        no_bug_lines(w)


# -- Discord ------------------------------------------------------------------------------------


async def test_results_whose_reply_was_deleted_meanwhile_come_as_a_follow_up(tmp_path):
    # A moderator (or the member) deletes the "thinking..." reply while the gateway works. Its
    # token still works: the images the server pays for reach the member as a follow-up through
    # it (README: "as a follow-up through it when the reply was deleted"), not thrown away.
    async with world(tmp_path, gateway={"latency": 1.5}, **QUOTAS) as w:
        inter = await w.discord.invoke_command("imagine", {"prompt": "a cat"}, user=w.alice, guild=w.guild,
                                               channel=w.channel)  # fmt: skip
        await inter.wait_for_ack(10)
        async with asyncio.timeout(10):
            while not w.gateway.generation_requests:
                await asyncio.sleep(0.02)
        inter.original.deleted = True  # deleted from Discord's client: edits now answer 404 Unknown Message
        row = await closed_row(w)
        await asyncio.sleep(1.0)
        posted = [m for m in inter.messages if m.get("attachments")]
        assert row["cost_micros"] == PRICE  # the gateway made and billed it
        assert len(posted) == 1, f"the paid image reached no one; row={row}; reply={inter.kinds()}"
        assert "followup" in inter.kinds() and posted[0]["content"].startswith("**a cat**"), posted
        assert row["charged_micros"] == PRICE
        await assert_books_balanced(w.storage, LIMITS)


async def test_a_series_whose_first_reply_was_deleted_still_gets_its_summary(tmp_path):
    # The member deletes the message holding image 1 (the reply) while the series goes on: images
    # 2 and 3 come as follow-ups, and the summary (what it cost, what is left) must come too.
    async with world(tmp_path, gateway={"per_image_latency": 1.0}, **SERIES) as w:
        inter = await w.discord.invoke_command("series", {"prompt": "three seasons", "count": 3}, user=w.alice,
                                               guild=w.guild, channel=w.channel)  # fmt: skip
        await inter.wait_for(lambda e: bool((e.message or {}).get("attachments")), timeout=15)
        inter.original.deleted = True
        row = await closed_row(w)
        await asyncio.sleep(1.0)
        assert (row["images_delivered"], row["charged_micros"]) == (3, 3 * PRICE_5)
        # the reply gone, the summary (with the buttons) comes as a follow-up through its token
        summary = [m for m in inter.messages if "$0.405" in (m.get("content") or "")]
        assert len(summary) == 1 and summary[0]["content"].startswith("**three seasons**"), summary
        assert summary[0].get("components"), "the result's buttons"
        no_bug_lines(w)
        await assert_books_balanced(w.storage)


async def test_a_defer_discord_keeps_failing_with_5xx_sends_the_results_to_the_channel(tmp_path):
    async with world(tmp_path, gateway={"latency": 0.3}, **QUOTAS) as w:
        failing = w.discord.fail_next(20, status=503, method="POST", path="/callback$")
        await w.discord.invoke_command("imagine", {"prompt": "a cat"}, user=w.alice, guild=w.guild,
                                       channel=w.channel)  # fmt: skip
        row = await closed_row(w, timeout=60)
        assert failing.hits >= 1
        posted = [m for m in w.discord.channel_messages(w.channel) if m.get("attachments")]
        assert len(posted) == 1 and posted[0]["content"].startswith(f"<@{w.alice.id}>")
        assert (row["status"], row["images_delivered"], row["charged_micros"]) == ("settled", 1, PRICE)
        await assert_books_balanced(w.storage, LIMITS)


async def test_a_channel_deleted_while_its_request_runs_charges_the_member_nothing(tmp_path):
    # The token has expired (results would go to the channel), and the channel is deleted while
    # the gateway works: nothing can be posted; the server's spend records what the gateway
    # billed, the member pays nothing, and the bot logs no bug.
    async with world(tmp_path, discord={"token_ttl": 0.5}, gateway={"latency": 1.5}, **QUOTAS) as w:
        other = w.discord.add_channel(w.guild, "other")
        await w.discord.invoke_command("imagine", {"prompt": "a cat"}, user=w.alice, guild=w.guild, channel=other)
        async with asyncio.timeout(10):
            while not w.gateway.generation_requests:
                await asyncio.sleep(0.02)
        await w.discord.delete_channel(other)
        row = await closed_row(w)
        await asyncio.sleep(0.5)
        assert row["charged_micros"] == 0
        assert row["cost_micros"] in (0, PRICE)
        await assert_books_balanced(w.storage, LIMITS)
        no_bug_lines(w)
        await w.discord.invoke_command("imagine", {"prompt": "a dog"}, user=w.alice, guild=w.guild,
                                       channel=w.channel)  # the bot goes on (its reply expires too)
        await closed_row(w)
        async with asyncio.timeout(10):
            while not [m for m in w.discord.channel_messages(w.channel) if m.get("attachments")]:
                await asyncio.sleep(0.05)


async def test_a_reply_and_its_error_notice_both_dropped_leave_no_unhandled_error(tmp_path):
    # Discord drops the connection of /history's answer, then of the notice that says it failed:
    # the second drop escaped the error handler ("Task exception was never retrieved" in the log,
    # an aiohttp error where only Discord's HTTP errors were caught), and the first was logged as
    # a bug with its traceback. Both are warnings: Discord could not be reached, the notice not sent.
    async with world(tmp_path) as w:
        w.discord.fail_next(2, status=None, method="POST", path=r"/webhooks/").drop = True
        inter = await w.discord.invoke_command("history", {}, user=w.alice, guild=w.guild, channel=w.channel)
        await inter.wait_for_ack()
        await asyncio.sleep(1.0)  # both follow-ups tried and dropped, and anything after
        assert any("history failed: Discord could not be reached" in line for line in w.logs.lines)
        assert any("could not tell the member about a failure in history" in line for line in w.logs.lines)
        unhandled = [line for line in w.logs.lines if "never retrieved" in line or "Traceback" in line]
        assert unhandled == [], unhandled[:3]
