"""The moderators' review message shows every reference image they approve."""

from __future__ import annotations

from cogs.approval import _attachable, review_text
from image_gateway.catalog import SEEDREAM_4_0
from pipeline.job import ImageJob, Reference

NINE_MB = 9 * 1024 * 1024


def test_references_past_what_one_message_takes_are_linked_for_the_moderators() -> None:
    # A member could put a harmless image first and hide others past Discord's 25 MiB a message.
    refs = [
        Reference(f"ref{i}.png", f"https://cdn.discordapp.com/attachments/1/{i}/ref{i}.png", bytes(NINE_MB), "png")
        for i in range(3)
    ]
    job = ImageJob(command="edit", guild_id=1, channel_id=2, user_id=3, locale="en", prompt="combine",
                   model=SEEDREAM_4_0, references=refs)  # fmt: skip
    attached = _attachable(job, 10 * 1024 * 1024)
    assert attached == 2  # two 9 MiB files fit in 24 MiB, the third does not
    text, _ = review_text(7, job, attached=attached, locale="en")
    assert f"[ref2.png]({refs[2].url})" in text and refs[0].url not in text, text
    zh, _ = review_text(7, job, attached=attached, locale="zh-CN")
    assert refs[2].url in zh
