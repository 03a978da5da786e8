"""The ledger's invariants, checked after every fault: nothing over a limit, totals = sums of rows."""

from __future__ import annotations

from typing import Any

from storage import Limits, Storage
from tests.unit.storage.conftest import counters_match_rows


async def assert_books_balanced(storage: Storage, limits: Limits | None = None) -> list[dict[str, Any]]:
    """No pending row; no member charged over what the server paid; spent <= every limit; the
    trigger-kept counters and usage() equal the sums over the rows. Returns the rows."""
    rows = [dict(r) for r in await storage.db.fetchall("SELECT * FROM requests ORDER BY id")]
    assert [r["id"] for r in rows if r["status"] == "pending"] == []
    for row in rows:
        assert 0 <= row["charged_micros"] <= row["cost_micros"], row
        if row["status"] != "settled":
            assert row["cost_micros"] == row["charged_micros"] == 0, row
        else:
            assert row["cost_micros"] == row["unit_price_micros"] * row["images_billed"], row
            assert (row["images_delivered"] or 0) <= row["images_billed"], row
    await counters_match_rows(storage)
    members = {(r["guild_id"], r["user_id"]) for r in rows}
    for guild_id, user_id in members:
        usage = await storage.ledger.usage(guild_id, user_id)
        mine = [r for r in rows if (r["guild_id"], r["user_id"]) == (guild_id, user_id) and r["status"] == "settled"]
        server = [r for r in rows if r["guild_id"] == guild_id and r["status"] == "settled"]
        assert usage.images_today == sum(r["images_delivered"] or 0 for r in mine)
        assert usage.member_month_micros == sum(r["charged_micros"] for r in mine)
        assert usage.guild_month_micros == sum(r["cost_micros"] for r in server)
        if limits is not None:
            for limit, used in (
                (limits.daily_images, usage.images_today),
                (limits.monthly_micros, usage.member_month_micros),
                (limits.guild_monthly_micros, usage.guild_month_micros),
            ):
                assert limit is None or used <= limit
    return rows
