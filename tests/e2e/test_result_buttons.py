"""The buttons under a result, end to end: Re-roll, Variation, Upscale, Delete."""

from __future__ import annotations

import asyncio
import base64

from tests.e2e.harness import make_settings, world
from tests.e2e.staff import eventually
from tests.e2e.test_approval import approval_world
from tests.e2e.test_approval_queue import approve, ask
from tests.e2e.test_edit import image_bytes

EPHEMERAL = 1 << 6
MANAGE_MESSAGES = 1 << 13


def result_message(inter) -> dict:
    """The message that carries the buttons (the summary of a delivered result)."""
    with_buttons = [m for m in inter.messages if m.get("components")]
    assert len(with_buttons) == 1, inter.messages
    return with_buttons[0]


def custom_ids(message: dict) -> list[str]:
    return [c["custom_id"] for row in message["components"] for c in row["components"]]


def posted_with_re_roll(w, message: dict, request_id: int) -> dict:
    """A result of images as an earlier version posted it, with a Re-roll button: such a result
    gets none now, and a press of an old one is told why."""
    payload = w.discord.messages[int(message["id"])].payload
    assert f"sd:reroll:{request_id}" not in custom_ids(payload)
    payload["components"][0]["components"].insert(
        0, {"type": 2, "style": 1, "label": "Re-roll", "custom_id": f"sd:reroll:{request_id}"}
    )
    return payload


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


async def test_upscale_regenerates_the_result_image_at_the_largest_size(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        first = await w.run("imagine", {"prompt": "a tiny robot"})
        request_id = (await w.ledger_rows())[0]["id"]
        largest = w.bot.resolve_model((await w.ledger_rows())[0]["model"]).largest_size
        inter = await press(w, result_message(first), "upscale", request_id)
        assert len(inter.files()) == 1
        body = w.gateway.generation_requests[-1].json
        assert body["prompt"] == "a tiny robot"
        assert body["size"] == largest
        # The same image: the result is the reference, as posted to Discord.
        [(_name, posted)] = first.files()
        assert _reference_bytes(body) == posted
        row = (await w.ledger_rows())[-1]
        assert (row["command"], row["size"], row["images_requested"]) == ("upscale-image", largest, 1)

        # An /edit result can be upscaled too (the image is on its message; nothing else is needed).
        edited = await w.run("edit", {"prompt": "in red"}, attachments=[("robot.png", posted, "image/png")])
        edit_id = (await w.ledger_rows())[-1]["id"]
        again = await press(w, result_message(edited), "upscale", edit_id)
        assert len(again.files()) == 1, again.all_text()
        body = w.gateway.generation_requests[-1].json
        assert (body["prompt"], body["size"]) == ("in red", largest)
        assert _reference_bytes(body) == edited.files()[0][1]

        # That upscale was made from an image the bot does not keep: Re-roll cannot repeat it.
        upscale_id = (await w.ledger_rows())[-1]["id"]
        sent = len(w.gateway.generation_requests)
        refused = await press(w, posted_with_re_roll(w, result_message(again), upscale_id), "reroll", upscale_id)
        assert "made from reference images" in refused.all_text() and is_ephemeral(refused)
        assert len(w.gateway.generation_requests) == sent


async def pick(w, message, request_id, value, *, user=None, locale="en-US"):
    inter = await w.discord.click_button(
        message, f"sd:upscale-pick:{request_id}", user=user or w.alice, locale=locale, component_type=3,
        values=[str(value)],
    )  # fmt: skip
    await inter.wait_for_final(timeout=15, quiet=0.3)
    return inter


async def test_upscale_of_a_result_of_several_images_asks_which_one_and_makes_that_one(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        first = await w.run("imagine", {"prompt": "a tiny robot", "count": 3})
        request_id = (await w.ledger_rows())[0]["id"]
        calls = len(w.gateway.generation_requests)
        asked = await press(w, result_message(first), "upscale", request_id, locale="zh-CN")
        # Privately, in the member's language, and nothing is made or spent yet.
        assert is_ephemeral(asked) and "要放大哪一张图片" in asked.all_text()
        [menu] = [c for row in asked.messages[-1]["components"] for c in row["components"]]
        assert menu["type"] == 3 and menu["custom_id"] == f"sd:upscale-pick:{request_id}"
        options = [(o["label"], o["value"]) for o in menu["options"]]
        assert options == [("第 1 张", "1"), ("第 2 张", "2"), ("第 3 张", "3")]
        assert len(w.gateway.generation_requests) == calls and len(await w.ledger_rows()) == 1

        await w.restart_bot()  # the menu answers by its custom_id, like the buttons
        chosen = await pick(w, asked.messages[-1], request_id, 2)
        assert len(chosen.files()) == 1, chosen.all_text()
        body = w.gateway.generation_requests[-1].json
        largest = w.bot.resolve_model((await w.ledger_rows())[0]["model"]).largest_size
        assert (body["prompt"], body["size"]) == ("a tiny robot", largest)
        assert _reference_bytes(body) == first.files()[1][1]  # image 2, not the first
        rows = await w.ledger_rows()
        assert [(r["command"], r["images_requested"], r["status"]) for r in rows] == [
            ("imagine", 3, "settled"), ("upscale-image", 1, "settled"),
        ]

        # Someone else's choice, or a number the result does not have, spends nothing.
        other = await pick(w, asked.messages[-1], request_id, 1, user=w.bob)
        assert is_ephemeral(other) and "Only the member who asked for this image" in other.all_text()
        wrong = await pick(w, asked.messages[-1], request_id, 7)
        assert is_ephemeral(wrong) and "This result has images 1 to 3" in wrong.all_text()
        assert len(await w.ledger_rows()) == 2


async def test_upscale_of_an_image_too_big_to_be_a_reference_regenerates_the_prompt(tmp_path):
    # A boosted server keeps results over the 10 MB a reference may have: Upscale still works.
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        first = await w.run("imagine", {"prompt": "a tiny robot"})
        request_id = (await w.ledger_rows())[0]["id"]
        message = result_message(first)
        record = w.discord.messages[int(message["id"])]
        record.payload["attachments"][0]["size"] = 40 * 1024 * 1024  # as Discord would report it
        inter = await press(w, record.payload, "upscale", request_id)
        assert len(inter.files()) == 1, inter.all_text()
        body = w.gateway.generation_requests[-1].json
        assert (body["prompt"], "image" in body) == ("a tiny robot", False)
        # Made from the prompt alone, it can be re-rolled.
        upscaled = (await w.ledger_rows())[-1]
        again = await press(w, result_message(inter), "reroll", upscaled["id"])
        assert len(again.files()) == 1, again.all_text()


async def test_upscale_of_an_image_already_at_the_largest_size_is_refused_without_a_charge(tmp_path):
    # The gateway renders at full size here: a 4K result is as large as Seedream makes them.
    async with world(tmp_path, flavour="gogogotoken-com", gateway={"image_size": (4096, 4096)}) as w:
        first = await w.run("imagine", {"prompt": "a tiny robot", "size": "4K"})
        request_id = (await w.ledger_rows())[0]["id"]
        sent = len(w.gateway.generation_requests)
        inter = await press(w, result_message(first), "upscale", request_id)
        assert "already as large as Seedream 4.0 makes them" in inter.all_text() and is_ephemeral(inter)
        assert len(w.gateway.generation_requests) == sent
        assert [r["status"] for r in await w.ledger_rows()] == ["settled"]

        # Its image too large to be a reference, the prompt alone at the size it was made is refused too.
        record = w.discord.messages[int(result_message(first)["id"])]
        record.payload["attachments"][0]["size"] = 40 * 1024 * 1024
        again = await press(w, record.payload, "upscale", request_id, locale="zh-CN")
        assert "最大尺寸" in again.all_text() and is_ephemeral(again)
        assert len(w.gateway.generation_requests) == sent


async def test_upscale_of_a_model_that_takes_no_image_uses_one_that_does(tmp_path):
    # Seedream 3.0 takes no image: its result is upscaled from its image by the gateway's first
    # model that takes one, at that model's largest size (not drawn again from the prompt).
    async with world(tmp_path, flavour="aiearth") as w:
        first = await w.run("imagine", {"prompt": "a tiny robot", "model": "doubao-seedream-3-0-t2i-250415"})
        request_id = (await w.ledger_rows())[0]["id"]
        inter = await press(w, result_message(first), "upscale", request_id)
        assert len(inter.files()) == 1, inter.all_text()
        body = w.gateway.generation_requests[-1].json
        upscaler = w.bot.resolve_model(body["model"])
        assert upscaler.max_references and body["size"] == upscaler.largest_size != "2048x2048"
        assert (body["prompt"], _reference_bytes(body)) == ("a tiny robot", first.files()[0][1])


async def test_upscale_of_a_gpt_image_result_goes_to_a_model_that_takes_the_image(tmp_path):
    # GPT Image takes no image on this gateway and its largest size is its default's pixels: the
    # result is upscaled from its image by a model that takes one and makes larger images.
    async with world(tmp_path, flavour="xmsmartlink") as w:
        first = await w.run("imagine", {"prompt": "a tower", "model": "gpt-image-1.5", "size": "1024x1536"})
        request_id = (await w.ledger_rows())[0]["id"]
        inter = await press(w, result_message(first), "upscale", request_id)
        assert len(inter.files()) == 1, inter.all_text()
        body = w.gateway.generation_requests[-1].json
        upscaler = w.bot.resolve_model(body["model"])
        assert upscaler.id != "gpt-image-1.5" and body["size"] == upscaler.largest_size
        assert _reference_bytes(body) == first.files()[0][1]
        assert upscaler.label in inter.all_text()  # the summary names the model that made it


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


def text_input(modal: dict) -> dict:
    """The modal's first text input (the prompt), in the order the member sees them."""
    stack = list(modal["components"])
    while stack:
        comp = stack.pop(0)
        if comp.get("type") == 4:
            return comp
        stack.extend(comp.get("components") or [])
        if isinstance(comp.get("component"), dict):
            stack.append(comp["component"])
    raise AssertionError(f"no text input in {modal}")


def _text_input_id(modal: dict) -> str:
    return text_input(modal)["custom_id"]


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
        other = w.discord.add_guild("Other Server")
        w.discord.add_member(other, w.alice)
        other_channel = w.discord.add_channel(other, "art")
        w.settings = make_settings(tmp_path / "fresh", w.discord, w.gateway)
        await w.restart_bot()
        # ... and alice's first request in another server takes the same id there.
        elsewhere = await w.discord.invoke_command("imagine", {"prompt": "a blue kite"}, user=w.alice, guild=other,
                                                   channel=other_channel)  # fmt: skip
        await elsewhere.wait_for_final(timeout=15)
        assert [r["id"] for r in await w.ledger_rows()] == [request_id]
        for action in ("reroll", "upscale", "variation", "delete"):
            inter = await press(w, message, action, request_id)
            assert is_ephemeral(inter), action
            assert "no longer in the bot's records" in inter.all_text(), action
        assert len(await w.ledger_rows()) == 1  # nothing ran again
        assert not w.discord.messages[int(message["id"])].deleted


def _reference_bytes(body: dict) -> bytes:
    images = body["image"]
    [uri] = [images] if isinstance(images, str) else images
    return base64.b64decode(uri.split(",", 1)[1])


async def _vary(w, message, request_id, prompt: str):
    """Press Variation on `message`, then submit the form with `prompt`."""
    opened = await press(w, message, "variation", request_id)
    assert opened.modal is not None, opened.all_text()
    submitted = await w.discord.submit_modal(
        opened.modal["custom_id"], {_text_input_id(opened.modal): prompt}, user=w.alice, from_interaction=opened
    )
    return await submitted.wait_for_final(timeout=15)


async def test_variation_of_an_approved_result_edits_the_image_posted_with_the_buttons(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await ask(w, w.alice, "a blue heron")
        await approve(w, staff, "a blue heron")
        await eventually(lambda: any(m.get("components") for m in w.discord.channel_messages(w.channel)))
        [result] = [m for m in w.discord.channel_messages(w.channel) if m.get("components")]
        [image] = result["attachments"]  # one message: the image, the summary and the buttons
        assert "a blue heron" in result["content"] and f"<@{w.alice.id}>" in result["content"]
        [row] = await w.ledger_rows()
        await w.run("settings", {"mode": "off"}, user=staff.admin, subcommand="approval")

        submitted = await _vary(w, result, row["id"], "a blue heron at dawn")
        assert len(submitted.files()) == 1, submitted.all_text()
        body = w.gateway.generation_requests[-1].json
        assert body["prompt"] == "a blue heron at dawn"
        assert _reference_bytes(body) == w.discord.attachment_bytes(image)
        assert [(r["command"], r["status"]) for r in await w.ledger_rows()] == [
            ("imagine", "settled"), ("variation", "settled"),
        ]


async def test_variation_under_an_approved_series_uses_its_first_image_or_says_what_to_do(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await ask(w, w.alice, "frames of a falling leaf", command="series", count=12)
        await approve(w, staff, "frames of a falling leaf")
        await eventually(lambda: any(m.get("components") for m in w.discord.channel_messages(w.channel)))
        posted = w.discord.channel_messages(w.channel)
        [summary] = [m for m in posted if m.get("components")]
        assert summary.get("attachments") == []  # the images are on the two messages above it
        [row] = await w.ledger_rows()
        first = next(a for m in posted for a in m.get("attachments", [])
                     if a["filename"].startswith(f"seedream-{row['id']}-1."))  # fmt: skip
        await w.run("settings", {"mode": "off"}, user=staff.admin, subcommand="approval")

        submitted = await _vary(w, summary, row["id"], "a falling leaf in autumn")
        assert len(submitted.files()) == 1, submitted.all_text()
        body = w.gateway.generation_requests[-1].json
        assert _reference_bytes(body) == w.discord.attachment_bytes(first)

        for message in posted:  # someone deleted the images
            if message.get("attachments"):
                w.discord.messages[int(message["id"])].deleted = True
        gone = await press(w, summary, "variation", row["id"])
        assert is_ephemeral(gone) and gone.modal is None
        assert "no longer in this channel" in gone.all_text() and "/edit" in gone.all_text()


async def test_a_variation_form_submitted_after_a_restart_still_runs(tmp_path):
    async with world(tmp_path) as w:
        first = await w.run("imagine", {"prompt": "a quiet harbour"})
        request_id = (await w.ledger_rows())[0]["id"]
        opened = await press(w, result_message(first), "variation", request_id)
        await w.restart_bot()  # the form is still open in the member's Discord
        submitted = await w.discord.submit_modal(
            opened.modal["custom_id"], {_text_input_id(opened.modal): "a quiet harbour in fog"},
            user=w.alice, from_interaction=opened,
        )  # fmt: skip
        await submitted.wait_for_final(timeout=15)
        assert len(submitted.files()) == 1, submitted.kinds()
        assert w.gateway.generation_requests[-1].json["prompt"] == "a quiet harbour in fog"
        row = (await w.ledger_rows())[-1]
        assert (row["command"], row["status"]) == ("variation", "settled")


async def test_two_delete_presses_at_once_both_say_deleted(tmp_path):
    async with world(tmp_path) as w:
        first = await w.run("imagine", {"prompt": "a sandcastle"})
        request_id = (await w.ledger_rows())[0]["id"]
        message = result_message(first)
        custom_id = f"sd:delete:{request_id}"
        presses = await asyncio.gather(
            w.discord.click_button(message, custom_id, user=w.alice),
            w.discord.click_button(message, custom_id, user=w.alice),
        )
        for inter in presses:
            await inter.wait_for_final(timeout=15)
            assert is_ephemeral(inter) and inter.all_text() == "Deleted.", inter.all_text()
        assert w.discord.messages[int(message["id"])].deleted


async def test_variation_of_a_result_with_several_images_starts_from_the_one_chosen(tmp_path):
    async with world(tmp_path) as w:
        first = await w.run("imagine", {"prompt": "three foxes", "count": 3})
        request_id = (await w.ledger_rows())[0]["id"]
        posted = [data for _name, data in sorted(first.files())]
        opened = await press(w, result_message(first), "variation", request_id)
        assert "Which image (1 to 3)" in str(opened.modal["components"])

        submitted = await w.discord.submit_modal(
            opened.modal["custom_id"], {"prompt": "three foxes at night", "image": "2"}, user=w.alice,
            from_interaction=opened,
        )  # fmt: skip
        await submitted.wait_for_final(timeout=15)
        assert len(submitted.files()) == 1, submitted.all_text()
        assert _reference_bytes(w.gateway.generation_requests[-1].json) == posted[1]

        sent = len(w.gateway.generation_requests)
        again = await press(w, result_message(first), "variation", request_id)
        wrong = await w.discord.submit_modal(
            again.modal["custom_id"], {"prompt": "x", "image": "7"}, user=w.alice, from_interaction=again
        )
        await wrong.wait_for_final(timeout=15)
        assert wrong.all_text() == "This result has images 1 to 3; choose one of them." and is_ephemeral(wrong)
        words = await press(w, result_message(first), "variation", request_id)
        typed = await w.discord.submit_modal(
            words.modal["custom_id"], {"prompt": "x", "image": "two"}, user=w.alice, from_interaction=words
        )
        await typed.wait_for_final(timeout=15)
        assert "images 1 to 3" in typed.all_text()
        assert len(w.gateway.generation_requests) == sent
        wide = await press(w, result_message(first), "variation", request_id)  # a Chinese input method's "３"
        typed = await w.discord.submit_modal(
            wide.modal["custom_id"], {"prompt": "x", "image": "３"}, user=w.alice, from_interaction=wide
        )
        await typed.wait_for_final(timeout=15)
        assert len(typed.files()) == 1, typed.all_text()
        assert _reference_bytes(w.gateway.generation_requests[-1].json) == posted[2]


async def test_variation_takes_the_image_number_as_a_chinese_member_types_it(tmp_path):
    # "第2张" (the 2nd one) and "三" were refused as "choose one of them", though the form takes 3 characters.
    async with world(tmp_path) as w:
        first = await w.run("imagine", {"prompt": "three foxes", "count": 3})
        request_id = (await w.ledger_rows())[0]["id"]
        posted = [data for _name, data in sorted(first.files())]
        for typed, number in (("第2张", 2), ("三", 3), ("#1", 1)):
            opened = await press(w, result_message(first), "variation", request_id, locale="zh-CN")
            submitted = await w.discord.submit_modal(
                opened.modal["custom_id"], {"prompt": "夜晚的三只狐狸", "image": typed}, user=w.alice,
                from_interaction=opened, locale="zh-CN",
            )  # fmt: skip
            await submitted.wait_for_final(timeout=15)
            assert len(submitted.files()) == 1, (typed, submitted.all_text())
            assert _reference_bytes(w.gateway.generation_requests[-1].json) == posted[number - 1], typed


async def test_variation_of_a_series_offers_every_image_not_only_those_beside_the_buttons(tmp_path):
    # A streamed series posts its images as they come, after its first reply, which gets the
    # summary and the buttons at the end: the images are in the messages after the pressed one.
    async with world(tmp_path, flavour="aiearth", gateway={"per_image_latency": 0.2}) as w:
        series = await w.discord.invoke_command(
            "series", {"prompt": "four seasons", "count": 4}, user=w.alice, guild=w.guild, channel=w.channel
        )
        await series.wait_for(lambda e: "4 images" in ((e.message or {}).get("content") or ""), timeout=20)
        await series.wait_for_final(timeout=20, quiet=0.3)
        request_id = (await w.ledger_rows())[0]["id"]
        files = {int(name.rsplit("-", 1)[1].split(".")[0]): data for name, data in series.files()}
        assert sorted(files) == [1, 2, 3, 4]
        opened = await press(w, result_message(series), "variation", request_id)
        assert "Which image (1 to 4)" in str(opened.modal["components"])
        submitted = await w.discord.submit_modal(
            opened.modal["custom_id"], {"prompt": "winter only", "image": "3"}, user=w.alice, from_interaction=opened
        )
        await submitted.wait_for_final(timeout=15)
        assert len(submitted.files()) == 1, submitted.all_text()
        assert _reference_bytes(w.gateway.generation_requests[-1].json) == files[3]


async def test_re_roll_of_a_series_made_from_images_is_refused_it_cannot_be_made_again(tmp_path):
    # The images a request was made from are not kept: repeating it from the prompt alone would
    # make (and charge for) something else.
    async with world(tmp_path, flavour="aiearth") as w:
        photo = ("cat.png", image_bytes("PNG"), "image/png")
        first = await w.run("series", {"prompt": "the cat's day in 2 images", "count": 2}, attachments=[photo],
                            timeout=20)  # fmt: skip
        row = (await w.ledger_rows())[-1]
        assert (row["command"], row["reference_images"]) == ("series", 1)
        sent = len(w.gateway.generation_requests)
        refused = await press(w, posted_with_re_roll(w, result_message(first), row["id"]), "reroll", row["id"])
        assert "made from reference images" in refused.all_text() and is_ephemeral(refused)
        assert len(w.gateway.generation_requests) == sent


async def test_re_roll_of_an_edit_written_before_the_ledger_counted_references_is_refused(tmp_path):
    # A database from before schema v5 has reference_images = 0 on every row: /edit results
    # there are still known by their command.
    async with world(tmp_path) as w:
        edited = await w.run("edit", {"prompt": "in red"}, attachments=[("p.png", image_bytes("PNG"), "image/png")])
        row = (await w.ledger_rows())[-1]
        async with w.storage.db.transaction() as tx:
            await tx.execute("UPDATE requests SET reference_images = 0 WHERE id = ?", (row["id"],))
        sent = len(w.gateway.generation_requests)
        refused = await press(w, posted_with_re_roll(w, result_message(edited), row["id"]), "reroll", row["id"])
        assert "made from reference images" in refused.all_text() and is_ephemeral(refused)
        assert len(w.gateway.generation_requests) == sent


async def _an_old_result_then_a_fresh_database(w, tmp_path) -> tuple[dict, dict]:
    """Alice's result (its message and row), then the bot restarted on an empty database, 3.5 s
    later: the next request is recorded after the old message, beyond the clock slack, and gets
    the old request's id."""
    old = result_message(await w.run("imagine", {"prompt": "alice old red balloon"}))
    [old_row] = await w.ledger_rows()
    w.settings = make_settings(tmp_path / "fresh", w.discord, w.gateway)
    await w.restart_bot()
    await asyncio.sleep(3.5)
    return old, old_row


async def test_old_buttons_do_nothing_to_a_new_request_that_reuses_their_id_in_the_same_server(tmp_path):
    # The database was started afresh: request 1 is now bob's kite, and alice's old balloon result
    # still carries buttons for request 1. They must not re-roll the kite, nor let bob delete her
    # message, nor take her old message with his new result when he deletes his.
    async with world(tmp_path) as w:
        old, old_row = await _an_old_result_then_a_fresh_database(w, tmp_path)
        new = result_message(await w.run("imagine", {"prompt": "bob new kite"}, user=w.bob))
        [new_row] = await w.ledger_rows()
        assert new_row["id"] == old_row["id"]

        reroll = await press(w, old, "reroll", old_row["id"])
        assert "no longer in the bot's records" in reroll.all_text()
        assert len(w.gateway.generation_requests) == 2  # nothing re-rolled
        by_bob = await press(w, old, "delete", old_row["id"], user=w.bob)
        assert "no longer in the bot's records" in by_bob.all_text()
        assert not w.discord.messages[int(old["id"])].deleted

        mine = await press(w, new, "delete", new_row["id"], user=w.bob)
        assert "Deleted" in mine.all_text()
        assert w.discord.messages[int(new["id"])].deleted
        assert not w.discord.messages[int(old["id"])].deleted  # alice's old result stays


async def test_delete_takes_every_message_of_a_series_and_nothing_older(tmp_path):
    # Fifteen images in several messages after the reply that carries the buttons; an older
    # result of the same member in the same channel stays.
    async with world(tmp_path, flavour="aiearth", gateway={"per_image_latency": 0.05}) as w:
        older = result_message(await w.run("imagine", {"prompt": "a lighthouse"}))
        series = await w.run("series", {"prompt": "fifteen frames of a flower opening", "count": 15}, timeout=40)
        request_id = (await w.ledger_rows())[-1]["id"]
        with_images = [m for m in series.messages if m.get("attachments")]
        assert len(with_images) > 1 and len(series.files()) == 15
        pressed = result_message(series)
        assert int(pressed["id"]) == min(int(m["id"]) for m in series.messages)  # the first reply
        inter = await press(w, pressed, "delete", request_id)
        assert inter.all_text() == "Deleted."
        assert all(w.discord.messages[int(m["id"])].deleted for m in with_images)
        assert not w.discord.messages[int(older["id"])].deleted


async def test_buttons_work_under_an_edit_whose_reference_took_seconds_to_fetch(tmp_path, monkeypatch):
    # The reply is deferred before the reference is downloaded, so it is older than the request's
    # row by the download time; it is edited with the results after the row was written.
    from tests.doubles.discord_double.cdn import AttachmentStore  # noqa: PLC0415

    serve = AttachmentStore.handle

    async def slow(self, request):
        await asyncio.sleep(4.0)  # a large photo on a slow link: beyond the 3 s of clock slack
        return await serve(self, request)

    monkeypatch.setattr(AttachmentStore, "handle", slow)
    async with world(tmp_path) as w:
        photo = ("p.png", image_bytes("PNG"), "image/png")
        edited = await w.run("edit", {"prompt": "make it red"}, attachments=[photo], timeout=30)
        request_id = (await w.ledger_rows())[-1]["id"]
        opened = await press(w, result_message(edited), "variation", request_id)
        assert opened.modal is not None, opened.all_text()
        deleted = await press(w, result_message(edited), "delete", request_id)
        assert deleted.all_text() == "Deleted."


async def test_upscale_of_a_seededit_result_asks_a_model_that_sizes_its_output(tmp_path):
    # SeedEdit's only size is the input's ("adaptive"): upscaling with it made the same size again.
    async with world(tmp_path, flavour="302ai") as w:
        edited = await w.run("edit", {"prompt": "in red"}, attachments=[("p.png", image_bytes("PNG"), "image/png")])
        row = (await w.ledger_rows())[-1]
        assert row["model"] == "doubao-seededit-3-0-i2i-250628", row
        inter = await press(w, result_message(edited), "upscale", row["id"])
        assert len(inter.files()) == 1, inter.all_text()
        body = w.gateway.generation_requests[-1].json
        assert body["model"] != row["model"] and body["size"] == w.bot.resolve_model(body["model"]).largest_size
        assert _reference_bytes(body) == edited.files()[0][1]


async def test_a_reused_id_of_another_members_request_made_from_images_is_not_the_buttons_own(tmp_path):
    # Requests made from images get a wider window between their reply and their row; it must not
    # let a fresh database's request of another member pass for an old result's.
    async with world(tmp_path) as w:
        old, old_row = await _an_old_result_then_a_fresh_database(w, tmp_path)  # within the references' window
        photo = ("p.png", image_bytes("PNG"), "image/png")
        new = result_message(await w.run("edit", {"prompt": "bob new kite"}, user=w.bob, attachments=[photo]))
        [new_row] = await w.ledger_rows()
        assert new_row["id"] == old_row["id"] and new_row["reference_images"] == 1
        variation = await press(w, old, "variation", old_row["id"], user=w.bob)
        assert variation.modal is None and "no longer in the bot's records" in variation.all_text()
        deleted = await press(w, old, "delete", old_row["id"], user=w.bob)
        assert "no longer in the bot's records" in deleted.all_text()
        assert not w.discord.messages[int(old["id"])].deleted and not w.discord.messages[int(new["id"])].deleted


async def test_delete_finds_a_series_images_however_much_the_channel_said_meanwhile(tmp_path):
    async with world(tmp_path, flavour="aiearth", gateway={"per_image_latency": 0.4}) as w:
        series = await w.discord.invoke_command(
            "series", {"prompt": "six frames", "count": 6}, user=w.alice, guild=w.guild, channel=w.channel
        )
        async with asyncio.timeout(10):
            while not w.discord.channel_messages(w.channel):
                await asyncio.sleep(0.02)
        for i in range(120):  # a lively channel while it runs: more than one page of history
            await w.discord.post_user_message(w.channel, w.bob, f"chat {i}", dispatch=False)
        await series.wait_for_final(timeout=40, quiet=0.5)
        request_id = (await w.ledger_rows())[-1]["id"]
        with_images = [m for m in series.messages if m.get("attachments")]
        assert len(series.files()) == 6
        await press(w, result_message(series), "delete", request_id)
        assert all(w.discord.messages[int(m["id"])].deleted for m in with_images)


async def test_upscale_of_a_prompt_longer_than_another_model_takes_stays_with_its_model(tmp_path):
    # GPT Image takes 4,000 characters, Seedream 2,000: no model here both takes the image and the
    # prompt, so the prompt is drawn again by the model that made it (as before).
    async with world(tmp_path, flavour="xmsmartlink") as w:
        prompt = ("a tall stone tower at dawn, " * 100)[:2500].strip()
        first = await w.run("imagine", {"prompt": prompt, "model": "gpt-image-1.5"})
        request_id = (await w.ledger_rows())[0]["id"]
        inter = await press(w, result_message(first), "upscale", request_id)
        assert len(inter.files()) == 1, inter.all_text()
        assert w.gateway.generation_requests[-1].json["model"] == "gpt-image-1.5"


async def test_a_double_click_on_upscale_or_reroll_makes_and_charges_it_once(tmp_path):
    async with world(tmp_path, gateway={"latency": 0.3}) as w:
        first = await w.run("imagine", {"prompt": "a paper boat"})
        request_id = (await w.ledger_rows())[0]["id"]
        message = result_message(first)
        for action in ("upscale", "reroll"):
            one, two = await asyncio.gather(*(press(w, message, action, request_id) for _ in range(2)))
            told = [i for i in (one, two) if "already on its way" in i.all_text()]
            assert len(told) == 1 and is_ephemeral(told[0]), (one.all_text(), two.all_text())
        for _ in range(100):  # the books close just after the results are posted
            made = [(r["command"], r["images_delivered"]) for r in await w.ledger_rows()]
            if made == [("imagine", 1), ("upscale-image", 1), ("reroll", 1)]:
                break
            await asyncio.sleep(0.05)
        assert made == [("imagine", 1), ("upscale-image", 1), ("reroll", 1)]
        again = await press(w, message, "reroll", request_id)  # once it has run, the button works again
        assert len(again.files()) == 1, again.all_text()


async def test_buttons_of_a_result_whose_model_another_gateway_lacks_still_work_where_they_can(tmp_path):
    # A restart moved the bot from gogogotoken.com (Seedream 4.0) to xmsmartlink, which lacks it.
    async with world(tmp_path) as w:
        first = await w.run("imagine", {"prompt": "a castle on a hill"})
        request_id = (await w.ledger_rows())[0]["id"]
        message = result_message(first)
        opened = await press(w, message, "variation", request_id)  # its form is open meanwhile
        w.settings = make_settings(tmp_path, w.discord, w.gateway, image_provider="xmsmartlink")
        await w.restart_bot()
        rerolled = await press(w, message, "reroll", request_id)
        assert "(`doubao-seedream-4-0-250828`) is no longer offered here" in rerolled.all_text()
        assert is_ephemeral(rerolled)
        upscaled = await press(w, message, "upscale", request_id)  # another model that can does it
        assert len(upscaled.files()) == 1, upscaled.all_text()
        assert (await press(w, message, "variation", request_id)).modal is not None
        submitted = await w.discord.submit_modal(
            opened.modal["custom_id"], {_text_input_id(opened.modal): "a castle at night"}, user=w.alice,
            from_interaction=opened,
        )  # fmt: skip
        await submitted.wait_for_final(timeout=15)
        assert len(submitted.files()) == 1, submitted.all_text()  # the default model makes it
        assert [(r["command"], r["model"]) for r in await w.ledger_rows()][1:] == [
            ("upscale-image", "doubao-seedream-5-0-260128"), ("variation", "doubao-seedream-5-0-260128"),
        ]


async def test_a_variation_form_takes_only_what_the_model_that_makes_the_variation_takes(tmp_path):
    # xmsmartlink: GPT Image takes 4,000 characters but no image, so Seedream 5.0 (2,000) makes its
    # Variation. Sized for GPT Image, the form let through a prompt the variation then refused.
    async with world(tmp_path, flavour="xmsmartlink") as w:
        prompt = ("a tall stone tower at dawn, " * 100)[:2500].strip()
        first = await w.run("imagine", {"prompt": prompt, "model": "gpt-image-1.5"}, locale="zh-CN")
        request_id = (await w.ledger_rows())[0]["id"]
        opened = await press(w, result_message(first), "variation", request_id, locale="zh-CN")
        field = text_input(opened.modal)
        maker = w.bot.resolve_model(None)
        assert field["max_length"] == maker.max_prompt_chars == 2000 and field["value"] == prompt[:2000]
        submitted = await w.discord.submit_modal(
            opened.modal["custom_id"], {_text_input_id(opened.modal): field["value"]}, user=w.alice,
            from_interaction=opened, locale="zh-CN",
        )  # fmt: skip
        await submitted.wait_for_final(timeout=15)
        assert len(submitted.files()) == 1, submitted.all_text()
        assert w.gateway.generation_requests[-1].json["model"] == maker.id


async def test_upscale_of_an_edit_whose_image_is_gone_says_so_and_points_to_edit(tmp_path):
    # Upscale used to send the member to Variation, which then said the image was gone too.
    async with world(tmp_path) as w:
        edited = await w.run("edit", {"prompt": "in red"}, attachments=[("p.png", image_bytes("PNG"), "image/png")])
        row = (await w.ledger_rows())[-1]
        record = w.discord.messages[int(result_message(edited)["id"])]
        record.payload["attachments"] = []  # its image removed from the message
        upscaled = await press(w, record.payload, "upscale", row["id"])
        text = upscaled.all_text()
        assert is_ephemeral(upscaled) and "no longer in this channel" in text and "/edit" in text, text
        assert "Variation" not in text
        zh = (await press(w, record.payload, "upscale", row["id"], locale="zh-CN")).all_text()
        assert "无法放大" in zh, zh
        assert len(w.gateway.generation_requests) == 1  # the /edit only
