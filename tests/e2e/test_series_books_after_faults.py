"""After a day of misbehaving series, /usage, /history, /spend (and its CSV),
/budget show and the ledger all tell the same story; limits met exactly on the last image."""

from __future__ import annotations

import asyncio
import csv
import io
from decimal import Decimal

from aiohttp import web

from image_gateway.money import format_usd
from tests.doubles.image_gateway_double import Fault, ImageGatewayDouble
from tests.e2e.books import assert_books_balanced
from tests.e2e.test_admin_quotas import budget, server

SEEDREAM_5 = "doubao-seedream-5-0-260128"
UNIT = 135_000
SERIES = {"flavour": "aiearth", "image_prices": {SEEDREAM_5: "0.135"}}


async def closed(w, count, timeout=30.0):
    async with asyncio.timeout(timeout):
        while len(rows := await w.ledger_rows()) < count or any(r["status"] == "pending" for r in rows):
            await asyncio.sleep(0.05)
    return rows


async def series(w, prompt, count, user=None):
    before = len(await w.ledger_rows())
    inter = await w.discord.invoke_command("series", {"prompt": prompt, "count": count}, user=user or w.alice,
                                           guild=w.guild, channel=w.channel)
    await closed(w, before + 1)
    await inter.wait_for_final(timeout=20, quiet=0.6)
    return inter


def csv_rows(inter):
    [(_name, data)] = [f for f in inter.files() if f[0].endswith(".csv")]
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


async def test_after_a_day_of_misbehaving_series_every_screen_agrees_with_the_ledger(tmp_path, monkeypatch):
    serve, fetches = ImageGatewayDouble._file, []

    async def file(self, request):  # the 2nd result link of the first series answers 404
        fetches.append(request.path)
        if len(fetches) == 2:
            return web.Response(status=404, text="NoSuchKey")
        return await serve(self, request)

    monkeypatch.setattr(ImageGatewayDouble, "_file", file)
    async with server(tmp_path, default_daily_images=30, default_monthly_usd="10",
                      guild_monthly_budget_usd="20", **SERIES) as w:
        await w.start_bot()
        await series(w, "four postcards", 4)  # billed 4, delivered 3
        w.gateway.script(Fault.partial(failed=(1,)))
        await series(w, "four seasons", 4)  # billed 3, delivered 3
        w.gateway.script(Fault.partial(failed=(0, 1, 2)))
        await series(w, "three frames", 3)  # released
        w.gateway.script(Fault.stream_error("InternalServiceError", after=2))
        await series(w, "five steps", 5)  # billed 2, delivered 2
        w.gateway.script(Fault.partial(failed=(), count=7))
        await series(w, "five more", 5, user=w.bob)  # billed 5 (7 made), delivered 5

        rows = await assert_books_balanced(w.storage)
        assert [(r["images_billed"] or 0, r["images_delivered"] or 0, r["status"]) for r in rows] == [
            (4, 3, "settled"), (3, 3, "settled"), (0, 0, "released"), (2, 2, "settled"), (5, 5, "settled")]
        cost = sum(r["cost_micros"] for r in rows)
        charged = sum(r["charged_micros"] for r in rows)
        assert cost == 14 * UNIT and charged == 13 * UNIT

        report = await w.run("spend", {"period": "month"}, user=w.admin, timeout=30)
        text = report.all_text()
        assert f"Total spend: {format_usd(cost)} (charged to members for delivered images: {format_usd(charged)})" \
            in text, text
        assert "Images billed: 14, delivered: 13" in text, text
        lines = csv_rows(report)
        assert [int(r["request_id"]) for r in lines] == [r["id"] for r in rows]
        assert sum(Decimal(r["cost_usd"]) for r in lines) * 1_000_000 == cost
        assert sum(Decimal(r["charged_usd"]) for r in lines) * 1_000_000 == charged

        history = (await w.run("history", {})).all_text()
        assert "delivered 3 of 4 · $0.54 (charged $0.405) · four postcards" in history, history
        assert "delivered 3 of 4 · $0.405 · four seasons" in history, history
        assert "delivered 2 of 5 · $0.27 · five steps" in history, history
        assert "three frames" in history and "content filter" in history, history

        usage = (await w.run("usage", {})).all_text()
        assert "Images today: 8 of 30" in usage and "Spent this month: $1.08" in usage, usage
        shown = (await budget(w, "show", {})).all_text()
        assert f"Spent this month: {format_usd(cost)}" in shown, shown


async def test_a_series_that_meets_the_daily_limit_and_the_budget_exactly_on_its_last_image(tmp_path):
    async with server(tmp_path, default_daily_images=4, default_monthly_usd="10",
                      guild_monthly_budget_usd="0.54", **SERIES) as w:
        await w.start_bot()
        inter = await series(w, "four postcards", 4)
        assert len(inter.files()) == 4, inter.all_text()
        assert "Left for you: 0 images today" in inter.all_text(), inter.all_text()
        refused = await w.discord.invoke_command("series", {"prompt": "two more", "count": 2}, user=w.alice,
                                                 guild=w.guild, channel=w.channel)
        await refused.wait_for_final(timeout=10)
        assert len(w.gateway.generation_requests) == 1
        usage = (await w.run("usage", {})).all_text()
        assert "Images today: 4 of 4" in usage and "$0.00 of $0.54" in usage, usage
        await assert_books_balanced(w.storage)


async def test_a_series_one_image_over_the_daily_limit_is_refused_before_anything_is_spent(tmp_path):
    async with server(tmp_path, default_daily_images=4, **SERIES) as w:
        await w.start_bot()
        await series(w, "two", 2)
        over = await w.discord.invoke_command("series", {"prompt": "three", "count": 3}, user=w.alice,
                                              guild=w.guild, channel=w.channel)
        await over.wait_for_final(timeout=10)
        assert len(w.gateway.generation_requests) == 1, over.all_text()
        assert over.messages[0]["flags"] & 64
        await assert_books_balanced(w.storage)


async def test_a_queued_series_loses_its_cancel_button_once_it_runs_and_is_charged_for_what_came(tmp_path):
    # Bob's series waits behind alice's request with a Cancel button; once his series has started
    # (its first image posted) the button is gone; the series goes on and is charged for what he
    # got, nothing left pending.
    from tests.e2e.test_queue import FAST, POSITION, buttons, content, submit  # noqa: PLC0415

    async with server(tmp_path, max_concurrent_requests=1, gateway={"per_image_latency": 0.4},
                      default_daily_images=10, **FAST, **SERIES) as w:
        await w.start_bot()
        w.gateway.script(Fault.delay(1.0))
        await submit(w, w.alice, "alice's picture")
        waiting = await w.discord.invoke_command("series", {"prompt": "a day in 4 steps", "count": 4}, user=w.bob,
                                                 guild=w.guild, channel=w.channel)
        queued = (await waiting.wait_for(lambda e: bool(POSITION.search(content(e))), timeout=10)).message
        [cancel] = [b for b in buttons(queued) if b.startswith("queue:cancel:")]
        await waiting.wait_for(lambda e: bool((e.message or {}).get("attachments")), timeout=15)
        # Once it runs there is nothing to cancel: the button is gone from the reply (a member
        # cannot stop a series midway and be charged for images then made anyway).
        assert not [b for b in buttons(waiting.original.payload) if b.startswith("queue:cancel:")]
        assert cancel.startswith("queue:cancel:")
        rows = await closed(w, 2)
        await waiting.wait_for_final(timeout=15, quiet=0.6)
        bob = rows[-1]
        assert (bob["status"], bob["images_delivered"], bob["charged_micros"]) == ("settled", 4, 4 * UNIT)
        assert len(waiting.files()) == 4
        assert "Left for you: 6 images today" in waiting.all_text(), waiting.all_text()
        await assert_books_balanced(w.storage)
