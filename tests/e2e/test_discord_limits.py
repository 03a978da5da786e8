"""Would real Discord accept every request the bot sends, in unusual flows too?

The Discord double checks content <= 2000, embeds, attachments and the OpenAPI schema. Real Discord
also enforces rules the schema does not encode (autocomplete string values <= 100, custom_id unique
in a message, <= 5 action rows, text input value within min/max length) and mass mentions are a
matter of `allowed_mentions`. `discord_problems` checks every request the bot sent for those.
"""

from __future__ import annotations

import re
from typing import Any

from tests.e2e.harness import world
from tests.e2e.staff import add_staff
from tests.e2e.test_result_buttons import press, result_message, text_input

MESSAGE_PATH = re.compile(
    r"^/channels/\d+/messages(/\d+)?$|^/webhooks/\d+/[^/]+(/messages/[^/]+)?$|^/interactions/\d+/[^/]+/callback$"
)
MASS = re.compile(r"@everyone|@here|<@&\d+>")


def _components_problems(components: list[dict[str, Any]], where: str) -> list[str]:
    out = []
    rows = [c for c in components if c.get("type") == 1]
    if len(rows) > 5:
        out.append(f"{where}: {len(rows)} action rows (max 5)")
    ids: list[str] = []
    for row in rows:
        if len(row.get("components") or []) > 5:
            out.append(f"{where}: a row with {len(row['components'])} components (max 5)")
        for comp in row.get("components") or []:
            if comp.get("custom_id"):
                ids.append(comp["custom_id"])
                if len(comp["custom_id"]) > 100:
                    out.append(f"{where}: custom_id over 100: {comp['custom_id'][:40]}")
            if len(comp.get("label") or "") > 80:
                out.append(f"{where}: button label over 80")
    if len(ids) != len(set(ids)):
        out.append(f"{where}: duplicate custom_ids {ids}")
    return out


def _modal_problems(data: dict[str, Any]) -> list[str]:
    out = []
    if not 1 <= len(data.get("title") or "") <= 45:
        out.append(f"modal title length {len(data.get('title') or '')}")
    stack = list(data.get("components") or [])
    while stack:
        comp = stack.pop()
        stack.extend(comp.get("components") or [])
        if isinstance(comp.get("component"), dict):
            stack.append(comp["component"])
        if comp.get("type") == 18 and not 1 <= len(comp.get("label") or "") <= 45:
            out.append("label component label length")
        if comp.get("type") != 4:
            continue
        value = comp.get("value") or ""
        lo, hi = comp.get("min_length") or 0, comp.get("max_length") or 4000
        if comp.get("label") is not None and not 1 <= len(comp["label"]) <= 45:
            out.append(f"text input label length {len(comp['label'])}")
        if len(comp.get("placeholder") or "") > 100:
            out.append("placeholder over 100")
        if value and not lo <= len(value) <= hi:
            out.append(f"text input value length {len(value)} outside {lo}..{hi}")
        if lo > hi or hi < 1:
            out.append(f"text input min_length {lo} > max_length {hi}")
    return out


def _autocomplete_problems(data: dict[str, Any]) -> list[str]:
    out = []
    choices = data.get("choices") or []
    if len(choices) > 25:
        out.append(f"{len(choices)} autocomplete choices (max 25)")
    for choice in choices:
        if not 1 <= len(choice["name"]) <= 100:
            out.append(f"autocomplete choice name length {len(choice['name'])}")
        if isinstance(choice["value"], str) and len(choice["value"]) > 100:
            out.append(f"autocomplete choice value length {len(choice['value'])} (max 100)")
    return out


def discord_problems(dd) -> list[str]:
    """What real Discord would refuse (or a ping it would send) in the requests the bot made."""
    problems = [f"double refused: {r}" for r in dd.limit_rejections]
    for request in dd.requests:
        if request.method not in ("POST", "PATCH") or not MESSAGE_PATH.match(request.path):
            continue
        body = request.json if isinstance(request.json, dict) else {}
        where = f"{request.method} {request.path.split('/')[1]}"
        if request.path.endswith("/callback"):
            kind, data = body.get("type"), body.get("data") or {}
            if kind == 8:
                problems += _autocomplete_problems(data)
                continue
            if kind == 9:
                problems += _modal_problems(data)
                continue
            body = data
        content = body.get("content") or ""
        if len(content) > 2000:
            problems.append(f"{where}: content {len(content)} chars")
        problems += _components_problems(body.get("components") or [], where)
        if MASS.search(content):
            parse = (body.get("allowed_mentions") or {"parse": ["everyone", "roles", "users"]}).get("parse") or []
            if "everyone" in parse or "roles" in parse:
                problems.append(f"{where}: a mass mention may ping: {content[:80]}")
            roles = (body.get("allowed_mentions") or {}).get("roles") or []
            if roles:
                problems.append(f"{where}: roles allowed to ping {roles}")
    return problems


LONG_EN = ("@everyone <@&123456789012345678> **bold** ||spoiler|| [free nitro](https://x.y) `code` " * 30)[:2000]
LONG_ZH = ("一只在雪地里奔跑的红色狐狸，电影感光线，超高清细节，@everyone ＊粗体＊ " * 80)[:2000]


async def test_long_prompts_with_mentions_and_markdown_never_break_a_limit_or_ping(tmp_path):
    async with world(tmp_path) as w:
        for prompt in (LONG_EN, LONG_ZH, "*" * 2000, "\\" * 2000, "_" * 1999 + "a"):
            inter = await w.run("imagine", {"prompt": prompt}, timeout=30)
            assert len(inter.files()) == 1, inter.all_text()[:300]
        assert discord_problems(w.discord) == []


async def test_series_of_15_with_a_long_prompt(tmp_path):
    async with world(tmp_path, flavour="aiearth") as w:
        inter = await w.run("series", {"prompt": LONG_EN[:1900], "count": 15}, timeout=60)
        assert len(inter.files()) == 15, inter.all_text()[:500]
        assert discord_problems(w.discord) == []


async def test_variation_form_prefilled_with_a_long_prompt(tmp_path):
    async with world(tmp_path) as w:
        first = await w.run("imagine", {"prompt": LONG_ZH, "count": 2}, timeout=30)
        request_id = (await w.ledger_rows())[0]["id"]
        opened = await press(w, result_message(first), "variation", request_id)
        assert opened.modal is not None, opened.kinds()
        assert len(text_input(opened.modal).get("value") or "") == len(LONG_ZH)
        assert discord_problems(w.discord) == []


async def test_autocomplete_with_odd_input(tmp_path):
    async with world(tmp_path, flavour="aiearth") as w:
        for focused, typed in (("model", ""), ("model", "x" * 300), ("model", "\u200b"), ("size", "%"),
                               ("size", "")):
            inter = await w.discord.invoke_autocomplete(
                "imagine", {"prompt": "a cat", focused: typed}, focused, user=w.alice, guild=w.guild,
                channel=w.channel)
            await inter.wait_for_ack(timeout=10)
        assert discord_problems(w.discord) == []


async def test_admin_lists_with_many_long_entries(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        for i in range(40):
            term = (f"term{i:02d} " + "长" * 90 + " `x` " + "y" * 100)[:200]
            await w.run("blocklist", {"term": term}, user=staff.admin, subcommand="add")
        listed = await w.run("blocklist", {}, user=staff.admin, subcommand="list")
        assert listed.all_text()
        for i in range(12):
            await w.run("imagine", {"prompt": f"{i} " + LONG_EN[:1990]}, timeout=30)
        await w.run("history", {}, user=staff.admin)
        await w.run("history", {"member": w.alice}, user=staff.admin, locale="zh-CN")
        await w.run("spend", {}, user=staff.admin, timeout=60)
        assert discord_problems(w.discord) == []
