"""Every request the bot sends, with sizes pushed (long model labels from a catalog file,
long names, zh-CN everywhere, many rules and members), checked against what real Discord refuses
beyond what the double enforces."""

from __future__ import annotations

import re
from typing import Any

from tests.e2e.harness import world
from tests.e2e.staff import add_staff
from tests.e2e.test_discord_limits import LONG_EN, LONG_ZH, discord_problems
from tests.e2e.test_result_buttons import press, result_message

EPHEMERAL = 1 << 6
CHANNEL_POST = re.compile(r"^/channels/\d+/messages$")
MESSAGE_EDIT = re.compile(r"^/channels/\d+/messages/\d+$|^/webhooks/\d+/[^/]+/messages/[^/]+$")


def _walk(components: list[dict[str, Any]]):
    stack = list(components)
    while stack:
        comp = stack.pop()
        yield comp
        stack.extend(comp.get("components") or [])
        if isinstance(comp.get("component"), dict):
            stack.append(comp["component"])


def extra_problems(dd) -> list[str]:
    """What the double's limits and the spec let through but real Discord refuses."""
    out = list(discord_problems(dd))
    for r in dd.requests:
        body = r.json if isinstance(r.json, dict) else {}
        if r.path.endswith("/callback"):
            if body.get("type") in (8, 9):
                continue
            body = body.get("data") or {}
        if r.method not in ("POST", "PATCH"):
            continue
        where = f"{r.method} {r.path}"
        # ephemeral is only for interaction responses and followups
        if CHANNEL_POST.match(r.path) and (body.get("flags") or 0) & EPHEMERAL:
            out.append(f"{where}: ephemeral flag on a channel message")
        mentions = body.get("allowed_mentions")
        if isinstance(mentions, dict):
            parse = mentions.get("parse") or []
            for kind in ("users", "roles"):
                if kind in parse and mentions.get(kind):
                    out.append(f"{where}: allowed_mentions parse {kind} with a {kind} list")
        content = body.get("content")
        if isinstance(content, str) and content and not content.strip() and not (r.files or body.get("embeds")):
            out.append(f"{where}: whitespace-only content")
        comps = body.get("components") or []
        for row in comps:
            inner = row.get("components") or []
            if row.get("type") == 1 and any(c.get("type") in (3, 5, 6, 7, 8) for c in inner) and len(inner) > 1:
                out.append(f"{where}: a select menu shares its row")
        for comp in _walk(comps):
            if comp.get("type") == 3:
                options = comp.get("options") or []
                defaults = sum(bool(o.get("default")) for o in options)
                if defaults > (comp.get("max_values") or 1):
                    out.append(f"{where}: {defaults} default options > max_values")
                if (comp.get("max_values") or 1) > len(options):
                    out.append(f"{where}: max_values over the option count")
                values = [o["value"] for o in options]
                if len(values) != len(set(values)):
                    out.append(f"{where}: duplicate select values")
            if comp.get("type") == 2 and not comp.get("label") and not comp.get("emoji"):
                out.append(f"{where}: a button with neither label nor emoji")
    return out


LONG_LABEL = ("Seedream 5.0 Lite · 旗舰超清版 " + "超长模型名称" * 40)[:100]  # as long as a catalog label may be
LONG_NICK = "𝓐𝓵𝓲𝓬𝓮 🌸 ｗｏｎｄｅｒｌａｎｄ 的 画家 ✨✨✨ "[:32]


def catalog(tmp_path) -> str:
    path = tmp_path / "catalog.toml"
    path.write_text(
        f'[models."doubao-seedream-5-0-260128"]\nlabel = "{LONG_LABEL}"\n'
        f'[models."doubao-seedream-4-5-251128"]\nlabel = "{"四点五" * 33}"\n',
        encoding="utf-8",
    )
    return path


async def test_zh_cn_everywhere_with_long_labels_and_names(tmp_path):
    async with world(tmp_path, flavour="aiearth", start=False, model_catalog_file=catalog(tmp_path),
                     discord={}) as w:
        staff = add_staff(w)
        dd = w.discord
        w.guild.preferred_locale = "zh-CN"
        long_channel = dd.add_channel(w.guild, "画图频道-" + "x" * 95)
        members = []
        for i in range(8):
            user = dd.add_user(f"member_{i:02d}_" + "n" * 20, global_name=("全局名字" * 8)[:32])
            dd.add_member(w.guild, user, nick=LONG_NICK)
            members.append(user)
        await w.start_bot()
        zh = {"locale": "zh-CN"}
        # a long prompt with each long-labelled model, and a long-labelled model through autocomplete
        for model in ("doubao-seedream-5-0-260128", "doubao-seedream-4-5-251128"):
            done = await w.run("imagine", {"prompt": LONG_ZH, "model": model, "count": 2}, channel=long_channel,
                               timeout=30, **zh)
            assert done.files(), done.all_text()[:400]
        for typed in ("", "超长", "x" * 100, " ", "四"):
            inter = await dd.invoke_autocomplete("imagine", {"prompt": "猫", "model": typed}, "model",
                                                 user=w.alice, guild=w.guild, channel=w.channel, **zh)
            await inter.wait_for_ack(timeout=10)
        # buttons on a result with a long-labelled model: upscale, variation, re-roll
        first = await w.run("imagine", {"prompt": LONG_EN, "model": "doubao-seedream-4-5-251128", "count": 4},
                            timeout=30, **zh)
        request_id = max(r["id"] for r in await w.ledger_rows())
        for action in ("upscale", "variation", "reroll"):
            await press(w, result_message(first), action, request_id, locale="zh-CN")
        # many members, many models
        for i, user in enumerate(members):
            model = ("doubao-seedream-5-0-260128", "doubao-seedream-4-5-251128", "doubao-seedream-4-0-250828")[i % 3]
            await w.run("imagine", {"prompt": f"{i} " + LONG_ZH[:1990], "model": model}, user=user, timeout=30, **zh)
        # many quota rules, roles with long names
        for i in range(30):
            dd.add_role(w.guild, ("角色" * 50)[:100] + str(i))
            await w.bot.wait_until_ready()
        for user in members:
            await w.run("quota", {"member": user, "daily_images": 999_999, "monthly_usd": "12345678.99"},
                        user=staff.admin, subcommand="set", **zh)
        await w.run("quota", {}, user=staff.admin, subcommand="show", **zh)
        await w.run("quota", {"member": members[0]}, user=staff.admin, subcommand="show", **zh)
        await w.run("settings", {"model": "doubao-seedream-5-0-260128", "size": "2K"}, user=staff.admin,
                    subcommand="defaults", **zh)
        await w.run("settings", {}, user=staff.admin, subcommand="show", **zh)
        await w.run("usage", {}, user=members[0], **zh)
        await w.run("history", {}, user=staff.admin, **zh)
        await w.run("history", {"member": members[0]}, user=staff.admin, **zh)
        for chart_by in ("model", "member"):
            await w.run("spend", {"chart_by": chart_by}, user=staff.admin, timeout=60, **zh)
        assert any(LONG_LABEL in text for text in dd.all_outgoing_text())  # the catalog's label was shown
        longest = max(len((r.json or {}).get("content") or ((r.json or {}).get("data") or {}).get("content") or "")
                      for r in dd.requests if isinstance(r.json, dict))
        assert longest <= 2000, longest
        assert extra_problems(dd) == []
