"""Approval mode within Discord's limits: a review message never carries more than one request may
(25 MiB of files, 2000 characters), and a refusal at approval time reaches the review, the moderator
and the member even when Discord will not take one of those messages."""

from __future__ import annotations

import base64
import io
import random

from PIL import Image

from tests.doubles.discord_double.messages import MAX_CONTENT, MAX_REQUEST_FILES
from tests.e2e.harness import world
from tests.e2e.staff import EPHEMERAL, eventually
from tests.e2e.test_approval import (
    approval_world,
    button,
    channel_files,
    channel_text,
    lower_daily_limit,
    review_message,
    submit,
)


def noisy_png(seed: int) -> bytes:
    """A PNG of about 9 MB: under the 10 MiB upload limit and the 10 MB reference limit."""
    rng = random.Random(seed)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (2048, 1536), rng.randbytes(2048 * 1536 * 3)).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def private_text(pressed) -> str:
    """What the moderator who pressed was told privately."""
    return "\n".join(m["content"] for m in pressed.messages if (m.get("flags") or 0) & EPHEMERAL)


async def test_reference_images_over_one_request_are_attached_as_far_as_they_fit_and_all_used(tmp_path):
    pngs = [noisy_png(seed) for seed in range(4)]
    assert all(len(png) < 10_000_000 for png in pngs) and sum(map(len, pngs)) > MAX_REQUEST_FILES
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        attachments = [(f"ref{i}.png", png, "image/png") for i, png in enumerate(pngs)]
        inter = await w.run("edit", {"prompt": "combine these"}, attachments=attachments, timeout=60)
        assert "sent to the moderators" in inter.all_text()
        assert w.discord.limit_rejections == []
        message = review_message(w, staff)
        shown = [w.discord.attachment_bytes(a) for a in message["attachments"]]
        assert shown == pngs[:2]
        assert "Reference images: 4, the first 2 attached below" in message["content"]
        # the other two linked: moderators see every image they approve
        assert "[ref2.png](http" in message["content"] and "[ref3.png](http" in message["content"], message["content"]

        pressed = await w.discord.click_button(message, button(message, "approve"), user=staff.moderator)
        await eventually(lambda: len(channel_files(w)) == 1 and "cost" in channel_text(w), timeout=60)
        await pressed.wait_for_final()
        sent = w.gateway.generation_requests[-1].json["image"]
        assert [base64.b64decode(uri.split(",", 1)[1]) for uri in sent] == pngs  # all four, in order


PROMPT = ("a quiet harbour at dawn, fishing boats, gulls, mist over the water, warm light " * 20)[:1300]


async def test_a_refusal_at_approval_too_long_to_append_is_cut_and_told_to_all(tmp_path):
    # The wrong-channel refusal names every allowed channel: with forty of them it is longer than
    # what is left of the review message's 2000 characters.
    async with world(tmp_path, start=False) as w:
        studios = [w.discord.add_channel(w.guild, f"studio-{i}") for i in range(40)]
        staff = await approval_world(w)
        for channel in [w.channel, *studios]:
            await w.bot.storage.guild_config.add_channel(w.guild.id, channel.id)
        await submit(w, PROMPT, count=1)
        await w.bot.storage.guild_config.remove_channel(w.guild.id, w.channel.id)  # no longer allowed there

        message = review_message(w, staff)
        pressed = await w.discord.click_button(message, button(message, "approve"), user=staff.moderator)
        await pressed.wait_for_final(timeout=15)
        await eventually(lambda: "could not run" in channel_text(w))
        assert w.discord.limit_rejections == []
        review = review_message(w, staff)["content"]
        assert len(review) <= MAX_CONTENT
        assert review.startswith(message["content"])  # the review text whole, the decision under it
        assert f"Approved by <@{staff.moderator.id}>, but it could not run: Image commands work only in" in review
        assert review.endswith("…")
        assert f"<#{studios[0].id}>" in private_text(pressed)
        assert "Something went wrong" not in pressed.all_text()
        [told] = [m["content"] for m in w.discord.channel_messages(w.channel) if "could not run" in m["content"]]
        assert told.startswith(f"<@{w.alice.id}>") and len(told) <= MAX_CONTENT


async def test_a_review_message_discord_will_not_edit_still_leaves_moderator_and_member_told(tmp_path):
    async with world(tmp_path, start=False, default_daily_images=2) as w:
        staff = await approval_world(w)
        await submit(w, "two foxes", count=2)
        await lower_daily_limit(w, staff, 1)
        message = review_message(w, staff)
        # Deleted by another moderator as the request fails: the review cannot say so any more.
        w.discord.fail_next(1, status=404, method="PATCH", path=r"/messages/@original$",
                            body={"message": "Unknown Message", "code": 10008})  # fmt: skip
        pressed = await w.discord.click_button(message, button(message, "approve"), user=staff.moderator)
        await pressed.wait_for_final()
        await eventually(lambda: "could not run" in channel_text(w))
        assert "daily limit of 1" in private_text(pressed)
        assert "Something went wrong" not in pressed.all_text()
        assert "daily limit of 1" in channel_text(w)
        assert w.gateway.generation_requests == []
