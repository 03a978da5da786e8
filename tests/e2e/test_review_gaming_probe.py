"""Probes (temporary)."""

from __future__ import annotations

import asyncio

from tests.doubles.image_gateway_double import Fault
from tests.e2e.books import assert_books_balanced
from tests.e2e.harness import world
from tests.e2e.staff import eventually, is_ephemeral
from tests.e2e.test_admin_quotas import quota, server
from tests.e2e.test_queue import FAST
from tests.e2e.test_result_buttons import _text_input_id, press, result_message

PRICE = 162_000


async def test_variation_form_submitted_twice_at_once(tmp_path):
    async with world(tmp_path, gateway={"latency": 0.3}) as w:
        first = await w.run("imagine", {"prompt": "a quiet lake"})
        request_id = (await w.ledger_rows())[0]["id"]
        opened = await press(w, result_message(first), "variation", request_id)
        field = _text_input_id(opened.modal)

        async def submit():
            s = await w.discord.submit_modal(opened.modal["custom_id"], {field: "a quiet lake at dawn"},
                                             user=w.alice, from_interaction=opened)
            await s.wait_for_final(timeout=15, quiet=0.5)
            return s

        one, two = await asyncio.gather(submit(), submit())
        await asyncio.sleep(1)
        rows = [(r["command"], r["status"], r["charged_micros"]) for r in await w.ledger_rows()]
        print(rows, one.all_text(), "|||", two.all_text())
        assert len(w.gateway.generation_requests) == 2, rows


async def test_many_imagines_at_once_near_daily_limit(tmp_path):
    async with world(tmp_path, gateway={"latency": 0.2}, default_daily_images=5, max_requests_per_member=10) as w:
        handles = await asyncio.gather(*(
            w.discord.invoke_command("imagine", {"prompt": f"p{i}", "count": 2}, user=w.alice, guild=w.guild,
                                     channel=w.channel) for i in range(6)))
        for h in handles:
            await h.wait_for_final(timeout=15, quiet=0.5)
        rows = await w.ledger_rows()
        print([(r["status"], r["images_delivered"]) for r in rows])
        for h in handles:
            print(h.all_text()[:300])
        assert sum(r["images_delivered"] or 0 for r in rows) <= 5


async def test_daily_message_when_only_held(tmp_path):
    async with world(tmp_path, default_daily_images=4, **FAST) as w:
        w.gateway.script(Fault.hang(), times=1)
        await w.discord.invoke_command("imagine", {"prompt": "four", "count": 4}, user=w.alice, guild=w.guild,
                                       channel=w.channel)
        await eventually(lambda: len(w.gateway.generation_requests) == 1)
        more = await w.run("imagine", {"prompt": "one more"})
        print(more.all_text())
        usage = await w.run("usage", {})
        print(usage.all_text())
        assert False
