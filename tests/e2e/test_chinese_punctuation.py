"""What a Chinese-speaking member reads about cost and quota is punctuated like the rest of the
Chinese text (full-width "：", "，", "；", "（"). The summary under a result, /usage and the quota
refusals used to mix in ASCII punctuation: "你的剩余额度:不限。" next to /spend's "总花费：$0.324".
"""

from __future__ import annotations

import re

from tests.doubles.image_gateway_double import Fault
from tests.e2e.test_admin_quotas import quota, server

HAN = r"[\u4e00-\u9fff]"
# ASCII punctuation touching a Chinese character (not "$0.162", "<t:...:R>", "2048x2048" or "2–4").
HALF_WIDTH = re.compile(rf"{HAN}[:;,(]|[:;,)]\s*{HAN}|{HAN}\s*\)")


def half_width_spots(text: str) -> list[str]:
    return [text[max(m.start() - 6, 0) : m.end() + 6] for m in HALF_WIDTH.finditer(text)]


async def test_chinese_money_lines_use_full_width_punctuation_like_the_rest_of_the_catalogue(tmp_path):
    async with server(tmp_path, image_max_retries=0) as w:
        await w.start_bot()
        await quota(w, "set", {"member": w.alice, "daily_images": 3, "monthly_usd": "5"})
        w.gateway.script(Fault.partial(failed=(1,)))  # one of two refused by the content filter
        result = await w.run("imagine", {"prompt": "一只猫", "count": 2}, locale="zh-CN")
        usage = await w.run("usage", {}, locale="zh-CN")
        refused = await w.run("imagine", {"prompt": "两只猫", "count": 4}, locale="zh-CN")
        spend = await w.run("spend", {}, user=w.admin, locale="zh-CN", timeout=30)

        # The catalogue's own convention, as /spend shows it (passes today).
        assert half_width_spots(spend.all_text()) == [], spend.all_text()
        seen = {
            "the summary under the result": result.all_text(),
            "/usage": usage.all_text(),
            "the quota refusal": refused.all_text(),
        }
        assert "你的剩余额度" in seen["the summary under the result"]
        assert "今日图片" in seen["/usage"] and "每日 3 张图片的上限" in seen["the quota refusal"]
        spots = {where: half_width_spots(text) for where, text in seen.items()}
        assert all(not found for found in spots.values()), (
            "A zh-CN member expects the money and quota lines punctuated like the rest of the Chinese "
            f"text (full-width ：，；（）), as /spend is; found ASCII punctuation in: {spots}"
        )
