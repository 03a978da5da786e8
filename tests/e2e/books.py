"""The ledger's invariants, checked after every fault: nothing over a limit, totals = sums of rows."""

from __future__ import annotations

import asyncio
from typing import Any

from image_gateway.money import format_usd
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


async def assert_screens_show_the_books(w, people, *, admin, budget_micros: int, daily_limit) -> None:
    """What the owner's /budget show and each member's /usage say is what the rows say: the
    server's spend and what is left of the budget, each member's images today (against
    `daily_limit(member)`) and spend this month."""
    rows = [dict(r) for r in await w.storage.db.fetchall("SELECT * FROM requests")]
    spent = sum(r["cost_micros"] for r in rows)
    shown = await w.discord.invoke_command("budget", {}, user=admin, guild=w.guild, channel=w.channel,
                                           subcommand="show")  # fmt: skip
    text = (await shown.wait_for_final(timeout=15)).all_text()
    assert f"Spent this month: {format_usd(spent)}, left: {format_usd(budget_micros - spent)}" in text, text
    for member in people:
        mine = [r for r in rows if r["user_id"] == member.id]
        usage = await w.discord.invoke_command("usage", {}, user=member, guild=w.guild, channel=w.channel)
        text = (await usage.wait_for_final(timeout=10)).all_text()
        images, charged = sum(r["images_delivered"] or 0 for r in mine), sum(r["charged_micros"] for r in mine)
        assert f"Images today: {images} of {daily_limit(member)}" in text, (member.username, text)
        assert f"Spent this month: {format_usd(charged)}" in text, (member.username, text)
        left = format_usd(max(budget_micros - spent, 0))
        assert f"Server budget left this month: {left} of {format_usd(budget_micros)}" in text, text


async def closed_row_of(w, prompt: str, timeout: float = 12.0) -> dict[str, Any]:
    """The ledger row of the request for `prompt` once it is no longer pending (made, or withdrawn)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        row = next((r for r in await w.ledger_rows() if r["prompt"] == prompt), None)
        if row is not None and row["status"] != "pending":
            return row
        if loop.time() > deadline:
            raise TimeoutError(f"{prompt!r} still pending: {row}")
        await asyncio.sleep(0.05)
