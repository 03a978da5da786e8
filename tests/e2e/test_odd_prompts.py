"""Prompts as a busy community server types them (mentions, markdown, masked
links, emoji, RTL, combining marks, newlines, control characters, blanks, prompts at the model's
limit). Nobody is pinged, Discord refuses nothing, the prompt shown back is faithful but harmless,
and the money is exact."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.books import assert_books_balanced
from tests.e2e.harness import world
from tests.e2e.staff import add_staff, eventually
from tests.e2e.test_discord_limits import discord_problems
from tests.e2e.test_result_buttons import press, result_message, text_input

PRICE = 162_000
QUOTAS = {"default_daily_images": 50, "default_monthly_usd": "50", "guild_monthly_budget_usd": "100"}
MESSAGE_PATH = re.compile(
    r"^/channels/\d+/messages(/\d+)?$|^/webhooks/\d+/[^/]+(/messages/[^/]+)?$|^/interactions/\d+/[^/]+/callback$"
)
USER = re.compile(r"<@!?(\d+)>")
ROLE = re.compile(r"<@&(\d+)>")


def pings(dd) -> list[str]:
    """Every notification Discord would send for the bot's requests, by its allowed_mentions rules
    (no allowed_mentions: everything in the content is parsed)."""
    out = []
    for r in dd.requests:
        if r.method not in ("POST", "PATCH") or not MESSAGE_PATH.match(r.path):
            continue
        body: Any = r.json if isinstance(r.json, dict) else {}
        if r.path.endswith("/callback"):
            if body.get("type") not in (4, 7):
                continue
            body = body.get("data") or {}
        content = body.get("content") or ""
        allowed = body.get("allowed_mentions")
        parse = ["users", "roles", "everyone"] if allowed is None else (allowed.get("parse") or [])
        users = set() if allowed is None else {int(u) for u in allowed.get("users") or []}
        roles = set() if allowed is None else {int(u) for u in allowed.get("roles") or []}
        for uid in USER.findall(content):
            if "users" in parse or int(uid) in users:
                out.append(f"{r.method} {r.path}: user {uid}")
        for rid in ROLE.findall(content):
            if "roles" in parse or int(rid) in roles:
                out.append(f"{r.method} {r.path}: role {rid}")
        if ("@everyone" in content or "@here" in content) and "everyone" in parse:
            out.append(f"{r.method} {r.path}: everyone")
    return out


def user_pings(dd, requester: int) -> list[str]:
    return [p for p in pings(dd) if p.split(": ")[1] != f"user {requester}"]


ODD = {
    "mentions": "a fox @everyone @here <@{bob}> <@!{bob}> <@&{role}> <#{channel}> </imagine:1> <t:0:R>",
    "markdown": "**bold** __under__ `code` ```block``` > quote # heading ||spoiler|| ~~strike~~ -# small",
    "links": "[free nitro](http://evil.example/x) [two](<http://evil.example/y>) http://plain.example/_a_",
    "emoji": "a fox 🦊👩‍👩‍👧 <:blob:123456789012345678> <a:dance:123456789012345679> :smile:",
    "rtl": "שלום עולם مرحبا بالعالم a fox",
    "combining": "Z" + "\u0336\u0337\u0338\u0334" * 60 + "ebra",
    "newlines": "line one\n\n# heading\n> quote\n- list\n1. numbered",
    "control": "a\u0000fox\u0007in\u001b[31mred\u0008snow\u007f",
}


@pytest.mark.parametrize("kind", sorted(ODD))
async def test_odd_prompts_ping_nobody_and_break_nothing(tmp_path, kind):
    async with world(tmp_path, start=False, **QUOTAS) as w:
        role = w.discord.add_role(w.guild, "Artists")
        await w.start_bot()
        prompt = ODD[kind].format(bob=w.bob.id, role=role.id, channel=w.channel.id)
        inter = await w.run("imagine", {"prompt": prompt}, timeout=30)
        assert len(inter.files()) == 1, inter.all_text()[:500]
        assert user_pings(w.discord, w.alice.id) == []
        assert discord_problems(w.discord) == []
        [row] = await w.ledger_rows()
        assert (row["status"], row["charged_micros"], row["images_delivered"]) == ("settled", PRICE, 1)
        body = w.gateway.generation_requests[-1].json
        assert body["prompt"] == prompt.strip()  # the member's words reach the gateway as typed
        await assert_books_balanced(w.storage)


@pytest.mark.parametrize("prompt", [" \u200d ", "\u200d", "   \u200b\u200d\u2060  ", "\u3000\u200d\ufeff"])
async def test_a_prompt_of_spaces_and_a_zero_width_joiner_is_refused_privately_and_costs_nothing(tmp_path, prompt):
    async with world(tmp_path, **QUOTAS) as w:
        inter = await w.run("imagine", {"prompt": prompt})
        assert inter.files() == []
        assert "empty" in inter.all_text().lower(), inter.all_text()
        assert inter.callback_data and inter.callback_data.get("flags", 0) & (1 << 6)
        assert w.gateway.generation_requests == []
        assert all(r["cost_micros"] == r["charged_micros"] == 0 for r in await w.ledger_rows())


GPT_LONG = ("@everyone <@&{role}> **bold** ||spoiler|| [free nitro](https://x.y) `code` <:e:123456789012345678> "
            "שלום ") * 60


async def test_a_4000_character_gpt_image_prompt_full_of_markup_everywhere_it_is_shown(tmp_path):
    # GPT Image takes prompts up to 4,000 characters (README). The reply, the Variation form,
    # Re-roll, /history and the moderators' review must all be accepted by Discord and ping no one.
    async with world(tmp_path, flavour="xmsmartlink", start=False, **QUOTAS) as w:
        staff = add_staff(w)
        role = w.discord.add_role(w.guild, "Artists")
        await w.start_bot()
        prompt = GPT_LONG.format(role=role.id)[:4000].strip()
        assert len(prompt) >= 3990
        inter = await w.run("imagine", {"prompt": prompt, "model": "gpt-image-1.5", "size": "1024x1024"},
                            timeout=30)
        assert len(inter.files()) == 1, inter.all_text()[:400]
        [row] = await w.ledger_rows()
        assert row["prompt"] == prompt
        message = result_message(inter)
        opened = await press(w, message, "variation", row["id"])
        assert opened.modal is not None, opened.all_text()
        field = text_input(opened.modal)  # the variation is Seedream's (GPT Image takes no image): 2,000
        assert prompt.startswith(field.get("value")) and len(field["value"]) <= field["max_length"]
        reroll = await press(w, message, "reroll", row["id"])
        assert len(reroll.files()) == 1, reroll.all_text()[:300]
        history = await w.run("history")
        assert "#1" in history.all_text()
        on = await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin,
                         subcommand="approval")
        assert w.bot.storage.guild_config.get(w.guild.id).needs_approval, on.all_text()
        await w.run("imagine", {"prompt": prompt, "model": "gpt-image-1.5", "size": "1024x1024"})
        await eventually(lambda: w.discord.channel_messages(staff.mods_channel))
        assert user_pings(w.discord, w.alice.id) == []
        assert discord_problems(w.discord) == []
        await assert_books_balanced(w.storage)


async def test_odd_prompts_reach_history_and_the_spend_csv_whole_and_exact(tmp_path):
    # Control characters, newlines, RTL and emoji in the ledger: /history lists them (no ping, no
    # markdown), and /spend's CSV still adds up to the ledger with the prompts as stored.
    async with world(tmp_path, start=False, **QUOTAS) as w:
        staff = add_staff(w)
        role = w.discord.add_role(w.guild, "Artists")
        await w.start_bot()
        prompts = [ODD[k].format(bob=w.bob.id, role=role.id, channel=w.channel.id) for k in sorted(ODD)]
        for prompt in prompts:
            inter = await w.run("imagine", {"prompt": prompt}, timeout=30)
            assert len(inter.files()) == 1, inter.all_text()[:200]
        history = await w.run("history", {}, user=staff.moderator)
        assert history.all_text().count("$0.162") == len(prompts), history.all_text()
        report = await w.run("spend", {"period": "month"}, user=staff.admin, timeout=30)
        [(_name, data)] = [f for f in report.files() if f[0].endswith(".csv")]
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        assert len(rows) == len(prompts), [r.get("prompt") for r in rows]
        assert sum(Decimal(r["cost_usd"]) for r in rows) == Decimal("0.162") * len(prompts)
        assert user_pings(w.discord, w.alice.id) == []
        assert discord_problems(w.discord) == []
        await assert_books_balanced(w.storage)
