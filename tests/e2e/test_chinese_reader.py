"""What a zh-CN member, moderator or admin reads: Chinese punctuation and list separators, commands
named as a Chinese client shows them, one word for approval, Chinese months, and the language of
public messages (the server's) against private ones (the member's)."""

from __future__ import annotations

import asyncio
import io
import re
import unicodedata

from PIL import Image

from tests.doubles.image_gateway_double import Fault
from tests.e2e.harness import world
from tests.e2e.staff import add_staff

ZH = "zh-CN"
HAN = r"[\u4e00-\u9fff]"
# ASCII , : ; ( ) next to Chinese text, or ", " / ": " between items of a Chinese line.
HALF_WIDTH_NEAR_HAN = re.compile(rf"{HAN}[,:;()]|[,:;()]{HAN}")


def _walk(node: dict, path: str):
    yield path, node
    for choice in node.get("choices") or []:
        yield f"{path} choice {choice['name']}", choice
    for option in node.get("options") or []:
        yield from _walk(option, f"{path} {option['name']}")


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 40, 40)).save(buf, "PNG")
    return buf.getvalue()


# ---------------------------------------------------------------- slash-command localizations


async def test_zh_command_localizations_are_valid_for_discord(tmp_path):
    """Guard: names 1-32 chars, lowercase, letters/digits/-/_ (chat input); descriptions and
    choices 1-100; no two siblings share a Chinese name."""
    async with world(tmp_path) as w:
        bad = []
        for command in w.discord.commands.global_payload:
            for where, item in _walk(command, command["name"]):
                name = (item.get("name_localizations") or {}).get(ZH)
                description = (item.get("description_localizations") or {}).get(ZH)
                if name is None:
                    bad.append(f"{where}: no zh-CN name")
                    continue
                is_menu = command.get("type", 1) != 1 and item is command
                is_choice = "value" in item
                if not 1 <= len(name) <= (100 if is_choice else 32):
                    bad.append(f"{where}: name length {len(name)}")
                invalid = name != name.lower() or any(
                    not (c in "-_" or unicodedata.category(c)[0] in "LN") for c in name
                )
                if not is_choice and not is_menu and invalid:
                    bad.append(f"{where}: invalid name {name!r}")
                if description is not None and not 1 <= len(description) <= 100:
                    bad.append(f"{where}: description length {len(description)}")
        assert bad == [], bad


async def test_zh_command_descriptions_use_chinese_punctuation(tmp_path):
    """The zh-CN descriptions in the slash-command picker used ASCII punctuation next to
    Chinese ("尺寸,例如 2K", "要画什么(中文或英文均可)", "默认:服务器的设置"), unlike every reply
    the bot writes (full-width "，（）：；")."""
    async with world(tmp_path) as w:
        spots = []
        for command in w.discord.commands.global_payload:
            for where, item in _walk(command, command["name"]):
                text = (item.get("description_localizations") or {}).get(ZH) or ""
                if HALF_WIDTH_NEAR_HAN.search(text):
                    spots.append(f"/{where}: {text}")
        assert spots == [], "\n".join(spots)


# ---------------------------------------------------------------- ASCII list punctuation in replies


async def test_quota_replies_join_values_with_chinese_punctuation(tmp_path):
    """/quota set and /quota show joined a rule's parts with ", " and labelled list lines with
    ": " in Chinese replies: "已保存 @alice 的配额：每天 5 张图片, 每月 $5.00（之前：未设置）。" and
    "· @alice: 每天 5 张图片, 每月 $5.00"."""
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        saved = await w.run("quota", {"member": w.alice, "daily_images": 5, "monthly_usd": "5"},
                            user=staff.admin, locale=ZH, subcommand="set")
        shown = await w.run("quota", {}, user=staff.admin, locale=ZH, subcommand="show")
        texts = {"quota set": saved.all_text(), "quota show": shown.all_text()}
        assert "每天 5 张图片" in texts["quota set"], texts
        ascii_seps = {k: re.findall(r"张图片, 每月|>: 每天", v) for k, v in texts.items()}
        assert all(not found for found in ascii_seps.values()), (ascii_seps, texts)


async def test_channel_lists_in_chinese_replies_use_the_chinese_separator(tmp_path):
    """The wrong-channel refusal a member reads and /settings channels add listed channels with ASCII ", ":
    "图片命令只能在 #a, #b 中使用。" - the catalog's own list separator is "、"."""
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.run("settings", {"channel": staff.mods_channel}, user=staff.admin, locale=ZH,
                    subcommand="channels add")
        added = await w.run("settings", {"channel": w.channel}, user=staff.admin, locale=ZH,
                            subcommand="channels add")
        other = w.discord.add_channel(w.guild, "elsewhere")
        refused = await w.run("imagine", {"prompt": "一只猫"}, locale=ZH, channel=other)
        texts = {"/settings channels add": added.all_text(), "wrong-channel refusal": refused.all_text()}
        assert "只能在" in texts["wrong-channel refusal"], texts
        assert all(">, <#" not in text for text in texts.values()), texts


# ---------------------------------------------------------------- command names in Chinese replies


async def test_chinese_replies_name_commands_as_a_chinese_client_shows_them(tmp_path):
    """Chinese replies pointed to commands and options by their English names
    (`/blocklist list`, `reset`, /series, and in other texts /settings required-role,
    /settings approval, /imagine, /edit, /budget) while a zh-CN client lists them as
    /屏蔽词 列表, 重置, /组图 ... (the synced name_localizations)."""
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        show = await w.run("settings", {}, user=staff.admin, locale=ZH, subcommand="show")
        reset = await w.run("settings", {"reset": True, "size": "2K"}, user=staff.admin, locale=ZH,
                            subcommand="defaults")
        series = await w.run("series", {"prompt": "猫" * 1990, "count": 4}, locale=ZH)
        texts = {"/settings show": show.all_text(), "/settings defaults": reset.all_text(),
                 "/series refusal": series.all_text()}
        english = {k: re.findall(r"/blocklist list|`reset`|/series", v) for k, v in texts.items()}
        assert all(not found for found in english.values()), (english, texts)


async def test_edit_form_title_matches_the_context_menu_entry(tmp_path):
    """The zh-CN Apps menu entry is "用 Seedream 改图"; the form it opens was titled "用 Seedream 编辑"."""
    async with world(tmp_path) as w:
        entry = next(c for c in w.discord.commands.global_payload if c["name"] == "Edit with Seedream")
        png = [("a.png", _png(), "image/png")]
        message = await w.discord.post_user_message(w.channel, w.alice, "", attachments=png)
        menu = await w.discord.invoke_message_command("Edit with Seedream", message, user=w.alice, locale=ZH)
        await menu.wait_for_final()
        assert menu.modal is not None
        assert menu.modal["title"] == entry["name_localizations"][ZH], menu.modal["title"]


async def test_quota_show_bot_defaults_line_reads_naturally_when_unlimited(tmp_path):
    """/quota show with no bot defaults read "机器人默认值（.env）：不限，每月 不限"
    ("monthly unlimited" word-for-word, with a stray space)."""
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        shown = (await w.run("quota", {}, user=staff.admin, locale=ZH, subcommand="show")).all_text()
        assert "机器人默认值" in shown, shown
        assert "每月 不限" not in shown, shown


async def test_approval_is_called_the_same_in_the_review_and_in_history(tmp_path):
    """The moderators' review says "审核请求 #1" and /settings says "审核模式"; /history listed the same
    request as "审批 #1" and "等待版主审批", and a refusal said "已开启审批模式"."""
    async with world(tmp_path, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin,
                    subcommand="approval", locale=ZH)
        await w.run("imagine", {"prompt": "一只猫"}, locale=ZH)
        [review] = w.discord.channel_messages(staff.mods_channel)
        history = (await w.run("history", {}, user=staff.moderator, locale=ZH)).all_text()
        assert "审核请求 #1" in review["content"] or "Approval request #1" in review["content"], review
        assert "审批" not in history, history


# ---------------------------------------------------------------- server locale zh-CN


async def test_a_chinese_server_gets_its_public_budget_warning_with_a_chinese_month(tmp_path):
    """The public budget warning follows the server's preferred locale (zh-CN): Chinese, good.
    The month was ISO "2026-11" inside the Chinese sentence
    ("本服务器 2026-11（UTC）已花费 ..."), where a Chinese reader expects "2026 年 11 月"."""
    async with world(tmp_path, start=False) as w:
        w.guild.preferred_locale = ZH
        staff = add_staff(w)
        await w.start_bot()
        await w.run("budget", {"amount": "1", "warn_percent": 10, "warn_channel": w.channel},
                    user=staff.admin, subcommand="set")
        await w.run("imagine", {"prompt": "a fox"})  # an English member
        for _ in range(100):
            warning = [m["content"] for m in w.discord.channel_messages(w.channel) if "⚠️" in (m.get("content") or "")]
            if warning:
                break
            await asyncio.sleep(0.05)
        assert warning and "预警线" in warning[0], warning  # Chinese for a Chinese server (passes)
        assert not re.search(r"\d{4}-\d{2}（UTC）", warning[0]), warning[0]


async def test_a_chinese_server_reviews_in_chinese_and_each_member_is_told_in_their_own_language(tmp_path):
    """Guard: with a zh-CN server, the moderators' review is Chinese (also for an English member's
    request); the member's acknowledgement and the rejection notice are in the member's language."""
    async with world(tmp_path, start=False) as w:
        w.guild.preferred_locale = ZH
        staff = add_staff(w)
        await w.start_bot()
        await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin, subcommand="approval")
        zh = await w.run("imagine", {"prompt": "一只猫"}, locale=ZH)
        en = await w.run("imagine", {"prompt": "a dog"}, user=w.bob)
        assert "提交给版主审核" in zh.all_text() and "sent to the moderators" in en.all_text()
        reviews = w.discord.channel_messages(staff.mods_channel)
        assert all("审核请求" in m["content"] for m in reviews), [m["content"] for m in reviews]
        labels = [c["label"] for m in reviews for row in m["components"] for c in row["components"]]
        assert set(labels) == {"批准", "拒绝"}, labels
        reject = next(c["custom_id"] for row in reviews[0]["components"] for c in row["components"]
                      if c["custom_id"].startswith("approval:reject"))
        pressed = await w.discord.click_button(reviews[0], reject, user=staff.moderator, locale=ZH)
        await pressed.wait_for_final()
        assert "❌ 已由" in pressed.all_text()
        told = [m["content"] for m in w.discord.channel_messages(w.channel)]
        assert any("已被" in t and "拒绝" in t and "未向你计费" in t for t in told), told


async def test_a_chinese_member_reads_refusals_and_gateway_failures_in_chinese(tmp_path):
    """Guard: sizes, prompt length, blocked term, content filter, busy, partial refusal, queue."""
    async with world(tmp_path, start=False, image_max_retries=0) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.run("blocklist", {"term": "狗"}, user=staff.admin, locale=ZH, subcommand="add")
        seen = {
            "size": await w.run("imagine", {"prompt": "猫", "size": "100x100"}, locale=ZH),
            "long": await w.run("imagine", {"prompt": "猫" * 2100}, locale=ZH),
            "blocked": await w.run("imagine", {"prompt": "一只狗"}, locale=ZH),
        }
        w.gateway.script(Fault.status(400, "OutputImageSensitiveContentDetected"))
        seen["filter"] = await w.run("imagine", {"prompt": "猫"}, locale=ZH)
        w.gateway.script(Fault.status(429))
        seen["busy"] = await w.run("imagine", {"prompt": "猫"}, locale=ZH)
        w.gateway.script(Fault.partial(failed=(1,)))
        seen["partial"] = await w.run("imagine", {"prompt": "猫", "count": 2}, locale=ZH)
        texts = {k: v.all_text() for k, v in seen.items()}
        assert "共 10,000 像素，少于 921,600" in texts["size"], texts["size"]
        assert "提示词最多 2000 个字符（当前为 2100 个）" in texts["long"], texts["long"]
        assert "未向你计费" in texts["blocked"] and "狗" not in texts["blocked"]
        assert texts["filter"].startswith("内容审核拒绝了本次请求")
        assert texts["busy"].startswith("图片服务当前繁忙")
        assert "2 张中有 1 张被内容审核拒绝" in texts["partial"] and "费用 $0.162" in texts["partial"]
        leaked = {k: re.findall(r"\b[A-Za-z]{4,}\b", re.sub(r"<[^>]+>|Seedream|\$[\d.]+", "", v))
                  for k, v in texts.items()}
        assert all(not words for words in leaked.values()), leaked
