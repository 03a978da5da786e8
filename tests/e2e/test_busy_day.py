"""A busy community server over one "day", everything at once, through the real bot.

14 members in three channels, per-member daily limits, a role quota, a server budget with a
warning, 3 requests at a time and 2 per member in flight; /imagine, /edit, /series, the result
buttons and Cancel; gateway faults; a moderator changing a quota and the budget; one graceful
restart; the budget running out. At the end the books, the reports and every member's screen
must agree with the ledger rows.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from image_gateway.money import format_usd
from tests.doubles.image_gateway_double import Fault
from tests.e2e.books import assert_books_balanced, assert_screens_show_the_books
from tests.e2e.harness import world
from tests.e2e.test_edit import image_bytes
from tests.e2e.test_reports import csv_rows

PRICE = 162_000  # Seedream 4.0 on gogogotoken.com, the default model: every request here uses it
MANAGE_GUILD = 1 << 5
MANAGE_MESSAGES = 1 << 13
IMAGE_EXT = (".png", ".jpg", ".jpeg", ".webp")
BAD_TEXT = ("Traceback", "Something went wrong", "Exception", "Error:")


class Day:
    """Everything asked during the day, by whom."""

    def __init__(self, w) -> None:
        self.w = w
        self.asks: list[tuple[Any, Any]] = []  # (user, handle) of every interaction a member started

    async def ask(self, user, name, options, channel, *, images: int = 0):
        attachments = [(f"ref{i}.png", image_bytes("PNG", colour=(10 * i, 80, 200)), "image/png")
                       for i in range(images)]
        handle = await self.w.discord.invoke_command(name, options, user=user, guild=self.w.guild,
                                                     channel=channel, attachments=attachments)
        self.asks.append((user, handle))
        return handle

    def track(self, user, handle):
        self.asks.append((user, handle))
        return handle


def buttons(payload: dict | None) -> list[str]:
    rows = (payload or {}).get("components") or []
    return [c.get("custom_id", "") for row in rows for c in row.get("components", [])]


def records(handle) -> list:
    """Every message of an interaction, deleted ones included (a member who pressed Delete got them)."""
    seen, out = set(), []
    for rec in [handle.original, *handle.followups]:
        if rec is not None and rec.id not in seen:
            seen.add(rec.id)
            out.append(rec)
    return out


def image_count(payload: dict) -> int:
    return sum(1 for a in payload.get("attachments") or [] if a["filename"].lower().endswith(IMAGE_EXT))


async def quiet_queue(w, timeout: float = 40.0) -> None:
    async with asyncio.timeout(timeout):
        while w.bot.queue._places:
            await asyncio.sleep(0.05)


def result_with_buttons(handle) -> dict | None:
    with_buttons = [r.payload for r in records(handle)
                    if not r.deleted and any(b.startswith("sd:") for b in buttons(r.payload))]
    return with_buttons[-1] if with_buttons else None


async def press(w, day, user, message, action, request_id):
    handle = await w.discord.click_button(message, f"sd:{action}:{request_id}", user=user)
    day.track(user, handle)
    await handle.wait_for_final(timeout=20, quiet=0.3)
    return handle


def text_input_id(modal: dict) -> str:
    stack = list(modal["components"])
    while stack:
        comp = stack.pop(0)
        if comp.get("type") == 4:
            return comp["custom_id"]
        stack.extend(comp.get("components") or [])
        if isinstance(comp.get("component"), dict):
            stack.append(comp["component"])
    raise AssertionError(modal)


async def test_a_busy_day_on_a_community_server_keeps_every_book_and_every_screen_straight(tmp_path):
    settings = dict(
        max_concurrent_requests=3, max_requests_per_member=2, default_daily_images=6,
        progress_edit_seconds=0.2, image_max_retries=1, shutdown_grace_seconds=2,
    )
    async with world(tmp_path, start=False, gateway={"latency": 0.15}, **settings) as w:
        d = w.discord
        admins = d.add_role(w.guild, "Admins", MANAGE_GUILD)
        mods_role = d.add_role(w.guild, "Moderators", MANAGE_MESSAGES)
        patrons = d.add_role(w.guild, "Patrons")
        admin, moderator = d.add_user("admin"), d.add_user("moderator")
        d.add_member(w.guild, admin, roles=[admins])
        d.add_member(w.guild, moderator, roles=[mods_role])
        art, memes, mods = (d.add_channel(w.guild, name) for name in ("art", "memes", "mods"))
        channels = [w.channel, art, memes]
        people = [w.alice, w.bob] + [d.add_user(f"member{i:02d}") for i in range(12)]
        for i, user in enumerate(people):
            d.add_member(w.guild, user, roles=[patrons] if i < 4 else [])
        patron_ids = {u.id for u in people[:4]}
        await w.start_bot()
        day = Day(w)

        async def admin_cmd(name, sub, options, user=admin):
            h = await d.invoke_command(name, options, user=user, guild=w.guild, channel=w.channel, subcommand=sub)
            return await h.wait_for_final(timeout=15)

        # Morning: the budget ($6.48, 40 images, warn at 50% in #mods) and the Patrons' quota.
        await admin_cmd("budget", "set", {"amount": "6.48", "warn_percent": 50, "warn_channel": mods})
        await admin_cmd("quota", "set", {"role": patrons, "daily_images": 10})

        # Wave 1: everyone at once, two requests each, a third refused; faults sprinkled in.
        w.gateway.script(Fault.status(429, retry_after=0.1), times=1)
        w.gateway.script(Fault.status(503), times=1)
        w.gateway.script(Fault.delay(1.0), times=1)
        w.gateway.script(Fault.status(500), times=2)  # one request fails after its retry
        wave1 = []
        for i, user in enumerate(people):
            channel = channels[i % 3]
            kind = i % 4
            if kind == 0:
                options = {"prompt": f"{user.username} castle", "count": 1 + (i // 4) % 4}
                first = day.ask(user, "imagine", options, channel)
            elif kind == 1:
                first = day.ask(user, "edit", {"prompt": f"{user.username} recolour"}, channel, images=1 + i % 3)
            elif kind == 2:
                first = day.ask(user, "series", {"prompt": f"{user.username} comic", "count": 3}, channel)
            else:
                word = "forbidden " if i == 3 else ""  # the content filter refuses member03... (index 3)
                first = day.ask(user, "imagine", {"prompt": f"{word}{user.username} cat", "count": 2}, channel)
            wave1.append(first)
        handles = await asyncio.gather(*wave1)
        seconds = await asyncio.gather(*(day.ask(u, "imagine", {"prompt": f"{u.username} second"},
                                                 channels[i % 3]) for i, u in enumerate(people)))
        thirds = await asyncio.gather(*(day.ask(u, "imagine", {"prompt": f"{u.username} third"}, channels[i % 3])
                                        for u in people[:3]))
        for h in thirds:
            await h.wait_for_final(timeout=15)
        busy_refusals = [h for h in thirds if "requests waiting or running" in h.all_text()]

        # Cancel while queued: the last member's second request is far back in line.
        last_second = seconds[-1]
        queued = await last_second.wait_for(lambda e: "queue:cancel:" in str((e.message or {}).get("components")),
                                            timeout=15)
        [cancel] = [b for b in buttons(queued.message) if b.startswith("queue:cancel:")]
        cancel_press = day.track(people[-1], await d.click_button(queued.message, cancel, user=people[-1]))
        await quiet_queue(w)
        for h in [*handles, *seconds]:
            await h.wait_for_final(timeout=20)

        # Midday: buttons under results.
        rows = await w.ledger_rows()
        by_prompt = {r["prompt"]: r for r in rows}

        def results(hs, prefix_of, least=1):
            out = []
            for i, h in enumerate(hs):
                row = by_prompt.get(prefix_of(people[i], i))
                if row and (row["images_delivered"] or 0) >= least and result_with_buttons(h) is not None:
                    out.append((people[i], h, row))
            return out

        first_prompt = lambda u, i: {0: f"{u.username} castle", 1: f"{u.username} recolour",  # noqa: E731
                                     2: f"{u.username} comic", 3: f"{u.username} cat"}[i % 4]
        imagined = [x for x in results(handles, first_prompt) if x[2]["command"] == "imagine"]
        assert imagined, [h.all_text() for h in handles]
        user, h, row = imagined[0]
        await press(w, day, user, result_with_buttons(h), "reroll", row["id"])
        # Upscale of a result of several images: asks which one, then makes it.
        multi_user, multi_h, mrow = [x for x in imagined if x[2]["images_delivered"] > 1][-1]
        ask_which = await press(w, day, multi_user, result_with_buttons(multi_h), "upscale", mrow["id"])
        picker = next((m for m in ask_which.messages if m.get("components")), None)
        assert picker is not None, ask_which.all_text()
        select = next(c for row_ in picker["components"] for c in row_["components"])
        pick = await d.click_button(picker, select["custom_id"], user=multi_user, component_type=select["type"],
                                    values=[select["options"][0]["value"]])
        day.track(multi_user, pick)
        await pick.wait_for_final(timeout=20)
        # Variation of an edit result.
        edited = [x for x in results(handles, first_prompt) if x[2]["command"] == "edit"]
        assert edited, [h.all_text() for h in handles]
        vuser, vh, vrow = edited[0]
        opened = await press(w, day, vuser, result_with_buttons(vh), "variation", vrow["id"])
        assert opened.modal is not None, opened.all_text()
        vary = await d.submit_modal(opened.modal["custom_id"], {text_input_id(opened.modal): "recolour at night"},
                                    user=vuser, from_interaction=opened)
        day.track(vuser, vary)
        await vary.wait_for_final(timeout=20)
        # Delete: one member their own second; the moderator someone else's.
        seconds_done = results(seconds, lambda u, i: f"{u.username} second")
        assert len(seconds_done) >= 2, [h.all_text() for h in seconds]
        (u1, h1, r1), (_u2, h2, r2) = seconds_done[0], seconds_done[-1]
        await press(w, day, u1, result_with_buttons(h1), "delete", r1["id"])
        await press(w, day, moderator, result_with_buttons(h2), "delete", r2["id"])

        # A moderator lowers the Patrons' quota and raises the budget (and its warning share).
        await admin_cmd("quota", "set", {"role": patrons, "daily_images": 7})
        await admin_cmd("budget", "set", {"amount": "8.10", "warn_percent": 75, "warn_channel": mods})

        # Afternoon: a strictly ordered line (each waits to be in line before the next asks) ...
        w.gateway.script(Fault.delay(0.6), times=1)
        ordered = []
        for round_ in range(2):
            for i, user in enumerate(people[:8]):
                prompt = f"{user.username} afternoon {round_}"
                h = await day.ask(user, "imagine", {"prompt": prompt}, channels[i % 3])
                await h.wait_for_ack(timeout=10)
                async with asyncio.timeout(10):
                    while True:
                        row = next((r for r in await w.ledger_rows() if r["prompt"] == prompt), None)
                        if row is not None and (w.bot.queue.find(row["id"]) is not None or row["status"] != "pending"):
                            break
                        await asyncio.sleep(0.01)
                ordered.append((prompt, row["status"]))
        # ... and a graceful restart while some of it still waits or runs.
        await w.bot.shutdown(grace=2)
        await w.stop_bot()
        await w.start_bot()

        # Evening: everyone tries again until the budget is gone.
        for attempt in range(3):
            evening = await asyncio.gather(*(day.ask(u, "imagine", {"prompt": f"{u.username} evening {attempt}",
                                                                    "count": 2}, channels[i % 3])
                                             for i, u in enumerate(people)))
            await quiet_queue(w)
            for h in evening:
                await h.wait_for_final(timeout=20)

        await quiet_queue(w)
        for _user, h in day.asks:
            await h.wait_for_final(timeout=20)

        # ---------------------------------------------------------------- the books
        rows = await assert_books_balanced(w.storage)
        assert [r["id"] for r in rows if r["status"] == "pending"] == []
        budget_micros = 8_100_000
        spent = sum(r["cost_micros"] for r in rows)
        assert spent <= budget_micros, f"the server spent {format_usd(spent)} of a {format_usd(budget_micros)} budget"
        assert any("budget" in h.all_text() for _u, h in day.asks), "the budget never ran out"

        # Every member's charge is the price of the images they actually got (files the double holds).
        received: Counter[int] = Counter()
        for user, h in day.asks:
            for rec in records(h):
                if not rec.ephemeral or image_count(rec.payload):
                    received[user.id] += image_count(rec.payload)
        interaction_messages = {rec.id for _u, h in day.asks for rec in records(h)}
        for rec in d.messages.values():  # results posted in the channel, mentioning the member
            if rec.id in interaction_messages or rec.payload["author"]["id"] != str(d.bot_user.id):
                continue
            for user in people:
                if f"<@{user.id}>" in (rec.payload.get("content") or ""):
                    received[user.id] += image_count(rec.payload)
        charged = defaultdict(int)
        delivered = Counter()
        for r in rows:
            charged[r["user_id"]] += r["charged_micros"]
            delivered[r["user_id"]] += r["images_delivered"] or 0
        mismatch = {u.username: (received[u.id], delivered[u.id], charged[u.id]) for u in people
                    if charged[u.id] != PRICE * received[u.id] or delivered[u.id] != received[u.id]}
        assert mismatch == {}, f"(files received, images_delivered, charged_micros) disagree: {mismatch}"

        # No member over their daily limit (Patrons 7 after midday, 10 before; others 6).
        for u in people:
            limit = 10 if u.id in patron_ids else 6
            assert delivered[u.id] <= limit, (u.username, delivered[u.id], limit)

        # ---------------------------------------------------------------- every screen
        problems = []
        for user, h in day.asks:
            text = h.all_text()
            if h.loading:
                problems.append((user.username, "still thinking", h.kinds()))
            if not h.acknowledged:
                problems.append((user.username, "never acknowledged", h.kinds()))
            for rec in records(h):
                if not rec.deleted and any(b.startswith("queue:cancel:") for b in buttons(rec.payload)):
                    problems.append((user.username, "live Cancel left", rec.payload.get("content")))
                if not rec.deleted and (rec.payload.get("content") or "").startswith("Queued"):
                    problems.append((user.username, "still says Queued", rec.payload.get("content")))
            if any(bad in text for bad in BAD_TEXT):
                problems.append((user.username, "saw an error", text[:300]))
        for rec in d.messages.values():
            if rec.payload["author"]["id"] == str(d.bot_user.id) and not rec.deleted:
                content = rec.payload.get("content") or ""
                live_cancel = any(b.startswith("queue:cancel:") for b in buttons(rec.payload))
                if any(bad in content for bad in BAD_TEXT) or live_cancel:
                    problems.append(("channel", content[:200], buttons(rec.payload)))
        assert problems == [], problems
        assert len(busy_refusals) >= 1, [h.all_text() for h in thirds]
        assert "Cancelled" in last_second.all_text() or "Cancelled" in cancel_press.all_text() \
            or len(last_second.files()) == 1, last_second.all_text()

        # The ordered line started in the order asked (first come, first served; nobody jumped).
        firsts = []
        for req in w.gateway.generation_requests:
            p = req.json["prompt"]
            if "afternoon" in p and p not in firsts:
                firsts.append(p)
        asked = [p for p, _ in ordered]
        started = [p for p in firsts if p in asked]
        assert started == [p for p in asked if p in started], (asked, started)

        # ---------------------------------------------------------------- the reports
        report = await admin_cmd("spend", None, {})
        lines = csv_rows(report)
        assert {int(r["request_id"]) for r in lines} == {r["id"] for r in rows}
        csv_cost = sum(Decimal(r["cost_usd"]) for r in lines) * 1_000_000
        csv_charged = sum(Decimal(r["charged_usd"]) for r in lines) * 1_000_000
        total_charged = sum(r["charged_micros"] for r in rows)
        assert (csv_cost, csv_charged) == (spent, total_charged)
        assert f"Total spend: {format_usd(spent)} (charged to members for delivered images: " \
               f"{format_usd(total_charged)})" in report.all_text(), report.all_text()
        await assert_screens_show_the_books(w, people, admin=admin, budget_micros=budget_micros,
                                            daily_limit=lambda u: 7 if u.id in patron_ids else 6)  # fmt: skip

        # The warnings: one for 50% of $6.48, one for 75% of $8.10 if it was reached.
        warned = [m["content"] for m in d.channel_messages(mods)]
        assert warned and all("monthly image budget" in m for m in warned), warned

        # ---------------------------------------------------------------- the log
        bad_lines = [line for line in w.logs.lines if line.startswith(("ERROR", "CRITICAL")) or "Traceback" in line]
        assert bad_lines == [], bad_lines
