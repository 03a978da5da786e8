"""The result messages as a member reads them in Discord: only buttons that can work, no preview of a
link in the prompt, the size of what was made, and figures that agree with /usage."""

from __future__ import annotations

import io
import re
from decimal import Decimal

from PIL import Image

from tests.doubles.image_gateway_double.faults import Fault
from tests.e2e.harness import world
from tests.e2e.test_edit import image_bytes
from tests.e2e.test_result_buttons import is_ephemeral, result_message

SUPPRESS_EMBEDS = 1 << 2
URL = re.compile(r"https?://[^\s>*|\\]+")
SEEDEDIT = "doubao-seededit-3-0-i2i-250628"
SEEDREAM_5 = "doubao-seedream-5-0-260128"


def _buttons(message: dict) -> dict[str, dict]:
    return {c["custom_id"].split(":")[1]: c for row in message.get("components") or [] for c in row["components"]}


async def test_no_re_roll_under_a_result_made_from_images_the_bot_does_not_keep(tmp_path):
    # README: Re-roll is "not under results of reference images". A press could only be refused.
    async with world(tmp_path) as w:
        inter = await w.run("edit", {"prompt": "make the sky purple"},
                            attachments=[("photo.png", image_bytes("PNG", size=(640, 480)), "image/png")])
        assert len(inter.files()) == 1, inter.all_text()
        assert list(_buttons(result_message(inter))) == ["variation", "upscale", "delete"]
        made = await w.run("imagine", {"prompt": "a purple sky"})
        assert list(_buttons(result_message(made))) == ["reroll", "variation", "upscale", "delete"]


async def test_a_link_in_the_prompt_is_not_previewed_under_the_result(tmp_path):
    # Discord previews a bare link in a message: under the images, a picture of whatever site the
    # member named (past the server's blocked terms), as if part of the result. In angle
    # brackets it is still a link, without the preview.
    prompt = "a cat in the style of https://i.imgur.com/abcd123.gif please"
    async with world(tmp_path) as w:
        inter = await w.run("imagine", {"prompt": prompt})
        assert len(inter.files()) == 1, inter.all_text()
        unfurled = []
        for r in w.discord.requests:
            if r.method not in ("POST", "PATCH") or not isinstance(r.json, dict):
                continue
            body = r.json.get("data") if r.path.endswith("/callback") else r.json
            content = (body or {}).get("content") or ""
            if "imgur" not in content or (body.get("flags") or 0) & SUPPRESS_EMBEDS:
                continue
            for match in URL.finditer(content):
                if content[match.start() - 1 : match.start()] != "<":
                    unfurled.append(f"{r.method} {r.path[:30]}: {match.group()}")
        assert unfurled == [], f"posted as a live link Discord previews: {unfurled}"


async def test_a_seededit_result_on_a_gateway_that_says_no_size_shows_the_size_made(tmp_path):
    # 302.ai's answer carries no "size": the result said "adaptive" (the request's API word,
    # untranslated) where a size belongs: the size of the image it sent is.
    async with world(tmp_path, flavour="302ai") as w:
        inter = await w.run("edit", {"prompt": "给猫戴上帽子", "model": SEEDEDIT}, locale="zh-CN",
                            attachments=[("photo.png", image_bytes("PNG", size=(640, 480)), "image/png")])
        assert len(inter.files()) == 1, inter.all_text()
        details = result_message(inter)["content"].splitlines()[1]
        made = Image.open(io.BytesIO(inter.files()[0][1])).size
        assert details.startswith(f"SeedEdit 3.0 · {made[0]}x{made[1]} · 1 张图片"), details


async def test_guard_summary_and_usage_agree_after_refused_and_lost_images_in_chinese(tmp_path):
    # A streamed series of 4 with image 2 refused by the filter, then an /imagine of
    # 2 with one file lost: each summary says what happened, and what it says is left agrees
    # with /usage (images today, spend this month), in Chinese.
    quotas = {"default_daily_images": 20, "default_monthly_usd": "5"}
    async with world(tmp_path, flavour="aiearth", image_prices={SEEDREAM_5: Decimal("0.035")}, **quotas) as w:
        w.gateway.script(Fault.partial([1]))
        series = await w.run("series", {"prompt": "一只猫的四季", "count": 4}, locale="zh-CN", timeout=30)
        first = result_message(series)["content"]
        assert "4 张中有 1 张被内容审核拒绝，未计费。" in first, first
        assert "你的剩余额度：今日 17 张，本月 $4.895。" in first, first
        w.gateway.script(Fault.missing_file())
        lost = await w.run("imagine", {"prompt": "一只狗", "count": 2}, locale="zh-CN", timeout=30)
        text = result_message(lost)["content"]
        assert "有 1 张图片无法从图片服务下载或已损坏，未向你计费。" in text, text
        assert "费用 $0.07（向你计费 $0.035）" in text, text
        assert "你的剩余额度：今日 16 张，本月 $4.86。" in text, text
        usage = await w.run("usage", locale="zh-CN")
        assert is_ephemeral(usage)
        shown = usage.all_text()
        assert "今日图片：4 / 20" in shown and "本月花费：$0.14 / $5.00" in shown, shown


async def test_a_member_without_limits_of_their_own_is_told_what_the_servers_budget_has_left(tmp_path):
    # "Left for you: no limits" read as no limit at all while the server's budget was nearly gone.
    async with world(tmp_path, guild_monthly_budget_usd="1") as w:  # $0.162 an image
        made = await w.run("imagine", {"prompt": "a lantern", "count": 2})
        assert "Left for you: no limits. The server's budget has $0.676 left this month." in made.all_text()
    # A limit of the member's own is told; the budget too when it is what stops them first.
    async with world(tmp_path / "own", default_monthly_usd="0.5", guild_monthly_budget_usd="1") as w:
        made = await w.run("imagine", {"prompt": "a lantern"}, locale="zh-CN")
        assert made.all_text().splitlines()[-1] == "你的剩余额度：本月 $0.338。", made.all_text()
    async with world(tmp_path / "budget", default_monthly_usd="5", guild_monthly_budget_usd="1") as w:
        made = await w.run("imagine", {"prompt": "a lantern"}, locale="zh-CN")
        assert made.all_text().splitlines()[-1] == "你的剩余额度：本月 $4.838。服务器本月预算剩余 $0.838。"
