"""/series streamed answers that misbehave, from the money side: each image posted and charged once.

A scripted SSE stream replaces the double's own: the images are made (and stored) by the double,
then sent in whatever order/shape each test says."""

from __future__ import annotations

import asyncio
import contextlib
import re

from aiohttp import web

from tests.doubles.image_gateway_double import ImageGatewayDouble
from tests.doubles.image_gateway_double import responses as gw
from tests.e2e.books import assert_books_balanced
from tests.e2e.harness import world

SEEDREAM_5 = "doubao-seedream-5-0-260128"
UNIT = 135_000
SERIES = {"flavour": "aiearth", "image_prices": {SEEDREAM_5: "0.135"},
          "default_daily_images": 20, "default_monthly_usd": "5"}
FILE = re.compile(r"seedream-(\d+)-(\d+)\.\w+")


def scripted_stream(monkeypatch, script):
    """`script(outcomes)` -> list of bytes (SSE events) to send for this request."""

    async def stream(self, request, job, outcomes, fault):
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):  # the bot may hang up after [DONE]
            for chunk in script(self._echo(job), outcomes):
                await response.write(chunk)
                await asyncio.sleep(0.02)
            await response.write_eof()
        return response

    monkeypatch.setattr(ImageGatewayDouble, "_stream", stream)


def ok(model, outcome, index=None, fmt="url"):
    o = outcome if index is None else gw.Outcome(index, outcome.size, outcome.blob, outcome.url)
    return gw.partial_event(model, 0, o, fmt)


def completed(model, generated):
    kind = "image_generation.completed"
    return gw.sse_event(kind, {"type": kind, "model": model, "created": 0,
                               "usage": {"generated_images": generated}})


async def closed_row(w, timeout=20.0):
    async with asyncio.timeout(timeout):
        while not (rows := await w.ledger_rows()) or rows[-1]["status"] == "pending":
            await asyncio.sleep(0.05)
    return rows[-1]


async def series(w, count, prompt="four postcards"):
    inter = await w.discord.invoke_command("series", {"prompt": prompt, "count": count}, user=w.alice,
                                           guild=w.guild, channel=w.channel)
    row = await closed_row(w)
    await inter.wait_for_final(timeout=15, quiet=0.6)
    return inter, row


def numbers(inter):
    return [int(FILE.fullmatch(a["filename"])[2]) for m in inter.messages for a in m.get("attachments", [])]


async def test_a_duplicated_image_event_is_not_charged_twice_nor_crowds_out_the_last_image(tmp_path, monkeypatch):
    # The stream repeats the event of image 2 (same image_index, same URL: a proxy that re-sends an
    # event after a reconnect). The member should get images 1-4 once each and pay for 4; the bot
    # instead posts image 2 twice, drops image 4 (which the gateway made and billed) as "more than
    # asked for", and the member pays for the duplicate.
    def script(model, outs):
        return [ok(model, outs[0]), ok(model, outs[1]), ok(model, outs[1]), ok(model, outs[2]),
                ok(model, outs[3]), completed(model, 4), gw.DONE_EVENT]

    scripted_stream(monkeypatch, script)
    async with world(tmp_path, **SERIES) as w:
        inter, row = await series(w, 4)
        await assert_books_balanced(w.storage)
        assert sorted(set(numbers(inter))) == [1, 2, 3, 4], numbers(inter)
        assert numbers(inter) == [1, 2, 3, 4], numbers(inter)
        assert (row["images_billed"], row["images_delivered"], row["charged_micros"]) == (4, 4, 4 * UNIT)


async def test_a_failed_event_repeating_a_delivered_image_index_does_not_drop_the_last_image(tmp_path, monkeypatch):
    # Image 1 arrives, then a partial_failed naming image_index 0 again, then images 2-4 and a
    # completion billing 4. The member should get 4 images; the bot counts the repeated index as a
    # fifth slot, ignores image 4 as past the request, and tells the member one was refused.
    def script(model, outs):
        failed = gw.Outcome(0, outs[0].size, error_code=gw.SENSITIVE_OUTPUT)
        return [ok(model, outs[0]), gw.partial_event(model, 0, failed, "url"), ok(model, outs[1]),
                ok(model, outs[2]), ok(model, outs[3]), completed(model, 4), gw.DONE_EVENT]

    scripted_stream(monkeypatch, script)
    async with world(tmp_path, **SERIES) as w:
        inter, row = await series(w, 4)
        await assert_books_balanced(w.storage)
        assert numbers(inter) == [1, 2, 3, 4], (numbers(inter), inter.all_text())
        assert (row["images_billed"], row["images_delivered"]) == (4, 4)


async def test_images_arriving_out_of_order_are_all_posted_and_charged_once(tmp_path, monkeypatch):
    # Guard: image_index 2, 0, 3, 1 -> every image posted once, numbered as the gateway numbered them.
    def script(model, outs):
        return [ok(model, outs[2]), ok(model, outs[0]), ok(model, outs[3]), ok(model, outs[1]),
                completed(model, 4), gw.DONE_EVENT]

    scripted_stream(monkeypatch, script)
    async with world(tmp_path, **SERIES) as w:
        inter, row = await series(w, 4)
        await assert_books_balanced(w.storage)
        assert sorted(numbers(inter)) == [1, 2, 3, 4]
        assert (row["images_billed"], row["images_delivered"], row["charged_micros"]) == (4, 4, 4 * UNIT)
        assert "Left for you: 16 images today" in inter.all_text(), inter.all_text()


async def test_mixed_url_and_b64_items_in_one_stream_are_all_delivered(tmp_path, monkeypatch):
    # Guard: two images as links, two inline as base64.
    def script(model, outs):
        return [ok(model, outs[0]), ok(model, outs[1], fmt="b64_json"), ok(model, outs[2]),
                ok(model, outs[3], fmt="b64_json"), completed(model, 4), gw.DONE_EVENT]

    scripted_stream(monkeypatch, script)
    async with world(tmp_path, **SERIES) as w:
        inter, row = await series(w, 4)
        await assert_books_balanced(w.storage)
        assert numbers(inter) == [1, 2, 3, 4]
        assert (row["images_billed"], row["images_delivered"], row["charged_micros"]) == (4, 4, 4 * UNIT)


async def test_completion_counting_more_than_were_sent_bills_the_server_not_the_member(tmp_path, monkeypatch):
    # Three images sent, completion says 4 were generated: the server's spend records the 4 the
    # gateway billed, the member pays 3, and the summary says where the fourth went.
    def script(model, outs):
        return [ok(model, outs[0]), ok(model, outs[1]), ok(model, outs[2]), completed(model, 4), gw.DONE_EVENT]

    scripted_stream(monkeypatch, script)
    async with world(tmp_path, **SERIES) as w:
        inter, row = await series(w, 4)
        await assert_books_balanced(w.storage)
        assert (row["images_billed"], row["images_delivered"]) == (4, 3)
        assert (row["cost_micros"], row["charged_micros"]) == (4 * UNIT, 3 * UNIT)
        text = inter.all_text()
        assert "cost $0.54 (you pay $0.405)" in text, text
        assert "counted 4 images made but sent 3; you were not charged for the missing ones" in text, text
        assert "Left for you: 17 images today" in text, text
        usage = (await w.run("usage", {})).all_text()
        assert "Images today: 3 of 20" in usage and "$0.405" in usage, usage


async def test_completion_counting_more_than_asked_is_held_to_the_request(tmp_path, monkeypatch):
    # Four asked, six events and usage 6: the member gets four and pays four; the ledger holds
    # the server to the four it reserved.
    def script(model, outs):
        extra = [ok(model, outs[i % 4], index=4 + i) for i in range(2)]
        return [ok(model, o) for o in outs] + extra + [completed(model, 6), gw.DONE_EVENT]

    scripted_stream(monkeypatch, script)
    async with world(tmp_path, default_daily_images=4, flavour="aiearth", image_prices={SEEDREAM_5: "0.135"},
                     default_monthly_usd="0.54") as w:
        inter, row = await series(w, 4)
        await assert_books_balanced(w.storage)
        assert numbers(inter) == [1, 2, 3, 4]
        assert (row["images_billed"], row["images_delivered"], row["charged_micros"]) == (4, 4, 4 * UNIT)
        assert "Left for you: 0 images today" in inter.all_text(), inter.all_text()
