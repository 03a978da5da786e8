"""After a realistic mix of activity in one server, every report agrees with the
ledger, with each other and with what the gateway billed.

Mix: three members; /imagine count>1 on two models; /edit; a /series the gateway makes fewer
images of; a request the gateway answers with fewer images than asked; a request whose image
download fails; a quota refusal; a request cancelled while waiting; approval mode with one
request approved and one rejected.
"""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

from image_gateway.money import format_usd
from tests.doubles.image_gateway_double import Fault
from tests.e2e.books import assert_books_balanced
from tests.e2e.staff import eventually
from tests.e2e.test_admin_quotas import budget, quota, server
from tests.e2e.test_approval import button
from tests.e2e.test_edit import image_bytes
from tests.e2e.test_queue import POSITION, buttons, content, delivered
from tests.e2e.test_reports import PNG_SIGNATURE, csv_rows, png_bytes, spend

P40, P45 = 162_000, 135_000  # gogogotoken.com: Seedream 4.0 (default), Seedream 4.5
M45 = "doubao-seedream-4-5-251128"


def usd(micros: int) -> str:
    return format_usd(micros)


async def wait_in_line(w, user, prompt):
    inter = await w.discord.invoke_command("imagine", {"prompt": prompt}, user=user, guild=w.guild,
                                           channel=w.channel)
    queued = (await inter.wait_for(lambda e: bool(POSITION.search(content(e))), timeout=10)).message
    return inter, queued


async def a_busy_month(w):
    """Drives the mix; returns the interactions whose images went to each member."""
    carol = w.discord.add_user("carol")
    w.discord.add_member(w.guild, carol)
    w.carol = carol
    mods = w.discord.add_channel(w.guild, "mods")
    await w.start_bot()
    await budget(w, "set", {"amount": "20"})
    got: dict[int, int] = {}

    def count(user, inter):
        w.seen = [*getattr(w, "seen", []), (user.username, [f[0] for f in inter.files()])]
        got[user.id] = got.get(user.id, 0) + len([f for f in inter.files()
                                                   if f[0].lower().endswith((".png", ".jpg", ".jpeg", ".webp"))])

    a1 = await w.run("imagine", {"prompt": "three cats", "count": 3})
    count(w.alice, a1)
    a2 = await w.run("imagine", {"prompt": "two dogs", "count": 2, "model": M45})
    count(w.alice, a2)
    b1 = await w.run("edit", {"prompt": "make the sky purple"},
                     attachments=[("photo.png", image_bytes("PNG"), "image/png")], user=w.bob)
    count(w.bob, b1)
    w.gateway.series_count = 2  # the gateway makes 2 of the 4 asked
    c1 = await w.run("series", {"prompt": "four postcards", "count": 4}, user=carol, timeout=20)
    w.gateway.series_count = None
    count(carol, c1)
    w.gateway.script(Fault.partial(failed=(), count=1))  # answered with 1 image of 2
    b2 = await w.run("imagine", {"prompt": "two owls", "count": 2}, user=w.bob)
    count(w.bob, b2)
    w.gateway.script(Fault.missing_file())  # billed, the download fails
    c2 = await w.run("imagine", {"prompt": "lost fox"}, user=carol)
    count(carol, c2)
    await quota(w, "set", {"member": carol, "daily_images": 3})
    refused = await w.run("imagine", {"prompt": "too many", "count": 2}, user=carol)  # 2 + 2 > 3
    assert "daily limit" in refused.all_text(), refused.all_text()

    # A request cancelled while it waits in line behind a slow one.
    w.gateway.script(Fault.delay(2.5))
    slow = await w.discord.invoke_command("imagine", {"prompt": "slow heron"}, user=w.alice, guild=w.guild,
                                          channel=w.channel)
    await asyncio.sleep(0.3)
    waiting, queued = await wait_in_line(w, w.bob, "never made")
    [cancel] = [b for b in buttons(queued) if b.startswith("queue:cancel:")]
    click = await w.discord.click_button(queued, cancel, user=w.bob)
    await click.wait_for_ack()
    await waiting.wait_for(lambda e: "Cancelled" in content(e), timeout=10)
    await delivered(slow)
    count(w.alice, slow)

    # Approval mode: one approved, one rejected.
    await w.run("settings", {"mode": "on", "channel": mods}, user=w.admin, subcommand="approval")
    asked = await w.run("imagine", {"prompt": "approved moon", "count": 2})
    assert "sent to the moderators" in asked.all_text(), asked.all_text()
    [review] = [m for m in w.discord.channel_messages(mods) if m.get("components")]
    pressed = await w.discord.click_button(review, button(review, "approve"), user=w.admin)
    await pressed.wait_for_final()
    await eventually(lambda: any(r for r in w.discord.channel_messages(w.channel)
                                 if len(r.get("attachments") or []) == 2))
    await eventually(lambda: "approved moon" in "".join(m.get("content") or "" for m in
                                                        w.discord.channel_messages(w.channel)))
    for _ in range(200):
        rows = [dict(r) for r in await w.storage.db.fetchall(
            "SELECT * FROM requests WHERE prompt='approved moon'")]
        if rows and rows[0]["status"] != "pending":
            break
        await asyncio.sleep(0.05)
    got[w.alice.id] = got.get(w.alice.id, 0) + 2
    asked = await w.run("imagine", {"prompt": "rejected sun"}, user=w.bob)
    [review] = [m for m in w.discord.channel_messages(mods) if m.get("components")]
    pressed = await w.discord.click_button(review, button(review, "reject"), user=w.admin)
    await pressed.wait_for_final()
    await w.run("settings", {"mode": "off"}, user=w.admin, subcommand="approval")
    return got


async def test_every_report_agrees_with_the_ledger_after_a_busy_month(tmp_path):
    async with server(tmp_path, max_concurrent_requests=1, progress_edit_seconds=0.2, image_max_retries=0,
                      default_daily_images=20) as w:
        got = await a_busy_month(w)
        rows = await assert_books_balanced(w.storage)
        people = [w.alice, w.bob, w.carol]

        # The ledger itself: what each member got, what the gateway billed.
        for member in people:
            mine = [r for r in rows if r["user_id"] == member.id]
            assert sum(r["images_delivered"] or 0 for r in mine) == got[member.id], (member.username, w.seen)
        cost = sum(r["cost_micros"] for r in rows)
        charged = sum(r["charged_micros"] for r in rows)
        # alice 3x4.0 + 2x4.5 + 1 + 2 approved; bob 1 edit + 1 (of 2); carol 2 (of 4) + 1 lost
        assert w.gateway.images_billed == 3 + 2 + 1 + 2 + 1 + 1 + 2 + 1
        assert cost == 3 * P40 + 2 * P45 + P40 + 2 * P40 + P40 + P40 + 2 * P40 + P40, rows
        assert charged == cost - P40  # only the lost fox went unpaid by its member

        # /spend: summary, per model, per member, CSV, chart.
        report = await spend(w, {"period": "month", "chart_by": "member"})
        text = report.all_text()
        assert f"Total spend: {usd(cost)} (charged to members for delivered images: {usd(charged)})" in text, text
        billed = sum(r["images_billed"] or 0 for r in rows)
        delivered = sum(r["images_delivered"] or 0 for r in rows)
        assert f"Images billed: {billed}, delivered: {delivered}" in text, text
        statuses = [r["status"] for r in rows]
        assert (f"Requests: {len(rows)} ({statuses.count('refused')} refused before anything was spent, "
                f"{statuses.count('released')} with nothing generated)") in text, text
        model_cost = {m: sum(r["cost_micros"] for r in rows if r["model"] == m) for m in {r["model"] for r in rows}}
        assert f"· Seedream 4.0: {usd(model_cost['doubao-seedream-4-0-250828'])}" in text, text
        assert f"· Seedream 4.5: {usd(model_cost[M45])} (2 images)" in text, text
        for member in people:
            mine = sum(r["cost_micros"] for r in rows if r["user_id"] == member.id)
            assert f"· <@{member.id}>: {usd(mine)}" in text, (member.username, text)
        assert not re.search(r"\$\d+\.\d{7,}", text), text
        lines = csv_rows(report)
        assert [int(r["request_id"]) for r in lines] == [r["id"] for r in rows]
        assert sum(Decimal(r["cost_usd"]) for r in lines) * 1_000_000 == cost
        assert sum(Decimal(r["charged_usd"]) for r in lines) * 1_000_000 == charged
        for line, row in zip(lines, rows, strict=True):
            assert Decimal(line["cost_usd"]) * 1_000_000 == row["cost_micros"], (line, row)
            assert line["status"] == row["status"]
        assert png_bytes(report).startswith(PNG_SIGNATURE)
        # the series keeps the member's own prompt (not the sentence the bot adds for the gateway)
        assert "four postcards" in [r["prompt"] for r in lines]

        # /spend of each member, and /usage of each member.
        for member in people:
            mine = [r for r in rows if r["user_id"] == member.id]
            one = (await spend(w, {"period": "month", "member": member})).all_text()
            assert f"Total spend: {usd(sum(r['cost_micros'] for r in mine))} (charged to members for delivered " \
                   f"images: {usd(sum(r['charged_micros'] for r in mine))})" in one, (member.username, one)
            usage = (await w.run("usage", {}, user=member)).all_text()
            assert f"Spent this month: {usd(sum(r['charged_micros'] for r in mine))}" in usage, usage
            assert f"Images today: {got[member.id]} of" in usage, usage
            assert f"Server budget left this month: {usd(20_000_000 - cost)} of $20.00" in usage, usage

        # /budget show and /quota show.
        shown = (await budget(w, "show", {})).all_text()
        assert f"Spent this month: {usd(cost)}, left: {usd(20_000_000 - cost)}" in shown, shown
        assert "held" not in shown, shown
        q = (await quota(w, "show", {"member": w.carol})).all_text()
        assert "Daily images: 3 images" in q or "Daily images: 3" in q, q

        # /history: each settled line shows its cost (and the member's part when less).
        history = (await w.run("history", {}, user=w.admin)).all_text()
        for row in rows[-9:]:  # the rejected approval is the tenth entry
            if row["status"] == "settled":
                if row["cost_micros"] == row["charged_micros"]:
                    assert f"{usd(row['cost_micros'])} · {row['prompt']}" in history, (row, history)
                else:
                    assert f"{usd(row['cost_micros'])} (charged {usd(row['charged_micros'])}) · {row['prompt']}" \
                        in history, (row, history)
        assert "rejected sun" in history and "rejected by" in history, history
        assert "approved moon" in history, history
