"""Every result image carries alt text (Discord's attachment description): the member's prompt, on
one line, cut to Discord's 1,024 characters. A screen reader says it; the preview shows it."""

from __future__ import annotations

from tests.e2e.harness import world
from tests.e2e.staff import eventually
from tests.e2e.test_approval import approval_world, channel_files
from tests.e2e.test_approval_queue import approve, ask


def descriptions(message: dict) -> list[str | None]:
    return [a.get("description") for a in message.get("attachments", [])]


async def test_each_image_of_a_request_says_the_prompt_on_one_line(tmp_path):
    async with world(tmp_path) as w:
        inter = await w.run("imagine", {"prompt": "a lighthouse\n\nat  dusk, **oil**", "count": 2})
        [result] = [m for m in inter.messages if m.get("attachments")]
        assert descriptions(result) == ["a lighthouse at dusk, **oil**"] * 2


async def test_a_prompt_longer_than_discord_allows_is_cut_and_the_images_still_arrive(tmp_path):
    # 2,000 characters (the bot's own limit); Discord refuses a description over 1,024 with a 400,
    # which would lose the member's images (the double checks requests against Discord's spec).
    prompt = "a very detailed harbour scene " * 66 + "end"
    async with world(tmp_path) as w:
        inter = await w.run("imagine", {"prompt": prompt[:2000]})
        [result] = [m for m in inter.messages if m.get("attachments")]
        [alt] = descriptions(result)
        assert len(alt) == 1024 and alt.endswith("…") and alt.startswith("a very detailed harbour scene")


async def test_a_series_and_an_approved_request_in_the_channel_carry_it_too(tmp_path):
    async with world(tmp_path) as w:
        inter = await w.run("series", {"prompt": "12 frames of a kite", "count": 12}, timeout=30)
        posts = [m for m in inter.messages if m.get("attachments")]
        assert [d for m in posts for d in descriptions(m)] == ["12 frames of a kite"] * 12

    async with world(tmp_path / "approved", start=False) as w:
        staff = await approval_world(w)
        await ask(w, w.alice, "一只在雪地里的狐狸")
        await approve(w, staff, "一只在雪地里的狐狸")
        await eventually(lambda: len(channel_files(w)) == 1)
        assert [a.get("description") for a in channel_files(w)] == ["一只在雪地里的狐狸"]
