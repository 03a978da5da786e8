"""A zh-CN member in a zh-CN server, end to end: full-width input, every text in Chinese, and the
moderators' and admins' side of it."""

from __future__ import annotations

import io
import re

from PIL import Image

from tests.doubles.image_gateway_double import Fault
from tests.e2e.harness import world
from tests.e2e.staff import add_staff, eventually

ZH = "zh-CN"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _png() -> tuple[str, bytes, str]:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 40, 40)).save(buf, "PNG")
    return ("ref.png", buf.getvalue(), "image/png")


async def test_full_width_sizes_from_a_chinese_input_method_are_read_as_typed_in_ascii(tmp_path):
    """README: sizes are read "in full width from a Chinese input method (`２Ｋ`,
    `２０４８ｘ２０４８`)" and as `2048 × 2048`; this holds for /imagine, /edit and /series."""
    async with world(tmp_path, start=False) as w:
        w.guild.preferred_locale = ZH
        await w.start_bot()
        typed = ["２Ｋ", "２ｋ", "２０４８×２０４８", "２０４８ｘ２０４８", "２０４８Ｘ２０４８",
                 "２０４８　＊　２０４８"]  # fmt: skip
        for size in typed:
            done = await w.run("imagine", {"prompt": "一只猫", "size": size}, locale=ZH)
            assert len(done.files()) == 1, (size, done.all_text())
        edit = await w.run("edit", {"prompt": "改成夜晚", "size": "２Ｋ"}, locale=ZH, attachments=[_png()])
        series = await w.run("series", {"prompt": "四季的风景", "count": 2, "size": "２Ｋ"}, locale=ZH, timeout=30)
        assert len(edit.files()) == 1 and len(series.files()) == 2, (edit.all_text(), series.all_text())
        sizes = [row["size"] for row in await w.ledger_rows()]
        assert sizes == ["2K", "2K", *["2048x2048"] * 4, "2K", "2K"], sizes


async def test_the_chinese_journey_reads_wholly_in_chinese_without_keys_or_placeholders(tmp_path):
    """Result, buttons, upscale menu, variation form, every common refusal, /usage and
    /history for a zh-CN member: Chinese, no raw `{placeholder}`, no catalog key, no English sentence."""
    async with world(tmp_path, start=False, image_max_retries=0) as w:
        w.guild.preferred_locale = ZH
        staff = add_staff(w)
        await w.start_bot()
        await w.run("blocklist", {"term": "狗"}, user=staff.admin, locale=ZH, subcommand="add")
        first = await w.run("imagine", {"prompt": "一只猫", "count": 2}, locale=ZH)
        request_id = (await w.ledger_rows())[0]["id"]
        message = next(m for m in first.messages if m.get("components"))
        pressed = {}
        for action in ("upscale", "variation", "reroll"):
            inter = await w.discord.click_button(message, f"sd:{action}:{request_id}", user=w.alice, locale=ZH)
            await inter.wait_for_final(timeout=15, quiet=0.3)
            pressed[action] = inter
        texts = {
            "result": first.all_text(),
            "upscale menu": str(pressed["upscale"].messages),
            "variation form": str(pressed["variation"].modal),
            "reroll": pressed["reroll"].all_text(),
            "size": (await w.run("imagine", {"prompt": "猫", "size": "２０４８，２０４８"}, locale=ZH)).all_text(),
            "count": (await w.run("series", {"prompt": "猫", "count": 20}, locale=ZH, unchecked=True)).all_text(),
            "long": (await w.run("imagine", {"prompt": "猫" * 2100}, locale=ZH)).all_text(),
            "blocked": (await w.run("imagine", {"prompt": "一只狗"}, locale=ZH)).all_text(),
            "not image": (await w.run("edit", {"prompt": "改"}, locale=ZH,
                                      attachments=[("a.txt", b"hello", "text/plain")])).all_text(),
        }
        w.gateway.script(Fault.status(500))
        texts["gateway 500"] = (await w.run("imagine", {"prompt": "猫"}, locale=ZH)).all_text()
        w.gateway.script(Fault.status(400, "InputTextSensitiveContentDetected"))
        texts["content filter"] = (await w.run("imagine", {"prompt": "猫"}, locale=ZH)).all_text()
        await w.run("quota", {"member": w.alice, "daily_images": 1}, user=staff.admin, subcommand="set", locale=ZH)
        texts["quota"] = (await w.run("imagine", {"prompt": "猫"}, locale=ZH)).all_text()
        texts["usage"] = (await w.run("usage", locale=ZH)).all_text()
        texts["history"] = (await w.run("history", locale=ZH)).all_text()
        for where, text in texts.items():
            assert CJK.search(text), (where, text)
            assert not re.search(r"\{\w+\}", text), (where, text)
            assert not re.search(r"\b(?:error|option|result|buttons|history|usage)\.[a-z_]+", text), (where, text)
            bare = re.sub(r"<[^>]+>|`[^`]*`|Seedream \d\.\d|\$[\d.,]+|https?://\S+", "", text)
            if where not in ("upscale menu", "variation form"):  # dict reprs hold JSON field names
                assert not re.findall(r"\b[A-Za-z]{4,}\b", bare), (where, text)


async def test_budget_off_typed_in_full_width_removes_the_budget(tmp_path):
    """A Chinese admin whose input method is in full-width mode types `/预算 设定 金额:ｏｆｆ`. Amounts
    typed that way are read (README: "in full width too (`＄１２．５０`)"), and so is `ｏｆｆ` now: it used
    to be compared before any folding, and the admin read "`ｏｆｆ` 不是有效的美元金额" with the budget kept."""
    async with world(tmp_path, start=False) as w:
        w.guild.preferred_locale = ZH
        staff = add_staff(w)
        await w.start_bot()
        await w.run("budget", {"amount": "５"}, user=staff.admin, subcommand="set", locale=ZH)
        off = await w.run("budget", {"amount": "ｏｆｆ"}, user=staff.admin, subcommand="set", locale=ZH)
        assert "已删除本服务器的预算设置" in off.all_text(), off.all_text()


async def test_moderators_are_not_told_it_is_their_own_limit_when_an_approved_request_cannot_run(tmp_path):
    """Approval flow, both languages (shown in Chinese). The member's daily limit is set to 0 while the
    request waits; a moderator approves. The review message (read by every moderator) and the
    moderator's private answer used to reuse the member's refusal, "你的每日上限为 0 张图片…": every
    moderator read that *their* limit was 0. They now name the member whose limit it is."""
    async with world(tmp_path, start=False) as w:
        w.guild.preferred_locale = ZH
        staff = add_staff(w)
        await w.start_bot()
        await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin,
                    subcommand="approval", locale=ZH)
        asked = await w.run("imagine", {"prompt": "一只狐狸"}, locale=ZH)
        assert "提交给版主审核" in asked.all_text()
        await w.run("quota", {"member": w.alice, "daily_images": 0}, user=staff.admin, subcommand="set", locale=ZH)
        [review] = w.discord.channel_messages(staff.mods_channel)
        approve = next(c["custom_id"] for row in review["components"] for c in row["components"]
                       if c["custom_id"].startswith("approval:approve"))
        pressed = await w.discord.click_button(review, approve, user=staff.moderator, locale=ZH)
        await pressed.wait_for_final(timeout=15)
        await eventually(lambda: any("无法执行" in (m.get("content") or "")
                                     for m in w.discord.channel_messages(w.channel)))
        # the member is told in their channel, addressed to them
        told = [m["content"] for m in w.discord.channel_messages(w.channel) if "无法执行" in (m.get("content") or "")]
        assert told[0].startswith(f"<@{w.alice.id}>") and "每日上限为 0" in told[0], told
        # what the moderators read
        [review] = w.discord.channel_messages(staff.mods_channel)
        decided = review["content"].splitlines()[-1]
        private = [r.payload.get("content") or "" for r in pressed.message_records if r.ephemeral]
        assert "每日上限" in decided, decided
        assert "你的" not in decided and f"<@{w.alice.id}>" in decided, decided
        assert private and not any("你的每日上限" in text for text in private), private
