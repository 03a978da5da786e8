"""/series as members use it: what they see while it runs and at its end."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

from tests.e2e.harness import world
from tests.e2e.test_series import image_numbers, settled, start

SEEDREAM_5 = "doubao-seedream-5-0-260128"
PRICE = {SEEDREAM_5: Decimal("0.135")}
UNIT = 135_000


def _texts(messages) -> list[str]:
    return [m.get("content") or "" for m in messages]


async def test_a_summary_edit_lost_on_the_way_still_reaches_the_member_with_the_buttons(tmp_path):
    # A streamed series of 3 (aiearth, priced): images 1-3 are posted and charged; the one edit
    # that puts the summary (cost, what is left) and the Re-roll/Variation/Upscale/Delete buttons
    # on the first reply loses its connection. The member used to see three images and nothing
    # else, ever (the failure was only logged); the summary now comes as a new message.
    async with world(tmp_path, flavour="aiearth", gateway={"per_image_latency": 0.5}, image_prices=PRICE) as w:
        inter = await start(w, {"prompt": "three seasons of one tree", "count": 3})
        await inter.wait_for(lambda e: e.kind == "followup" and bool((e.message or {}).get("attachments")),
                             timeout=15)  # image 2 is out: the next edit of the reply is the summary
        dropped = w.discord.drop_next(1, method="PATCH", path=r"/messages/@original$")
        row = await settled(w)
        await inter.wait_for_final(timeout=10, quiet=0.8)
        await asyncio.sleep(0.5)
        assert dropped.hits == 1
        assert (row["images_delivered"], row["charged_micros"]) == (3, 3 * UNIT)
        seen = [*inter.messages, *w.discord.channel_messages(w.channel)]
        with_buttons = [m for m in seen if m.get("components")]
        assert with_buttons, f"no message with the result's buttons: {_texts(seen)}"
        assert any("$0.405" in (m.get("content") or "") for m in seen), _texts(seen)


TOLD_HOW_FAR = re.compile(r"\b\d+\s*(?:/|of|out of)\s*4\b|more (?:to come|coming|on the way)|generating", re.I)


async def test_while_a_streamed_series_runs_the_member_can_tell_more_images_are_coming(tmp_path):
    # A streamed series of 4 (aiearth; Seedream takes ~10 s an image, so a series of 15 runs for
    # minutes). Once image 1 was posted, the progress line gave way to the bare prompt, and the
    # follow-ups said "Image 2 of **<prompt>**": nothing told whether more were coming. The
    # messages in flight now say how far it is ("Image 1 of 4", "Image 2 of 4: ...").
    async with world(tmp_path, flavour="aiearth", gateway={"per_image_latency": 0.6}, image_prices=PRICE) as w:
        inter = await start(w, {"prompt": "a fox's day", "count": 4})
        await inter.wait_for(lambda e: e.kind == "followup" and bool((e.message or {}).get("attachments")),
                             timeout=15)  # images 1 and 2 are out, 3 and 4 still being made
        assert w.gateway.generation_requests and (await w.ledger_rows())[-1]["status"] == "pending"
        shown = _texts(inter.messages)
        await settled(w)
        await inter.wait_for_final(timeout=10, quiet=0.5)
        assert any(TOLD_HOW_FAR.search(text) for text in shown), shown


PRICES = {  # a price on every preset that publishes none, so charges are visible
    "gogogotoken-ai": {"doubao-seedream-5-0-lite": "0.035"},
    "302ai": {"doubao-seedream-4-0-250828": "0.03"},
    "xmsmartlink": {SEEDREAM_5: "0.035"},
    "custom": {SEEDREAM_5: "0.035"},
}


async def test_fewer_images_than_asked_are_charged_as_delivered_on_every_other_preset(tmp_path):
    # (The books test covers gogogotoken-com and aiearth.) The gateway
    # makes 3 of the 5 images asked for: the member gets 3, pays for 3, the server for 3, and the
    # summary says 3 of 5 were made. Streamed (xmsmartlink, custom) and plain JSON (gogogotoken-ai,
    # 302ai, whose default Seedream 3.0 cannot make a series: Seedream 4.0 does it).
    for preset, prices in PRICES.items():
        flavour = "aiearth" if preset == "custom" else preset
        extra = {"image_provider": "custom"} if preset == "custom" else {}
        async with world(tmp_path / preset, flavour=flavour, gateway={"series_count": 3}, image_prices=prices,
                         default_daily_images=20, **extra) as w:  # fmt: skip
            inter = await start(w, {"prompt": "a fox's day", "count": 5})
            row = await settled(w)
            await inter.wait_for_final(timeout=10, quiet=0.5)
            [(model, price)] = prices.items()
            unit = int(Decimal(price) * 1_000_000)
            assert row["model"] == model, (preset, row["model"])
            assert [n for m in image_numbers(inter.messages) for n in m] == [1, 2, 3], preset
            assert (row["images_billed"], row["images_delivered"]) == (3, 3), preset
            assert (row["cost_micros"], row["charged_micros"], row["reserved_micros"]) == (3 * unit, 3 * unit, 5 * unit)
            text = inter.all_text()
            assert "made 3 of the 5 images" in text and "Left for you: 17 images today" in text, (preset, text)
