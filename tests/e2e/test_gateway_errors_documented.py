"""Every error the five gateways (and SEEDREAM-API.md's error table) document, driven through the
real bot: what the member is told and where, what is retried, what the owner reads in the log,
and that nothing is charged."""

from __future__ import annotations

import asyncio

import pytest

from tests.doubles.image_gateway_double import Fault
from tests.e2e.harness import API_KEY, world

EPHEMERAL = 1 << 6
PRICE = {"doubao-seedream-5-0-260128": "0.135"}
PRESETS = ["gogogotoken-ai", "gogogotoken-com", "aiearth", "302ai", "xmsmartlink"]
BUSY = {"en-US": "The image service is busy right now", "zh-CN": "图片服务当前繁忙"}
FILTER = {"en-US": "The content filter refused this request", "zh-CN": "内容审核拒绝了本次请求"}
SETUP = {"en-US": "A server admin must check", "zh-CN": "请服务器管理员检查"}

# SEEDREAM-API.md "Errors": status, code, what the member is told, calls made (1 + 2 retries for 429/5xx)
MATRIX = [
    (400, "InputTextSensitiveContentDetected", FILTER, 1),
    (401, "AuthenticationError", SETUP, 1),
    (403, "AccountOverdueError", SETUP, 1),
    (429, "ServerOverloaded", BUSY, 3),
    (500, "InternalServiceError", BUSY, 3),
]


def error_lines(w) -> list[str]:
    return [line for line in w.logs.lines if line.startswith("ERROR")]


async def settle(w, cmd: str, options: dict, *, locale: str = "en-US", timeout: float = 40):
    inter = await w.discord.invoke_command(cmd, options, user=w.alice, guild=w.guild, channel=w.channel,
                                           locale=locale)
    async with asyncio.timeout(timeout):
        await inter.wait_for_ack(timeout)
        while not (rows := await w.ledger_rows()) or rows[-1]["status"] == "pending":
            await asyncio.sleep(0.05)
    await inter.wait_for_final(timeout=timeout, quiet=1.0)
    return inter


# ---- guards: what behaves as documented ---------------------------------------------------------

@pytest.mark.parametrize("flavour", PRESETS)
@pytest.mark.parametrize(("status", "code", "says", "calls"), MATRIX, ids=[f"{s}-{c}" for s, c, _, _ in MATRIX])
async def test_each_documented_error_is_told_retried_and_released(tmp_path, flavour, status, code, says, calls):
    locale = "zh-CN" if status in (403, 500) else "en-US"
    async with world(tmp_path, flavour=flavour) as w:
        w.gateway.script(Fault.status(status, code, retry_after=0), times=3)
        inter = await w.run("imagine", {"prompt": "a cat"}, locale=locale, timeout=30)
        text = inter.all_text()
        assert says[locale] in text, text
        assert "Traceback" not in text and API_KEY not in text
        assert len(w.gateway.generation_requests) == calls
        [row] = await w.ledger_rows()
        assert (row["status"], row["cost_micros"], row["charged_micros"], row["error_code"]) == (
            "released", 0, 0, code)
        if status in (401, 403):  # the owner's to fix: an ERROR naming what to check
            assert any("check" in line and code in line for line in error_lines(w)), w.logs.lines


# ---- confirmed bugs -----------------------------------------------------------------------------

async def test_a_content_filter_refusal_sent_with_a_5xx_is_not_retried(tmp_path):
    # A gateway relaying Ark's refusal with a 500 (new-api style) keeps its code: it was retried as
    # a 5xx, two more calls sending the refused prompt only to be refused again.
    async with world(tmp_path, flavour="aiearth") as w:
        w.gateway.script(Fault.status(500, "InputTextSensitiveContentDetected"), times=3)
        inter = await w.run("imagine", {"prompt": "a cat"}, timeout=30)
        assert FILTER["en-US"] in inter.all_text()
        assert len(w.gateway.generation_requests) == 1, "the content filter's refusal was retried"


@pytest.mark.parametrize("code", ["RateLimitExceeded", "InternalServiceError"])
async def test_a_302ai_answer_with_an_error_and_no_image_says_busy_not_refused(tmp_path, code):
    # 302.ai's page documents an optional "error" object (code, message) in the answer. A 200 with
    # no image and a busy/internal code is not retried (a 2xx), and is told as busy: the member
    # read "The image service refused the request: ...".
    async with world(tmp_path, flavour="302ai") as w:
        w.gateway.script(Fault.empty_data(code))
        inter = await w.run("imagine", {"prompt": "a cat"})
        text = inter.all_text()
        assert len(w.gateway.generation_requests) == 1
        assert "refused the request" not in text, text
        assert BUSY["en-US"] in text, text


async def test_an_overdue_account_that_stops_a_series_midway_reaches_the_owner(tmp_path):
    # SEEDREAM-API.md: AccountOverdueError is the owner's to fix. When it stopped a streamed series
    # after the first image, the owner got only an INFO line; with no image before it, an ERROR
    # naming what to check, as now in both cases.
    async with world(tmp_path, flavour="aiearth", image_prices=PRICE) as w:
        w.gateway.script(Fault.stream_error("AccountOverdueError", after=1))
        inter = await settle(w, "series", {"prompt": "three postcards of a fox", "count": 3})
        assert len(inter.files()) == 1
        [row] = await w.ledger_rows()
        assert (row["images_billed"], row["charged_micros"]) == (1, 135_000)
        assert any("AccountOverdueError" in line and "check" in line for line in error_lines(w)), w.logs.lines


async def test_an_overdue_account_on_one_of_two_parallel_calls_reaches_the_owner(tmp_path):
    # aiearth takes no "n": /imagine count=2 is two calls. One answers 403 AccountOverdueError:
    # the member gets one image and "1 of 2 could not be made"; the owner got only a WARNING
    # "one of 2 parallel calls failed", with no "check ..." hint.
    async with world(tmp_path, flavour="aiearth", image_prices=PRICE) as w:
        w.gateway.script(Fault.status(403, "AccountOverdueError"))
        inter = await settle(w, "imagine", {"prompt": "a cat", "count": 2})
        assert len(inter.files()) == 1
        assert any("AccountOverdueError" in line and "check" in line for line in error_lines(w)), w.logs.lines


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
async def test_a_gateway_content_filter_refusal_is_private(tmp_path, locale):
    # The reply to /imagine is deferred publicly; a gateway refusal of the member's own prompt was
    # written into that public reply, for the whole channel to read under "alice used /imagine".
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        w.gateway.script(Fault.status(400, "InputTextSensitiveContentDetected"))
        inter = await w.run("imagine", {"prompt": "a cat"}, locale=locale)
        public = [r.payload.get("content") or "" for r in inter.message_records if not r.ephemeral]
        assert not any(FILTER[locale] in text for text in public), public
        assert FILTER[locale] in inter.all_text()
