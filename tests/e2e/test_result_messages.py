"""A request's results over several messages: the first carries the prompt, the next ones say which
images they hold ("Images 11–15 of 15: …"), through the interaction and in the channel (approved)."""

from __future__ import annotations

from tests.e2e.harness import world
from tests.e2e.staff import eventually
from tests.e2e.test_approval import approval_world, channel_text
from tests.e2e.test_approval_queue import approve, ask


async def test_the_second_message_of_a_series_says_which_images_it_holds(tmp_path):
    async with world(tmp_path) as w:
        inter = await w.run("series", {"prompt": "15 frames of a bouncing ball", "count": 15}, timeout=30)
        [first, second] = [m for m in inter.messages if m.get("attachments")]
        assert first["content"].startswith("**15 frames of a bouncing ball**")
        assert second["content"] == "Images 11–15 of 15: **15 frames of a bouncing ball**"


async def test_an_approved_series_posted_in_the_channel_numbers_its_second_message_in_chinese(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await ask(w, w.alice, "一只猫的日常", command="series", count=12, locale="zh-CN")
        await approve(w, staff, "一只猫的日常")
        await eventually(lambda: "费用" in channel_text(w))
        posts = [m["content"] for m in w.discord.channel_messages(w.channel) if m.get("attachments")]
        assert posts == [f"<@{w.alice.id}> **一只猫的日常**\n第 1–10 张（共 12 张）",
                         f"<@{w.alice.id}> **一只猫的日常** 的第 11–12 张（共 12 张）"]  # fmt: skip


async def test_a_prompts_markdown_is_shown_as_typed_not_rendered_by_the_bot(tmp_path):
    # A masked link, a spoiler, a strikethrough, and a backslash at the end that would break the bold.
    prompt = "a fox ||hidden|| ~~struck~~ [free nitro](https://example.com/x) \\"
    async with world(tmp_path) as w:
        inter = await w.run("imagine", {"prompt": prompt})
        header = inter.all_text().splitlines()[0]
        assert header == (
            "**a fox \\|\\|hidden\\|\\| \\~\\~struck\\~\\~ \\[free nitro\\](<https://example.com/x>) \\\\**"
        )
        assert w.gateway.generation_requests[0].json["prompt"] == prompt  # the gateway gets it as typed
