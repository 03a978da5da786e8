"""A content filter refusal is the member's business, and what moderation stopped is not
republished in the member's channel."""

from __future__ import annotations

from tests.doubles.image_gateway_double import Fault
from tests.e2e.harness import world
from tests.e2e.staff import eventually
from tests.e2e.test_approval import approval_world, button, channel_text, review_message


async def test_an_approved_series_the_content_filter_refuses_whole_does_not_publish_the_prompt(tmp_path):
    # Approval mode: alice asks /series "three postcards of a fox" (count 3), a
    # moderator approves, and the content filter refuses all three images (SEEDREAM-API.md: an
    # OutputImageSensitiveContentDetected item each). There is no private reply after an approval;
    # checked: the member's channel reads "<@alice> The content filter refused this request..."
    # without the refused prompt.
    async with world(tmp_path, start=False, flavour="aiearth") as w:
        staff = await approval_world(w)
        inter = await w.run("series", {"prompt": "three postcards of a fox", "count": 3})
        assert "sent to the moderators" in inter.all_text(), inter.all_text()
        w.gateway.script(Fault.partial(failed=(0, 1, 2)))
        message = review_message(w, staff)
        pressed = await w.discord.click_button(message, button(message, "approve"), user=staff.moderator)
        await pressed.wait_for_final()
        await eventually(lambda: "content filter" in channel_text(w), timeout=20)
        text = channel_text(w)
        assert "three postcards" not in text, text
