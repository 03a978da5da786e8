"""Upscale of a result of several images in a channel where the bot cannot read message history.

Real Discord answers GET /channels/{id}/messages with an empty list when the bot lacks Read Message
History (the double does not encode that permission: a fault answers 200 [] instead). A choice in
Upscale's private menu finds its image through that history, so without it no menu is offered: the
press upscales the first image, which it sees on the result itself. It used to offer the menu, then
draw the prompt again, unrelated to the image chosen, and charge for it.
"""

from __future__ import annotations

from tests.e2e.harness import world
from tests.e2e.test_result_buttons import _reference_bytes, press, result_message

NO_HISTORY = {"status": 200, "method": "GET", "path": r"^/channels/\d+/messages$", "body": []}


async def test_without_history_upscale_takes_the_first_image_and_offers_no_menu_it_could_not_keep(tmp_path):
    async with world(tmp_path) as w:
        first = await w.run("imagine", {"prompt": "a tiny robot", "count": 3})
        request_id = (await w.ledger_rows())[0]["id"]
        posted = dict(sorted(first.files()))
        w.discord.fail_next(1000, **NO_HISTORY)  # no Read Message History in this channel
        upscaled = await press(w, result_message(first), "upscale", request_id)

        menus = [c for m in upscaled.messages for row in m.get("components") or [] for c in row["components"]
                 if c["type"] == 3]  # fmt: skip
        assert menus == []
        assert len(upscaled.files()) == 1, upscaled.all_text()
        assert _reference_bytes(w.gateway.generation_requests[-1].json) == posted[f"seedream-{request_id}-1.jpeg"]
        assert [r["command"] for r in await w.ledger_rows()] == ["imagine", "upscale-image"]
