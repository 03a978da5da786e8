"""/series: the summary's "Left for you", /usage and the ledger agree after each kind of
partial result, streamed (aiearth) and plain JSON (gogogotoken.com)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.doubles.image_gateway_double import Fault
from tests.e2e.books import assert_books_balanced
from tests.e2e.harness import world
from tests.e2e.test_series import settled, start

PRICE = {"doubao-seedream-5-0-260128": Decimal("0.135")}
UNIT = {"gogogotoken-com": 162_000, "aiearth": 135_000}
# fault -> (gateway options, scripted fault, images delivered, images the server pays for)
CASES = {
    "refused": ({}, Fault.partial(failed=(1,)), 3, 3),
    "fewer": ({"series_count": 2}, None, 2, 2),
    "lost": ({}, Fault.missing_file(), 0, 4),
    "more": ({}, Fault.partial(failed=(), count=6), 4, 4),
}


@pytest.mark.parametrize("flavour", ["gogogotoken-com", "aiearth"])
@pytest.mark.parametrize("case", list(CASES))
async def test_summary_usage_and_ledger_agree(tmp_path, flavour, case):
    gateway, fault, delivered, billed = CASES[case]
    async with world(tmp_path, flavour=flavour, gateway=gateway, image_prices=PRICE,
                     default_daily_images=10, default_monthly_usd="5") as w:  # fmt: skip
        if fault is not None:
            w.gateway.script(fault)
        inter = await start(w, {"prompt": "four postcards", "count": 4})
        row = await settled(w)
        await inter.wait_for_final(timeout=15, quiet=0.5)
        unit = UNIT[flavour]
        assert (row["images_delivered"] or 0, row["images_billed"]) == (delivered, billed)
        assert (row["cost_micros"], row["charged_micros"]) == (billed * unit, delivered * unit)
        assert f"Left for you: {10 - delivered} images today" in inter.all_text(), inter.all_text()
        usage = (await w.run("usage", {})).all_text()
        assert f"Images today: {delivered} of 10" in usage, usage
        assert "held for requests" not in usage, usage  # nothing left pending
        await assert_books_balanced(w.storage)
