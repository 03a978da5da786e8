"""/series and /imagine count>1 on each gateway flavour, with result links
that fail or are slow for one image, mixed url/b64 items, error items, and limits met exactly."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace

import pytest
from aiohttp import web

from tests.doubles.image_gateway_double import Fault, ImageGatewayDouble
from tests.doubles.image_gateway_double import responses as gw
from tests.e2e.books import assert_books_balanced
from tests.e2e.harness import world

SEEDREAM_5 = "doubao-seedream-5-0-260128"
FILE = re.compile(r"seedream-(\d+)-(\d+)\.\w+")
# flavour -> (model that makes series by default, unit price micros, extra settings)
FLAVOURS = {
    "gogogotoken-com": (162_000, {}),
    "gogogotoken-ai": (35_000, {"image_prices": {"doubao-seedream-5-0-lite": "0.035"}}),
    "aiearth": (135_000, {"image_prices": {SEEDREAM_5: "0.135"}}),
    "302ai": (135_000, {"image_prices": {SEEDREAM_5: "0.135", "doubao-seedream-4-0-250828": "0.135",
                                          "doubao-seedream-3-0-t2i-250415": "0.135",
                                          "doubao-seededit-3-0-i2i-250628": "0.135",
                                          "doubao-seedream-4-5-251128": "0.135"}}),
    "xmsmartlink": (135_000, {"image_prices": {SEEDREAM_5: "0.135"}}),
}
LIMITS = {"default_daily_images": 20, "default_monthly_usd": "5"}


async def closed_row(w, timeout=30.0):
    async with asyncio.timeout(timeout):
        while not (rows := await w.ledger_rows()) or rows[-1]["status"] == "pending":
            await asyncio.sleep(0.05)
    return rows[-1]


async def ask(w, command, options, user=None):
    inter = await w.discord.invoke_command(command, options, user=user or w.alice, guild=w.guild, channel=w.channel)
    row = await closed_row(w)
    await inter.wait_for_final(timeout=20, quiet=0.6)
    return inter, row


def numbers(inter):
    return [int(FILE.fullmatch(a["filename"])[2]) for m in inter.messages for a in m.get("attachments", [])]


async def series_of_four(w, flavour):
    """/series of 4 on the model that makes series there (302.ai's default does not)."""
    options = {"prompt": "four postcards", "count": 4}
    if flavour == "302ai":
        options["model"] = SEEDREAM_5
    return await ask(w, "series", options)


def fail_file(monkeypatch, which: int, *, status: int | None = 404, delay: float = 0.0):
    """The `which`-th result file fetched (1-based) answers `status` (None: is served `delay` s late)."""
    serve, seen = ImageGatewayDouble._file, []

    async def file(self, request):
        seen.append(request.path)
        if len(seen) == which:
            if status is not None:
                return web.Response(status=status, text="NoSuchKey")
            await asyncio.sleep(delay)
        return await serve(self, request)

    monkeypatch.setattr(ImageGatewayDouble, "_file", file)
    return seen


@pytest.mark.parametrize("flavour", list(FLAVOURS))
async def test_one_result_link_404s_in_a_series_the_member_pays_for_the_others(tmp_path, monkeypatch, flavour):
    unit, settings = FLAVOURS[flavour]
    fail_file(monkeypatch, 2)
    async with world(tmp_path, flavour=flavour, **settings, **LIMITS) as w:
        inter, row = await series_of_four(w, flavour)
        await assert_books_balanced(w.storage)
        assert len(inter.files()) == 3, inter.all_text()
        assert (row["images_billed"], row["images_delivered"]) == (4, 3)
        assert (row["cost_micros"], row["charged_micros"]) == (4 * unit, 3 * unit)
        text = inter.all_text()
        assert "Left for you: 17 images today" in text, text
        usage = (await w.run("usage", {})).all_text()
        assert "Images today: 3 of 20" in usage and "held for requests" not in usage, usage


@pytest.mark.parametrize("flavour", list(FLAVOURS))
async def test_imagine_count_3_one_link_404s_the_member_pays_for_two(tmp_path, monkeypatch, flavour):
    unit, settings = FLAVOURS[flavour]
    fail_file(monkeypatch, 1)
    async with world(tmp_path, flavour=flavour, **settings, **LIMITS) as w:
        inter, row = await ask(w, "imagine", {"prompt": "a cat", "count": 3})
        await assert_books_balanced(w.storage)
        assert len(inter.files()) == 2, inter.all_text()
        assert (row["images_billed"], row["images_delivered"]) == (3, 2)
        assert (row["cost_micros"], row["charged_micros"]) == (3 * unit, 2 * unit)
        assert "Left for you: 18 images today" in inter.all_text(), inter.all_text()


@pytest.mark.parametrize("flavour", ["gogogotoken-com", "aiearth"])
async def test_one_very_slow_result_link_is_given_up_and_not_charged(tmp_path, monkeypatch, flavour):
    unit, settings = FLAVOURS[flavour]
    fail_file(monkeypatch, 2, status=None, delay=4.0)
    async with world(tmp_path, flavour=flavour, **settings, **LIMITS) as w:
        w.bot.pipeline.options = replace(w.bot.pipeline.options, download_timeout=1.0)
        inter, row = await ask(w, "series", {"prompt": "four postcards", "count": 4})
        await assert_books_balanced(w.storage)
        assert len(inter.files()) == 3, inter.all_text()
        assert (row["images_billed"], row["images_delivered"], row["charged_micros"]) == (4, 3, 3 * unit)
        assert len(set(numbers(inter))) == 3


def json_answer(monkeypatch, shape):
    """Replace the double's JSON body: `shape(outcomes)` -> (data items, usage.generated_images)."""

    async def answer(self, request, job, outcomes, fault):
        data, generated = shape(outcomes)
        body = {"model": self._echo(job), "created": 0, "data": data, "usage": {"generated_images": generated}}
        return web.Response(body=json.dumps(body).encode(), content_type="application/json")

    monkeypatch.setattr(ImageGatewayDouble, "_json_answer", answer)


def url(o):
    return {"url": o.url, "size": o.size_text}


def b64(o):
    return gw.image_fields(o, "b64_json", False)


@pytest.mark.parametrize("flavour", ["gogogotoken-com", "302ai"])
async def test_a_json_series_with_url_b64_and_error_items_charges_what_was_delivered(tmp_path, monkeypatch, flavour):
    unit, settings = FLAVOURS[flavour]
    json_answer(monkeypatch, lambda outs: ([url(outs[0]), b64(outs[1]),
                                            {"error": {"code": "InternalServiceError", "message": "boom"}},
                                            url(outs[3])], 3))
    async with world(tmp_path, flavour=flavour, **settings, **LIMITS) as w:
        inter, row = await series_of_four(w, flavour)
        await assert_books_balanced(w.storage)
        assert numbers(inter) == [1, 2, 4], inter.all_text()
        assert (row["images_billed"], row["images_delivered"]) == (3, 3)
        assert (row["cost_micros"], row["charged_micros"]) == (3 * unit, 3 * unit)
        text = inter.all_text()
        assert "1 of 4 could not be made by the image service" in text, text
        assert "content filter" not in text, text
        assert "Left for you: 17 images today" in text, text


async def test_imagine_n4_answered_with_six_items_is_held_to_four(tmp_path, monkeypatch):
    # gogogotoken.com takes "n": it answers with six items and bills six.
    unit, _settings = FLAVOURS["gogogotoken-com"]
    json_answer(monkeypatch, lambda outs: ([url(o) for o in outs] + [url(outs[0]), b64(outs[1])], 6))
    async with world(tmp_path, flavour="gogogotoken-com", default_daily_images=4, default_monthly_usd="0.648",
                     guild_monthly_budget_usd="0.648") as w:
        inter, row = await ask(w, "imagine", {"prompt": "a cat", "count": 4})
        await assert_books_balanced(w.storage)
        assert numbers(inter) == [1, 2, 3, 4]
        assert (row["images_billed"], row["images_delivered"], row["cost_micros"], row["charged_micros"]) == (
            4, 4, 4 * unit, 4 * unit)
        assert "Left for you: 0 images today, $0.00 this month" in inter.all_text(), inter.all_text()
        again, _ = await ask(w, "imagine", {"prompt": "a dog"})
        assert len(w.gateway.generation_requests) == 1, again.all_text()


@pytest.mark.parametrize("flavour", ["302ai", "aiearth"])
async def test_imagine_fan_out_with_one_call_answering_an_error_beside_empty_data(tmp_path, flavour):
    # No "n" on these gateways: count=3 is three calls; one answers 200 {"data": [], "error": ...}.
    unit, settings = FLAVOURS[flavour]
    async with world(tmp_path, flavour=flavour, image_max_retries=0, **settings, **LIMITS) as w:
        w.gateway.script(Fault.empty_data(code="InternalServiceError"))
        inter, row = await ask(w, "imagine", {"prompt": "a cat", "count": 3})
        await assert_books_balanced(w.storage)
        assert len(inter.files()) == 2, inter.all_text()
        assert (row["images_billed"], row["images_delivered"], row["charged_micros"]) == (2, 2, 2 * unit)
        text = inter.all_text()
        assert "1 of 3 could not be made by the image service" in text, text
        assert "Left for you: 18 images today" in text, text


@pytest.mark.parametrize("flavour", ["gogogotoken-com", "302ai"])
async def test_a_json_series_billing_one_more_than_it_sent_is_booked_and_explained(tmp_path, monkeypatch, flavour):
    # Three items, usage.generated_images 4: the server's spend records the 4 billed, the member
    # pays 3, and the summary says where the fourth went.
    unit, settings = FLAVOURS[flavour]
    json_answer(monkeypatch, lambda outs: ([url(o) for o in outs[:3]], 4))
    async with world(tmp_path, flavour=flavour, **settings, **LIMITS) as w:
        inter, row = await series_of_four(w, flavour)
        await assert_books_balanced(w.storage)
        assert (row["images_billed"], row["images_delivered"]) == (4, 3)
        assert (row["cost_micros"], row["charged_micros"]) == (4 * unit, 3 * unit)
        text = inter.all_text()
        assert "counted 4 images made but sent 3; you were not charged for the missing ones" in text, text
