"""A seeded, randomized "busy afternoon" through the real bot and both doubles.

Four members, a moderator and an admin interleave, without waiting for each other: /imagine,
/series (2-3), /edit with attachments, Cancel on requests waiting in line, Re-roll and Variation
on results, /usage and /history, the admin lowering a member's daily quota or the server budget,
and the image-gateway double injecting a fault now and then (500, 503, 429, a hang the bot times
out, the content filter, a result file that is gone, a damaged file, a partial answer, a slow
answer, a connection dropped midway, an HTML error page, truncated JSON, an empty answer, a
stream that fails after one image) and the Discord double refusing or dropping an upload, or
rate-limiting a reply. Now and then a Re-roll is double-clicked, a Variation form sent twice,
a Cancel pressed twice or by someone else. MAX_CONCURRENT_REQUESTS is 2 so that requests queue.

Each seed is deterministic in what is asked and when (random.Random(seed)); the bot's own
interleaving may differ between runs, so only invariants a server owner relies on are checked:

- every interaction got a final answer (nothing left "thinking" or "Queued", no live Cancel button);
- the ledger balances (tests/e2e/books.py), nothing pending, and every limit held, where a limit
  lowered at time T bounds everything asked after T (a request already admitted may finish);
- what each member was charged equals what /usage tells them, and /spend's total the ledger's;
- no member was charged for images they did not receive (files on Discord), and each request's
  own interaction shows the images its row says were delivered;
- a double click made one request, and only a member's own Cancel withdrew a request;
- /usage holds nothing back and /history shows nothing "in progress" once the line is empty.

Swept while it was written (60 steps each; the first sweeps before every check and fault here
existed): seeds 1, 42, 100-124, 200-229, 300-329, and 400-419 with MAX_CONCURRENT_REQUESTS=1. Every
invariant held once the test's own bookkeeping was right (a re-rolled series is a "series" row).
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import pytest

from image_gateway.money import format_usd
from tests.doubles.image_gateway_double import Fault
from tests.e2e.books import assert_books_balanced
from tests.e2e.harness import world
from tests.e2e.test_busy_day import BAD_TEXT, buttons, image_count, records, text_input_id
from tests.e2e.test_edit import image_bytes
from tests.e2e.test_reports import csv_rows

MANAGE_GUILD = 1 << 5
MANAGE_MESSAGES = 1 << 13
DAILY = 8
MONTHLY_USD = "1.62"  # ten images of Seedream 4.0 ($0.162, the default model of gogogotoken-com)
BUDGET_USD = "4.86"  # thirty images
SEEDS = [7, 42, 203, 328, 2024]

SETTINGS = dict(
    max_concurrent_requests=2, max_requests_per_member=3, default_daily_images=DAILY,
    default_monthly_usd=Decimal(MONTHLY_USD), image_max_retries=1, image_timeout_seconds=1.5,
    progress_edit_seconds=0.2, shutdown_grace_seconds=2,
)


def faults(rng: random.Random) -> Fault:
    return rng.choice([
        Fault.status(500),
        Fault.status(503),
        Fault.status(429, retry_after=0.1),
        Fault.hang(),  # the bot gives up after image_timeout_seconds: nothing charged
        Fault.status(400, "InputTextSensitiveContentDetected"),  # the content filter
        Fault.missing_file(),  # billed, the download fails: the member is not charged
        Fault.damaged_file(),
        Fault.partial(failed=(0,)),
        Fault.delay(0.7),
        Fault.reset(),
        Fault.html(502),
        Fault.truncated_json(),
        Fault.empty_data(),
        Fault.stream_error("InternalServiceError", after=1),
    ])


def discord_fault(rng: random.Random, d) -> str:
    """Discord misbehaving now and then: an upload refused (500), a rate limit on an interaction's
    webhook, an upload's connection dropped."""
    which = rng.choice(["upload500", "ratelimit", "drop"])
    if which == "upload500":
        d.fail_uploads(1, status=500)
    elif which == "ratelimit":
        d.rate_limit_next(1, retry_after=0.1, path="webhooks")
    else:  # an upload's connection drops (the bot cannot know whether Discord kept the files)
        d.fail_next(1, status=None, uploads_only=True).drop = True
    return which


def micros(usd: str) -> int:
    return int(Decimal(usd) * 1_000_000)


class Afternoon:
    """Everything asked, by whom, and every limit the admin lowered (with the last row id then)."""

    def __init__(self, w, rng: random.Random, people, admin) -> None:
        self.w, self.rng, self.people, self.admin = w, rng, people, admin
        self.asks: list[tuple[Any, Any]] = []
        self.tasks: list[asyncio.Task] = []
        self.log: list[str] = []  # the script of the run, to shrink a failing seed by hand
        self.daily = {u.id: [(DAILY, 0)] for u in people}  # (limit, last row id when it took effect)
        self.budget = [(micros(BUDGET_USD), 0)]
        self.cancelled_by_owner: set[int] = set()  # request ids whose owner pressed Cancel
        self.groups: Counter[str] = Counter()  # Re-roll / Variation presses, a double click counted once
        self.keyed: dict[tuple[str, str], list] = {}  # (command, prompt) -> the interactions that asked it

    def track(self, user, handle, key=None):
        self.asks.append((user, handle))
        if key is not None:
            self.keyed.setdefault(key, []).append(handle)
        return handle

    async def command(self, user, name, options, *, images: int = 0, subcommand=None):
        attachments = [(f"ref{i}.png", image_bytes("PNG", colour=(40 * i, 90, 200)), "image/png")
                       for i in range(images)]
        handle = await self.w.discord.invoke_command(name, options, user=user, guild=self.w.guild,
                                                     channel=self.w.channel, attachments=attachments,
                                                     subcommand=subcommand)
        return self.track(user, handle, key=(name, options.get("prompt")) if "prompt" in options else None)

    async def last_id(self) -> int:
        row = await self.w.storage.db.fetchone("SELECT COALESCE(MAX(id), 0) AS m FROM requests")
        return int(row["m"])

    def live_messages_with(self, prefix: str) -> list[tuple[Any, dict, str]]:
        """(owner, message, custom_id) of every live message of a member's interactions with such a button."""
        out = []
        for user, handle in self.asks:
            for rec in records(handle):
                if rec.deleted:
                    continue
                current = self.w.discord.messages.get(rec.id)
                payload = current.payload if current is not None else rec.payload
                if current is not None and current.deleted:
                    continue
                for cid in buttons(payload):
                    if cid.startswith(prefix):
                        out.append((user, payload, cid))
        return out

    async def step(self, n: int) -> None:
        rng, w = self.rng, self.w
        user = rng.choice(self.people)
        kind = rng.choices(
            ["imagine", "series", "edit", "cancel", "reroll", "variation", "usage", "history", "lower", "fault"],
            weights=[24, 8, 10, 10, 9, 7, 7, 4, 5, 16],
        )[0]
        if kind == "imagine":
            word = "forbidden " if rng.random() < 0.08 else ""
            count = rng.randint(1, 3)
            self.log.append(f"{user.username} /imagine count={count} {word}")
            await self.command(user, "imagine", {"prompt": f"{word}{user.username} picture {n}", "count": count})
        elif kind == "series":
            count = rng.randint(2, 3)
            self.log.append(f"{user.username} /series count={count}")
            await self.command(user, "series", {"prompt": f"{user.username} comic {n}", "count": count})
        elif kind == "edit":
            images = rng.randint(1, 2)
            self.log.append(f"{user.username} /edit images={images}")
            await self.command(user, "edit", {"prompt": f"{user.username} recolour {n}"}, images=images)
        elif kind == "cancel":
            live = self.live_messages_with("queue:cancel:")
            if live:
                owner, message, cid = rng.choice(live)
                # now and then someone else presses it (told it is not theirs), or the owner twice
                presser = rng.choice([p for p in self.people if p is not owner]) if rng.random() < 0.2 else owner
                times = 2 if rng.random() < 0.25 else 1
                self.log.append(f"{presser.username} Cancel {cid} x{times} (owner {owner.username})")
                for _ in range(times):
                    try:
                        self.track(presser, await w.discord.click_button(message, cid, user=presser))
                    except LookupError:
                        break  # the place in line went away meanwhile
                if presser is owner:
                    self.cancelled_by_owner.add(int(cid.rsplit(":", 1)[1]))
        elif kind in ("reroll", "variation"):
            live = self.live_messages_with(f"sd:{kind}:")
            if live:
                owner, message, cid = rng.choice(live)
                times = 2 if rng.random() < 0.3 else 1  # a double click
                self.log.append(f"{owner.username} {kind} {cid} x{times}")
                self.groups[kind] += 1
                key = None
                if kind == "reroll":  # a series re-rolled is a series again, under the same prompt
                    row = await w.storage.db.fetchone("SELECT command, prompt FROM requests WHERE id = ?",
                                                      (int(cid.rsplit(":", 1)[1]),))
                    key = ("series" if row["command"] == "series" else "reroll", row["prompt"])
                for _ in range(times):
                    try:
                        pressed = self.track(owner, await w.discord.click_button(message, cid, user=owner), key=key)
                    except LookupError:
                        return
                    if kind == "variation":  # the same form sent twice when clicked twice
                        self.tasks.append(asyncio.create_task(self.submit_variation(owner, pressed, n, times)))
                        break
        elif kind in ("usage", "history"):
            self.log.append(f"{user.username} /{kind}")
            await self.command(user, kind, {})
        elif kind == "lower":
            await self.lower()
        elif rng.random() < 0.25:
            self.log.append(f"discord fault {discord_fault(rng, w.discord)}")
        else:
            fault = faults(rng)
            self.log.append(f"fault {fault.kind} {fault.http_status} {fault.code or ''}")
            w.gateway.script(fault)

    async def submit_variation(self, owner, pressed, n: int, times: int = 1) -> None:
        await pressed.wait_for_ack(timeout=10)
        modal = pressed.modal
        if modal is None:
            return  # refused (a limit, the reply gone): its answer is checked with the others
        values: dict[str, Any] = {text_input_id(modal): f"{owner.username} variation {n}"}
        stack = list(modal["components"])
        while stack:
            comp = stack.pop(0)
            if comp.get("type") == 3 and comp.get("options"):
                values[comp["custom_id"]] = [comp["options"][0]["value"]]
            stack.extend(comp.get("components") or [])
            if isinstance(comp.get("component"), dict):
                stack.append(comp["component"])
        prompt = values[text_input_id(modal)]
        for _ in range(times):
            sent = await self.w.discord.submit_modal(modal["custom_id"], values, user=owner, from_interaction=pressed)
            self.track(owner, sent, key=("variation", prompt))

    async def lower(self) -> None:
        rng, d, w = self.rng, self.w.discord, self.w
        if rng.random() < 0.5:
            member = rng.choice(self.people)
            new = max(1, min(lim for lim, _ in self.daily[member.id]) - rng.randint(1, 4))
            self.log.append(f"admin /quota set {member.username} daily_images={new}")
            h = await d.invoke_command("quota", {"member": member, "daily_images": new}, user=self.admin,
                                       guild=w.guild, channel=w.channel, subcommand="set")
            self.track(self.admin, h)
            await h.wait_for_final(timeout=10)
            self.daily[member.id].append((new, await self.last_id()))
        else:
            current = min(b for b, _ in self.budget)
            new = max(0, current - 162_000 * rng.randint(2, 8))
            self.log.append(f"admin /budget set {format_usd(new)}")
            h = await d.invoke_command("budget", {"amount": f"{new / 1_000_000:.6f}"}, user=self.admin,
                                       guild=w.guild, channel=w.channel, subcommand="set")
            self.track(self.admin, h)
            await h.wait_for_final(timeout=10)
            self.budget.append((new, await self.last_id()))


async def quiet(w, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while w.bot.queue._places or w.bot.presses_running:
            await asyncio.sleep(0.05)


def held(limits: list[tuple[int, int]], rows: list[dict], value) -> list[str]:
    """Each limit L that took effect after row id K bounds the total: a request asked after it was
    checked against it (limits only go down here), so total <= max(L, what rows <= K came to)."""
    total = sum(value(r) for r in rows)
    broken = []
    for limit, last in limits:
        before = sum(value(r) for r in rows if r["id"] <= last)
        if total > max(limit, before):
            broken.append(f"total {total} > limit {limit} set after row {last} (rows up to it: {before})")
    return broken


def received_images(w, day: Afternoon) -> Counter:
    """Image files each member got: in their interactions' live messages, and in channel messages
    that mention them."""
    d = w.discord
    got: Counter[int] = Counter()
    seen: set[int] = set()
    for user, handle in day.asks:
        for rec in records(handle):
            if rec.id in seen:
                continue
            seen.add(rec.id)
            current = d.messages.get(rec.id)
            if rec.deleted or (current is not None and current.deleted):
                continue
            got[user.id] += image_count(current.payload if current is not None else rec.payload)
    for rec in d.messages.values():
        if rec.id in seen or rec.deleted or rec.payload["author"]["id"] != str(d.bot_user.id):
            continue
        for user in day.people:
            if (rec.payload.get("content") or "").startswith(f"<@{user.id}>") or \
                    f"<@{user.id}>" in (rec.payload.get("content") or ""):
                got[user.id] += image_count(rec.payload)
    return got


async def busy_afternoon(tmp_path, seed: int, steps: int = 50) -> None:
    rng = random.Random(seed)
    async with world(tmp_path, start=False, gateway={"latency": 0.4}, **SETTINGS) as w:
        d = w.discord
        admins = d.add_role(w.guild, "Admins", MANAGE_GUILD)
        mods = d.add_role(w.guild, "Moderators", MANAGE_MESSAGES)
        admin, moderator = d.add_user("admin"), d.add_user("moderator")
        d.add_member(w.guild, admin, roles=[admins])
        d.add_member(w.guild, moderator, roles=[mods])
        carol, dave = d.add_user("carol"), d.add_user("dave")
        d.add_member(w.guild, carol)
        d.add_member(w.guild, dave)
        people = [w.alice, w.bob, carol, dave]
        await w.start_bot()
        day = Afternoon(w, rng, people, admin)
        setup = await d.invoke_command("budget", {"amount": BUDGET_USD}, user=admin, guild=w.guild,
                                       channel=w.channel, subcommand="set")
        await setup.wait_for_final(timeout=10)

        for n in range(steps):
            await day.step(n)
            if rng.random() < 0.25:  # the moderator looks at someone's history now and then
                day.track(moderator, await d.invoke_command("history", {"member": rng.choice(people)},
                                                            user=moderator, guild=w.guild, channel=w.channel))
            await asyncio.sleep(rng.uniform(0.0, 0.15))
        await asyncio.gather(*day.tasks)
        w.gateway.clear_faults()  # what is left over would hit the closing checks, not the afternoon
        d.faults.clear()
        script = "\n".join(day.log)
        try:
            await quiet(w)
        except TimeoutError:
            raise AssertionError(f"seed {seed}: the line never emptied\n{script}") from None
        await asyncio.sleep(0.3)
        problems = []
        for user, h in day.asks:
            try:
                await h.wait_for_final(timeout=10)
            except TimeoutError as e:
                problems.append((user.username, "no final answer", str(e)[:300]))

        # ------------------------------------------------------------ every screen is final
        for user, h in day.asks:
            if h.loading:
                problems.append((user.username, "still thinking", h.kinds()))
            if not h.acknowledged:
                problems.append((user.username, "never acknowledged", h.kinds()))
            if any(bad in h.all_text() for bad in BAD_TEXT):
                problems.append((user.username, "saw an error", h.all_text()[:300]))
        for rec in d.messages.values():
            if rec.deleted or rec.payload["author"]["id"] != str(d.bot_user.id):
                continue
            content = rec.payload.get("content") or ""
            if any(b.startswith("queue:cancel:") for b in buttons(rec.payload)):
                problems.append(("message", "live Cancel left", content[:200]))
            if content.startswith("Queued"):
                problems.append(("message", "still says Queued", content[:200]))
        assert problems == [], f"seed {seed}: {problems}\n{script}"

        # ------------------------------------------------------------ the books
        rows = await assert_books_balanced(w.storage)
        broken = held(day.budget, rows, lambda r: r["cost_micros"])
        for u in people:
            mine = [r for r in rows if r["user_id"] == u.id]
            broken += [f"{u.username} daily: {b}" for b in held(day.daily[u.id], mine,
                                                                 lambda r: r["images_delivered"] or 0)]
            broken += [f"{u.username} monthly: {b}" for b in held([(micros(MONTHLY_USD), 0)], mine,
                                                                   lambda r: r["charged_micros"])]
        assert broken == [], f"seed {seed}: {broken}\n{script}"

        # ------------------------------------------------------------ charged = received
        got = received_images(w, day)
        charged, delivered = defaultdict(int), Counter()
        for r in rows:
            charged[r["user_id"]] += r["charged_micros"]
            delivered[r["user_id"]] += r["images_delivered"] or 0
        per_image = {r["unit_price_micros"] for r in rows if r["status"] == "settled"}
        assert per_image <= {162_000}, per_image
        mismatch = {u.username: (got[u.id], delivered[u.id], charged[u.id]) for u in people
                    if delivered[u.id] != got[u.id] or charged[u.id] != 162_000 * got[u.id]}
        assert mismatch == {}, f"seed {seed}: (files received, delivered, charged) {mismatch}\n{script}"

        # Each request's own interaction shows the images its row says were delivered (a double-sent
        # Variation form: both submissions together).
        by_key = defaultdict(list)
        for r in rows:
            if r["status"] != "refused":
                by_key[(r["command"], r["prompt"])].append(r)
        per_request = []
        for key, handles in day.keyed.items():
            if key[0] not in ("imagine", "series", "edit", "variation", "reroll"):
                continue
            shown = sum(image_count(rec.payload) for h in handles for rec in records(h)
                        if not rec.deleted and not (d.messages.get(rec.id) and d.messages[rec.id].deleted))
            made = sum(r["images_delivered"] or 0 for r in by_key.get(key, []))
            if shown != made:
                per_request.append((key, "shown", shown, "delivered", made))
        assert per_request == [], f"seed {seed}: {per_request}\n{script}"
        # A double click made one request; only the member's own Cancel withdrew a request.
        for kind in ("reroll", "variation"):
            made = [r for r in rows if r["command"] == kind and r["status"] != "refused"]
            if kind == "reroll":  # a series re-rolled: the series rows past the /series commands asked
                per_prompt = Counter(r["prompt"] for r in rows if r["command"] == "series" and r["status"] != "refused")
                made += [None] * sum(k - 1 for k in per_prompt.values() if k > 1)  # each /series prompt is new
            assert len(made) <= day.groups[kind], (seed, kind, len(made), day.groups[kind], script)
        cancelled = {r["id"] for r in rows if r["error_code"] == "cancelled"}
        assert cancelled <= day.cancelled_by_owner, (seed, cancelled - day.cancelled_by_owner, script)

        # ------------------------------------------------------------ /usage and /spend agree
        for u in people:
            h = await d.invoke_command("usage", {}, user=u, guild=w.guild, channel=w.channel)
            text = (await h.wait_for_final(timeout=10)).all_text()
            assert re.search(rf"Images today: {delivered[u.id]} of \d+", text), (seed, u.username, text)
            assert f"Spent this month: {format_usd(charged[u.id])} of " in text, (seed, u.username, text)
            assert "held for requests in progress" not in text, (seed, u.username, text)
            h = await d.invoke_command("history", {"member": u}, user=moderator, guild=w.guild, channel=w.channel)
            text = (await h.wait_for_final(timeout=10)).all_text()
            assert "in progress" not in text and " held" not in text, (seed, u.username, text)
        spend = await d.invoke_command("spend", {}, user=admin, guild=w.guild, channel=w.channel)
        await spend.wait_for_final(timeout=15)
        spent = sum(r["cost_micros"] for r in rows)
        total_charged = sum(r["charged_micros"] for r in rows)
        assert f"Total spend: {format_usd(spent)} (charged to members for delivered images: " \
               f"{format_usd(total_charged)})" in spend.all_text(), (seed, spend.all_text())
        lines = csv_rows(spend)
        assert sum(Decimal(r["cost_usd"]) for r in lines) * 1_000_000 == spent
        assert sum(Decimal(r["charged_usd"]) for r in lines) * 1_000_000 == total_charged

        bad_lines = [line for line in w.logs.lines if line.startswith(("ERROR", "CRITICAL")) or "Traceback" in line]
        assert bad_lines == [], f"seed {seed}: {bad_lines}\n{script}"


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_busy_afternoon_keeps_every_screen_and_every_book_straight(tmp_path, seed):
    await busy_afternoon(tmp_path, seed)
