"""A long line on a busy server when a moderator lowers a role's quota and the budget while it waits.

12 members, 3 channels, 3 at a time, 2 per member in flight, a line of 24; the Patrons' daily quota
drops from 8 to 1 (their requests ask for 2 each) and the budget from $10 to $2.43 (15 images) just
after the first three started. What is waiting must be re-checked at its turn: withdrawn unbilled
and told privately, the public "Queued" reply and its Cancel button gone; the books within the new
limits; /usage and /budget show agreeing with the rows; no error in the log.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict

from image_gateway.money import format_usd
from tests.doubles.image_gateway_double import Fault
from tests.e2e.books import assert_books_balanced, assert_screens_show_the_books
from tests.e2e.harness import world
from tests.e2e.test_busy_day import BAD_TEXT, buttons, image_count, quiet_queue, records
from tests.e2e.test_edit import image_bytes

PRICE = 162_000
MANAGE_GUILD = 1 << 5


async def test_limits_lowered_while_a_long_line_waits_apply_at_each_turn(tmp_path):
    settings = dict(max_concurrent_requests=3, max_requests_per_member=2, default_daily_images=6,
                    progress_edit_seconds=0.2, image_max_retries=1)
    async with world(tmp_path, start=False, gateway={"latency": 0.4}, **settings) as w:
        d = w.discord
        admins, patrons = d.add_role(w.guild, "Admins", MANAGE_GUILD), d.add_role(w.guild, "Patrons")
        admin = d.add_user("admin")
        d.add_member(w.guild, admin, roles=[admins])
        channels = [w.channel, d.add_channel(w.guild, "art"), d.add_channel(w.guild, "memes")]
        people = [w.alice, w.bob] + [d.add_user(f"member{i:02d}") for i in range(10)]
        for i, user in enumerate(people):
            d.add_member(w.guild, user, roles=[patrons] if i % 3 == 0 else [])
        patron_ids = {u.id for i, u in enumerate(people) if i % 3 == 0}
        await w.start_bot()

        async def admin_cmd(name, sub, options):
            h = await d.invoke_command(name, options, user=admin, guild=w.guild, channel=w.channel, subcommand=sub)
            return await h.wait_for_final(timeout=15)

        await admin_cmd("budget", "set", {"amount": "10", "warn_percent": 80})
        await admin_cmd("quota", "set", {"role": patrons, "daily_images": 8})
        w.gateway.script(Fault.status(429, retry_after=0.1), times=1)
        w.gateway.script(Fault.delay(0.8), times=1)

        asks = []  # (user, handle, prompt)
        for round_ in range(2):
            for i, user in enumerate(people):
                prompt = f"{user.username} line {round_}"
                if i % 4 == 1:
                    atts = [(f"r{k}.png", image_bytes("PNG", colour=(k * 40, 9, 9)), "image/png") for k in range(2)]
                    h = await d.invoke_command("edit", {"prompt": prompt}, user=user, guild=w.guild,
                                               channel=channels[i % 3], attachments=atts)
                else:
                    h = await d.invoke_command("imagine", {"prompt": prompt, "count": 2}, user=user,
                                               guild=w.guild, channel=channels[i % 3])
                asks.append((user, h, prompt))
                await h.wait_for_ack(timeout=10)
            if round_ == 0:
                async with asyncio.timeout(10):
                    while len({r.json["prompt"] for r in w.gateway.generation_requests}) < 3:
                        await asyncio.sleep(0.01)
                # The first three are at the gateway; the moderator tightens everything.
                await admin_cmd("quota", "set", {"role": patrons, "daily_images": 1})
                await admin_cmd("budget", "set", {"amount": "2.43", "warn_percent": 80})
                # (what reached the gateway before both changes were saved and answered)
                already = {r.json["prompt"] for r in w.gateway.generation_requests}

        await quiet_queue(w, timeout=45)
        for _u, h, _p in asks:
            await h.wait_for_final(timeout=20)

        rows = await assert_books_balanced(w.storage)
        spent = sum(r["cost_micros"] for r in rows)
        assert spent <= 2_430_000, f"spent {format_usd(spent)} of a budget lowered to $2.43 while they waited"
        # A patron request that was not at the gateway yet may not run (2 images > 1 a day).
        by_prompt = {r["prompt"]: r for r in rows}
        ran_over = [p for u, _h, p in asks if u.id in patron_ids and p not in already
                    and p in by_prompt and by_prompt[p]["status"] == "settled" and by_prompt[p]["images_requested"] > 1]
        assert ran_over == [], f"patron requests run after their quota fell to 1 image a day: {ran_over}"

        # First come, first served also under the lowered budget: no request refused for the budget at
        # its turn while one queued behind it (a later id, not yet at the gateway then) and costing as
        # much or more was made (a smaller one may fit in what is left).
        def worst(row):
            return row["images_requested"] * row["unit_price_micros"]

        made_late = [r for r in rows if r["prompt"] not in already and r["status"] == "settled"]
        jumped = [(r["prompt"], [m["prompt"] for m in made_late if m["id"] > r["id"] and worst(m) >= worst(r)])
                  for r in rows if r["status"] == "released" and r["error_code"] == "guild_budget"
                  and any(m["id"] > r["id"] and worst(m) >= worst(r) for m in made_late)]
        delivered, charged, received = Counter(), defaultdict(int), Counter()
        for r in rows:
            delivered[r["user_id"]] += r["images_delivered"] or 0
            charged[r["user_id"]] += r["charged_micros"]
        problems = []
        for user, h, prompt in asks:
            received[user.id] += sum(image_count(rec.payload) for rec in records(h))
            row = by_prompt.get(prompt)
            live = [rec for rec in records(h) if not rec.deleted]
            public = [rec for rec in live if not rec.ephemeral]
            if h.loading:
                problems.append((prompt, "still thinking"))
            for rec in live:
                if any(b.startswith("queue:cancel:") for b in buttons(rec.payload)):
                    problems.append((prompt, "a live Cancel", rec.payload.get("content")))
                if (rec.payload.get("content") or "").startswith(("Queued", "Generating")):
                    problems.append((prompt, "stale status", rec.payload.get("content")))
            if any(bad in h.all_text() for bad in BAD_TEXT):
                problems.append((prompt, "error shown", h.all_text()[:200]))
            if row is not None and row["status"] in ("refused", "released") and row["error_code"] in (
                    "daily_images", "guild_budget", "monthly_usd"):
                # README: "withdrawn unbilled and its member told privately"
                if [rec.payload.get("content") for rec in public]:
                    problems.append((prompt, "limit refusal left public",
                                     [rec.payload.get("content") for rec in public]))
                said = [rec.payload.get("content") or "" for rec in live]
                if not any("limit" in text or "budget" in text for text in said):
                    problems.append((prompt, "not told why", h.all_text()[:200]))
        assert problems == [], problems
        mismatch = {u.username: (received[u.id], delivered[u.id], charged[u.id]) for u in people
                    if charged[u.id] != PRICE * received[u.id] or delivered[u.id] != received[u.id]}
        assert mismatch == {}, mismatch

        await assert_screens_show_the_books(w, people, admin=admin, budget_micros=2_430_000,
                                            daily_limit=lambda u: 1 if u.id in patron_ids else 6)  # fmt: skip
        statuses = Counter((r["status"], r["error_code"]) for r in rows)
        assert statuses[("settled", None)] >= 3, statuses
        bad_lines = [line for line in w.logs.lines if line.startswith(("ERROR", "CRITICAL")) or "Traceback" in line]
        assert bad_lines == [], bad_lines
        assert jumped == [], (
            "refused for the budget at their turn while requests behind them in line were then made "
            f"(refused, [made after it]): {jumped}")

