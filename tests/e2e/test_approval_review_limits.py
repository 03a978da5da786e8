"""The approval review message with a long prompt and 4 reference images whose names are
long (zh-CN), where two of the four do not fit in the message and are linked."""

from __future__ import annotations

from tests.e2e.harness import world
from tests.e2e.test_approval import approval_world, review_message
from tests.e2e.test_approval_limits import noisy_png
from tests.e2e.test_discord_limits import LONG_ZH
from tests.e2e.test_discord_limits_everywhere import extra_problems


async def test_review_message_with_four_long_named_references_is_posted(tmp_path):
    pngs = [noisy_png(seed) for seed in range(4)]
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        # a name as a phone or a browser saves it: Chinese words, 80 characters
        name = "春天的樱花树下的小猫参考图" * 6
        attachments = [(f"{i}-{name}.png", png, "image/png") for i, png in enumerate(pngs)]
        inter = await w.run("edit", {"prompt": LONG_ZH}, attachments=attachments, timeout=60, locale="zh-CN")
        rejected = list(w.discord.limit_rejections)
        problems = extra_problems(w.discord)
        w.discord.limit_rejections.clear()  # reported below, not by the harness
        assert rejected == [] and problems == [], (rejected, problems, inter.all_text()[:300])
        message = review_message(w, staff)
        assert len(message["content"]) <= 2000
        # the two images past the message's 25 MiB are linked in an embed: moderators see all four
        assert len(message["attachments"]) == 2
        links = message["embeds"][-1]["description"]
        assert links.count("](http") == 2 and links.startswith("[3. "), links


async def test_review_message_short_prompt_long_english_names(tmp_path):
    pngs = [noisy_png(seed) for seed in range(4)]
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        # under Discord's filename limit; underscores (doubled by the markdown escaping)
        attachments = [(f"{i}_" + "my_final_render_v2_" * 10 + ".png", png, "image/png") for i, png in enumerate(pngs)]
        inter = await w.run("edit", {"prompt": "combine these"}, attachments=attachments, timeout=60)
        rejected = list(w.discord.limit_rejections)
        w.discord.limit_rejections.clear()
        assert rejected == [], (rejected, inter.all_text()[:300])
        review_message(w, staff)
