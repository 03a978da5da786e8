"""The buttons under a result, end to end: Re-roll, Variation, Upscale, Delete."""

from __future__ import annotations

from tests.e2e.harness import make_settings, world

EPHEMERAL = 1 << 6
MANAGE_MESSAGES = 1 << 13


def result_message(inter) -> dict:
    """The message that carries the buttons (the summary of a delivered result)."""
    with_buttons = [m for m in inter.messages if m.get("components")]
    assert len(with_buttons) == 1, inter.messages
    return with_buttons[0]


def custom_ids(message: dict) -> list[str]:
    return [c["custom_id"] for row in message["components"] for c in row["components"]]


def is_ephemeral(inter) -> bool:
    return bool(inter.callback_data and inter.callback_data.get("flags", 0) & EPHEMERAL)


async def press(w, message, action, request_id, *, user=None, locale="en-US"):
    inter = await w.discord.click_button(
        message, f"sd:{action}:{request_id}", user=user or w.alice, locale=locale
    )
    await inter.wait_for_final(timeout=15, quiet=0.3)
    return inter


async def test_every_result_has_the_four_buttons_carrying_its_request_id(tmp_path):
    async with world(tmp_path) as w:
        inter = await w.run("imagine", {"prompt": "a red fox in snow", "count": 2})
        request_id = (await w.ledger_rows())[0]["id"]
        message = result_message(inter)
        assert len(message["attachments"]) == 2
        assert custom_ids(message) == [f"sd:{a}:{request_id}" for a in ("reroll", "variation", "upscale", "delete")]
        labels = [c["label"] for row in message["components"] for c in row["components"]]
        assert labels == ["Re-roll", "Variation", "Upscale", "Delete"]


async def test_reroll_after_a_restart_is_a_new_request_with_the_same_prompt(tmp_path):
    async with world(tmp_path) as w:
        first = await w.run("imagine", {"prompt": "a lighthouse at dusk", "count": 2, "size": "2K"})
        original = (await w.ledger_rows())[0]
        message = result_message(first)
        await w.restart_bot()
        reroll = await press(w, message, "reroll", original["id"])
        assert len(reroll.files()) == 2, reroll.all_text()
        rows = await w.ledger_rows()
        assert [r["command"] for r in rows] == ["imagine", "reroll"]
        again = rows[1]
        assert (again["prompt"], again["model"], again["size"], again["images_requested"]) == (
            original["prompt"], original["model"], original["size"], original["images_requested"],
        )
        assert again["status"] == "settled" and again["images_delivered"] == 2
        body = w.gateway.generation_requests[-1].json
        assert body["prompt"] == "a lighthouse at dusk"
        # the new result has its own buttons, pointing at the new request
        assert f"sd:reroll:{again['id']}" in custom_ids(result_message(reroll))


async def test_someone_else_is_told_privately_and_nothing_is_spent(tmp_path):
    async with world(tmp_path) as w:
        first = await w.run("imagine", {"prompt": "a paper boat"})
        request_id = (await w.ledger_rows())[0]["id"]
        message = result_message(first)
        calls = len(w.gateway.generation_requests)
        for action in ("reroll", "variation", "upscale", "delete"):
            inter = await press(w, message, action, request_id, user=w.bob)
            assert is_ephemeral(inter), action
            assert "Only the member who asked for this image" in inter.all_text(), action
        assert len(w.gateway.generation_requests) == calls
        assert len(await w.ledger_rows()) == 1
        assert not w.discord.messages[int(message["id"])].deleted


async def test_a_press_goes_through_the_member_quota(tmp_path):
    async with world(tmp_path, default_daily_images=3) as w:
        first = await w.run("imagine", {"prompt": "a kite", "count": 2})
        request_id = (await w.ledger_rows())[0]["id"]
        refused = await press(w, result_message(first), "reroll", request_id)  # 2 more would make 4
        assert is_ephemeral(refused)
        assert "daily limit of 3" in refused.all_text()
        assert refused.files() == []
        assert [r["status"] for r in await w.ledger_rows()] == ["settled", "refused"]


async def test_upscale_regenerates_the_prompt_at_the_largest_size(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        first = await w.run("imagine", {"prompt": "a tiny robot", "count": 3})
        request_id = (await w.ledger_rows())[0]["id"]
        largest = w.bot.resolve_model((await w.ledger_rows())[0]["model"]).largest_size
        inter = await press(w, result_message(first), "upscale", request_id)
        assert len(inter.files()) == 1
        body = w.gateway.generation_requests[-1].json
        assert body["prompt"] == "a tiny robot"
        assert body["size"] == largest
        row = (await w.ledger_rows())[-1]
        assert (row["command"], row["size"], row["images_requested"]) == ("upscale", largest, 1)


async def test_variation_asks_for_the_prompt_then_edits_the_result_image(tmp_path):
    async with world(tmp_path) as w:
        first = await w.run("imagine", {"prompt": "a castle on a hill"})
        request_id = (await w.ledger_rows())[0]["id"]
        opened = await press(w, result_message(first), "variation", request_id)
        modal = opened.modal
        assert modal is not None, opened.kinds()
        assert "castle on a hill" in str(modal["components"])
        submitted = await w.discord.submit_modal(
            modal["custom_id"], {_text_input_id(modal): "a castle on a hill at night"},
            user=w.alice, from_interaction=opened,
        )  # fmt: skip
        await submitted.wait_for_final(timeout=15)
        assert len(submitted.files()) == 1, submitted.all_text()
        body = w.gateway.generation_requests[-1].json
        assert body["prompt"] == "a castle on a hill at night"
        assert body.get("image"), "the result image goes to the gateway as the reference"
        row = (await w.ledger_rows())[-1]
        assert (row["command"], row["prompt"]) == ("variation", "a castle on a hill at night")


def _text_input_id(modal: dict) -> str:
    stack = list(modal["components"])
    while stack:
        comp = stack.pop()
        if comp.get("type") == 4:
            return comp["custom_id"]
        stack.extend(comp.get("components") or [])
        if isinstance(comp.get("component"), dict):
            stack.append(comp["component"])
    raise AssertionError(f"no text input in {modal}")


async def test_delete_by_the_requester_removes_the_result(tmp_path):
    async with world(tmp_path) as w:
        first = await w.run("imagine", {"prompt": "a sunflower"})
        request_id = (await w.ledger_rows())[0]["id"]
        message = result_message(first)
        inter = await press(w, message, "delete", request_id)
        assert w.discord.messages[int(message["id"])].deleted
        assert is_ephemeral(inter) and "Deleted" in inter.all_text()


async def test_a_moderator_may_delete_someone_elses_result(tmp_path):
    async with world(tmp_path) as w:
        mods = w.discord.add_role(w.guild, "mods", MANAGE_MESSAGES)
        w.discord.add_member(w.guild, w.bob, roles=[mods])
        first = await w.run("imagine", {"prompt": "a sunflower"})
        request_id = (await w.ledger_rows())[0]["id"]
        message = result_message(first)
        await press(w, message, "delete", request_id, user=w.bob)
        assert w.discord.messages[int(message["id"])].deleted


async def test_a_press_on_a_request_that_is_gone_says_so(tmp_path):
    async with world(tmp_path) as w:
        first = await w.run("imagine", {"prompt": "a red balloon"})
        request_id = (await w.ledger_rows())[0]["id"]
        message = result_message(first)
        # the operator starts the bot on a new, empty database
        w.settings = make_settings(tmp_path / "fresh", w.discord, w.gateway)
        await w.restart_bot()
        for action in ("reroll", "upscale", "variation", "delete"):
            inter = await press(w, message, action, request_id)
            assert is_ephemeral(inter), action
            assert "no longer in the bot's records" in inter.all_text(), action
        assert await w.ledger_rows() == []
        assert not w.discord.messages[int(message["id"])].deleted
