"""Members who try, on purpose or by accident, to get more than their limits allow or to be charged
for less than they got: double submits, Cancel at the moment the turn comes, bursts near the daily
and monthly limits, a form opened before a limit was lowered."""

from __future__ import annotations

import asyncio

from storage import Limits
from tests.doubles.image_gateway_double import Fault
from tests.e2e.books import assert_books_balanced
from tests.e2e.harness import world
from tests.e2e.staff import eventually, is_ephemeral
from tests.e2e.test_admin_quotas import quota, server
from tests.e2e.test_approval import approval_world
from tests.e2e.test_approval_queue import approve
from tests.e2e.test_queue import FAST, buttons, content
from tests.e2e.test_result_buttons import _text_input_id, press, result_message

PRICE = 162_000  # Seedream 4.0 on gogogotoken.com


async def _submit_form(w, opened, prompt: str):
    submitted = await w.discord.submit_modal(
        opened.modal["custom_id"], {_text_input_id(opened.modal): prompt}, user=w.alice, from_interaction=opened
    )
    await submitted.wait_for_final(timeout=15, quiet=0.5)
    return submitted


async def test_a_variation_form_submitted_twice_at_once_is_made_and_charged_once(tmp_path):
    # A member double-clicks Submit on the Variation form (or the client sends it twice on a slow
    # link): one variation is made and charged, the other submission told privately it is on its
    # way, as for Re-roll and Upscale. Both were made and charged ($0.324 for $0.162).
    async with world(tmp_path, gateway={"latency": 0.3}) as w:
        first = await w.run("imagine", {"prompt": "a quiet lake"})
        request_id = (await w.ledger_rows())[0]["id"]
        opened = await press(w, result_message(first), "variation", request_id)
        assert opened.modal is not None, opened.all_text()
        one, two = await asyncio.gather(*(_submit_form(w, opened, "a quiet lake at dawn") for _ in range(2)))
        await eventually(lambda: not w.bot.queue._places)
        variations = [r for r in await w.ledger_rows() if r["command"] == "variation" and r["status"] == "settled"]
        made = len(w.gateway.generation_requests) - 1
        assert (made, len(variations)) == (1, 1), (
            f"the same form made {made} variation(s) and charged {len(variations)}: "
            f"{[r['charged_micros'] for r in variations]}"
        )
        told = [s for s in (one, two) if "already on its way" in s.all_text()]
        assert len(told) == 1 and is_ephemeral(told[0]), (one.all_text(), two.all_text())


async def test_in_approval_mode_a_variation_form_submitted_twice_reaches_the_moderators_once(tmp_path):
    # The same double submit in approval mode: one review, not two identical ones (each with the
    # image) that two moderators could both approve and charge.
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await w.run("imagine", {"prompt": "a quiet lake"})
        await approve(w, staff, "a quiet lake")
        await eventually(lambda: any("sd:variation:" in b for m in w.discord.channel_messages(w.channel)
                                     for b in buttons(m)))
        [result] = [m for m in w.discord.channel_messages(w.channel) if any("sd:variation:" in b for b in buttons(m))]
        request_id = (await w.ledger_rows())[0]["id"]
        opened = await press(w, result, "variation", request_id)
        one, two = await asyncio.gather(*(_submit_form(w, opened, "a quiet lake at dawn") for _ in range(2)))
        reviews = [m for m in w.discord.channel_messages(staff.mods_channel) if "at dawn" in (m.get("content") or "")]
        assert len(reviews) == 1, (len(reviews), one.all_text(), two.all_text())


async def test_a_daily_limit_refusal_while_the_images_are_only_held_says_so(tmp_path):
    # Alice (daily limit 4) has a 4-image request still being made; nothing was made today yet.
    # Asking for one more she read "used 4": the refusal says they are made or held for requests
    # in progress, as the money limits say.
    async with world(tmp_path, default_daily_images=4, **FAST) as w:
        w.gateway.script(Fault.hang(), times=1)
        await w.discord.invoke_command("imagine", {"prompt": "four at once", "count": 4}, user=w.alice,
                                       guild=w.guild, channel=w.channel)  # fmt: skip
        await eventually(lambda: len(w.gateway.generation_requests) == 1)
        more = await w.run("imagine", {"prompt": "one more"})
        text = more.all_text()
        assert is_ephemeral(more) and "daily limit of 4" in text, text
        assert "4 made or held for requests in progress, this asks for 1" in text, text


async def test_a_burst_of_imagine_and_series_from_one_member_never_passes_the_monthly_limit(tmp_path):
    # One member fires four requests at once (two /imagine of 2, two /series of 3:
    # 10 images) against a monthly limit of exactly 6 images ($0.972) and a daily limit of 7: what
    # is admitted fits, counting what is held and not yet settled; the rest is refused privately,
    # naming the limit, and costs nothing; the books balance.
    async with server(tmp_path, gateway={"latency": 0.2}, max_requests_per_member=10) as w:
        await w.start_bot()
        await quota(w, "set", {"member": w.alice, "daily_images": 7, "monthly_usd": "0.972"})
        asks = [("imagine", {"prompt": "a", "count": 2}), ("series", {"prompt": "b", "count": 3}),
                ("imagine", {"prompt": "c", "count": 2}), ("series", {"prompt": "d", "count": 3})]
        handles = await asyncio.gather(*(
            w.discord.invoke_command(name, options, user=w.alice, guild=w.guild, channel=w.channel)
            for name, options in asks
        ))  # fmt: skip
        for handle in handles:
            await handle.wait_for_final(timeout=15, quiet=0.5)
        await eventually(lambda: not w.bot.queue._places)
        rows = await w.ledger_rows()
        admitted = [r for r in rows if r["status"] != "refused"]
        assert sum(r["images_requested"] for r in admitted) <= 6, rows
        assert sum(r["charged_micros"] for r in rows) <= 972_000
        # each refusal names the first limit it would pass (the daily 7 is checked before the month)
        refused = [h for h in handles if any(limit in h.all_text() for limit in ("monthly limit of $0.972",
                                                                                 "daily limit of 7"))]
        assert len(refused) == len(rows) - len(admitted) >= 1, [h.all_text() for h in handles]
        assert all(is_ephemeral(h) for h in refused)
        await assert_books_balanced(w.storage, Limits(7, 972_000, None))


async def test_cancel_pressed_just_as_the_turn_comes_is_told_it_is_too_late_and_charged_once(tmp_path):
    # The member presses Cancel at the very moment their request leaves the line
    # (the press is answered before the request goes on): they are told privately it can no longer
    # be cancelled, and the request is made and charged once - never "Cancelled" and still charged.
    async with world(tmp_path, gateway={"latency": 0.2}, max_concurrent_requests=1, **FAST) as w:
        w.gateway.script(Fault.delay(1.0), times=1)
        await w.discord.invoke_command("imagine", {"prompt": "bob first"}, user=w.bob, guild=w.guild,
                                       channel=w.channel)  # fmt: skip
        await eventually(lambda: len(w.gateway.generation_requests) == 1)
        mine = await w.discord.invoke_command("imagine", {"prompt": "alice second"}, user=w.alice, guild=w.guild,
                                              channel=w.channel)  # fmt: skip
        queued = (await mine.wait_for(lambda e: "Queued" in content(e), timeout=10)).message
        [cancel] = [b for b in buttons(queued) if b.startswith("queue:cancel:")]
        real_recheck, presses = w.bot.pipeline.recheck, []

        async def cancel_as_the_turn_comes(ticket, **kwargs):
            click = await w.discord.click_button(queued, cancel, user=w.alice)
            await click.wait_for_final(timeout=10, quiet=0.2)
            presses.append(click)
            return await real_recheck(ticket, **kwargs)

        w.bot.pipeline.recheck = cancel_as_the_turn_comes
        await eventually(lambda: presses)
        await eventually(lambda: not w.bot.queue._places)
        [pressed] = presses
        assert is_ephemeral(pressed) and "can't be cancelled" in pressed.all_text(), pressed.all_text()
        [row] = [r for r in await w.ledger_rows() if r["prompt"] == "alice second"]
        assert (row["status"], row["images_delivered"], row["charged_micros"]) == ("settled", 1, PRICE), row
        assert "Cancelled" not in mine.all_text()


async def test_a_variation_form_opened_before_the_limit_was_set_to_zero_is_refused_when_submitted(tmp_path):
    # The form was opened while Alice could still make images; an admin then set her
    # daily limit to 0. The submission is refused privately, says waiting will not help, and nothing
    # reaches the gateway or is charged.
    async with server(tmp_path) as w:
        await w.start_bot()
        first = await w.run("imagine", {"prompt": "a quiet lake"})
        request_id = (await w.ledger_rows())[0]["id"]
        opened = await press(w, result_message(first), "variation", request_id)
        assert opened.modal is not None, opened.all_text()
        await quota(w, "set", {"member": w.alice, "daily_images": 0})
        submitted = await _submit_form(w, opened, "a quiet lake at dawn")
        assert is_ephemeral(submitted), submitted.all_text()
        assert "Your daily limit is 0 images" in submitted.all_text(), submitted.all_text()
        assert len(w.gateway.generation_requests) == 1
        assert [r["status"] for r in await w.ledger_rows()] == ["settled", "refused"]


async def test_usage_says_which_of_todays_images_are_only_held(tmp_path):
    # "Images today: 4 of 4" while nothing was made yet: /usage says 4 are held for a request in
    # progress, as it says of the money held.
    async with world(tmp_path, default_daily_images=4, **FAST) as w:
        w.gateway.script(Fault.hang(), times=1)
        await w.discord.invoke_command("imagine", {"prompt": "four at once", "count": 4}, user=w.alice,
                                       guild=w.guild, channel=w.channel)  # fmt: skip
        await eventually(lambda: len(w.gateway.generation_requests) == 1)
        usage = (await w.run("usage")).all_text().splitlines()
        assert usage[1:3] == ["Images today: 4 of 4",
                              "Of which 4 are held for requests in progress (given back if not delivered)."], usage
        bob = (await w.run("usage", user=w.bob, locale="zh-CN")).all_text()
        assert "今日图片：0 / 4" in bob and "预留" not in bob, bob  # nothing of bob's is held
