"""Upscale of a result of several images: the private menu that asks which one, end to end.

What a choice would be refused for is told at the press (a limit; every image already at the
largest size); an image gone since the menu is told, not replaced by the prompt drawn again and
charged; series over several messages, approval mode, quick double choices and Discord's limits.
"""

from __future__ import annotations

import asyncio

from image_gateway.catalog import SEEDREAM_4_0, SEEDREAM_4_5, SEEDREAM_5_0
from tests.e2e.harness import world
from tests.e2e.staff import eventually
from tests.e2e.test_approval import approval_world, button
from tests.e2e.test_result_buttons import (
    _reference_bytes,
    custom_ids,
    is_ephemeral,
    pick,
    posted_with_re_roll,
    press,
    result_message,
)


def _has_menu(inter) -> bool:
    rows = [row for m in inter.messages for row in m.get("components") or []]
    return any(c.get("type") == 3 for row in rows for c in row["components"])


async def test_upscale_of_a_4k_result_of_several_images_is_refused_at_the_press_not_after_a_choice(tmp_path):
    # It used to offer a menu whose every choice got the same refusal.
    async with world(tmp_path, gateway={"image_size": (4096, 4096)}) as w:
        first = await w.run("imagine", {"prompt": "a tiny robot", "size": "4K", "count": 3})
        request_id = (await w.ledger_rows())[0]["id"]
        asked = await press(w, result_message(first), "upscale", request_id)
        assert not _has_menu(asked)
        assert is_ephemeral(asked) and "already as large" in asked.all_text(), asked.all_text()
        assert len(await w.ledger_rows()) == 1


async def test_a_member_at_the_daily_limit_is_told_at_the_press_not_after_choosing(tmp_path):
    # As Re-roll and Upscale of a single image are; it used to ask which image, then refuse the choice.
    async with world(tmp_path, default_daily_images=3) as w:
        first = await w.run("imagine", {"prompt": "a kite", "count": 3})
        request_id = (await w.ledger_rows())[0]["id"]
        asked = await press(w, result_message(first), "upscale", request_id)
        assert not _has_menu(asked)
        assert is_ephemeral(asked) and "daily limit of 3" in asked.all_text(), asked.all_text()
        assert [r["status"] for r in await w.ledger_rows()] == ["settled", "refused"]


async def test_a_choice_after_the_result_was_deleted_says_so_instead_of_charging_a_new_image(tmp_path):
    # The private menu outlives the result: Delete is pressed while it is open, then Image 2 chosen.
    # The prompt used to be drawn again at 4K, and charged.
    async with world(tmp_path) as w:
        first = await w.run("imagine", {"prompt": "a tiny robot", "count": 3})
        request_id = (await w.ledger_rows())[0]["id"]
        message = result_message(first)
        asked = await press(w, message, "upscale", request_id)
        deleted = await press(w, message, "delete", request_id)
        assert deleted.all_text() == "Deleted." and w.discord.messages[int(message["id"])].deleted
        sent = len(w.gateway.generation_requests)

        chosen = await pick(w, asked.messages[-1], request_id, 2)

        assert is_ephemeral(chosen)
        assert chosen.all_text() == (
            "Image 2 of this result is no longer in this channel, so it can't be upscaled. Nothing was charged."
        )
        assert len(w.gateway.generation_requests) == sent and len(await w.ledger_rows()) == 1


async def test_an_image_removed_by_an_edit_is_refused_naming_those_left_and_nothing_is_spent(tmp_path):
    async with world(tmp_path) as w:
        first = await w.run("imagine", {"prompt": "a tiny robot", "count": 3})
        request_id = (await w.ledger_rows())[0]["id"]
        message = result_message(first)
        asked = await press(w, message, "upscale", request_id, locale="zh-CN")
        record = w.discord.messages[int(message["id"])]
        record.payload["attachments"] = [a for a in record.payload["attachments"] if "-2." not in a["filename"]]
        sent = len(w.gateway.generation_requests)
        gone = await pick(w, asked.messages[-1], request_id, 2, locale="zh-CN")
        assert is_ephemeral(gone) and "第 1、3 张" in gone.all_text(), gone.all_text()
        assert len(w.gateway.generation_requests) == sent and len(await w.ledger_rows()) == 1
        kept = await pick(w, asked.messages[-1], request_id, 3, locale="zh-CN")
        assert len(kept.files()) == 1, kept.all_text()


def _menu(inter) -> dict:
    [menu] = [c for row in inter.messages[-1]["components"] for c in row["components"]]
    return menu


def _within_discord_limits(menu: dict) -> None:
    # Discord's limits for a string select the OpenAPI file does not all encode.
    assert menu["type"] == 3 and len(menu["custom_id"]) <= 100
    assert 1 <= len(menu["options"]) <= 25
    assert len(menu.get("placeholder") or "") <= 150
    assert all(1 <= len(o["label"]) <= 100 and 1 <= len(o["value"]) <= 100 for o in menu["options"])
    assert len({o["value"] for o in menu["options"]}) == len(menu["options"])
    assert menu.get("min_values", 1) <= menu.get("max_values", 1) <= len(menu["options"])


def _files_by_number(inter) -> dict[int, bytes]:
    return {int(name.rsplit("-", 1)[1].split(".")[0]): data for name, data in inter.files()}


async def test_series_of_fifteen_in_several_messages_offers_all_and_upscales_the_one_chosen(tmp_path):
    async with world(tmp_path, flavour="aiearth", gateway={"per_image_latency": 0.02}) as w:
        series = await w.run("series", {"prompt": "fifteen frames of a flower", "count": 15}, timeout=40)
        request_id = (await w.ledger_rows())[-1]["id"]
        files = _files_by_number(series)
        assert sorted(files) == list(range(1, 16))
        assert len([m for m in series.messages if m.get("attachments")]) > 1
        asked = await press(w, result_message(series), "upscale", request_id, locale="zh-CN")
        menu = _menu(asked)
        _within_discord_limits(menu)
        assert [o["value"] for o in menu["options"]] == [str(n) for n in range(1, 16)]
        assert menu["options"][-1]["label"] == "第 15 张"
        chosen = await pick(w, asked.messages[-1], request_id, 12, locale="zh-CN")
        assert len(chosen.files()) == 1, chosen.all_text()
        assert _reference_bytes(w.gateway.generation_requests[-1].json) == files[12]


async def test_two_quick_choices_same_image_once_different_images_both(tmp_path):
    async with world(tmp_path, gateway={"latency": 0.3}) as w:
        first = await w.run("imagine", {"prompt": "a tiny robot", "count": 3})
        request_id = (await w.ledger_rows())[0]["id"]
        asked = await press(w, result_message(first), "upscale", request_id)
        one, two = await asyncio.gather(*(pick(w, asked.messages[-1], request_id, 2) for _ in range(2)))
        told = [i for i in (one, two) if "already on its way" in i.all_text()]
        assert len(told) == 1 and is_ephemeral(told[0])
        one, three = await asyncio.gather(pick(w, asked.messages[-1], request_id, 1),
                                          pick(w, asked.messages[-1], request_id, 3))  # fmt: skip
        assert len(one.files()) == 1 and len(three.files()) == 1
        for _ in range(100):
            rows = await w.ledger_rows()
            if [r["status"] for r in rows] == ["settled"] * 4:
                break
            await asyncio.sleep(0.05)
        assert [(r["command"], r["status"]) for r in rows][1:] == [("upscale-image", "settled")] * 3


async def test_a_series_where_only_one_image_survived_upscales_it_without_a_menu(tmp_path):
    async with world(tmp_path, flavour="aiearth", gateway={"series_failures": [0, 1]}) as w:
        series = await w.run("series", {"prompt": "three frames of a flower", "count": 3}, timeout=20)
        row = (await w.ledger_rows())[-1]
        assert row["images_delivered"] == 1 and sorted(_files_by_number(series)) == [3]
        upscaled = await press(w, result_message(series), "upscale", row["id"])
        assert len(upscaled.files()) == 1, upscaled.all_text()
        assert _reference_bytes(w.gateway.generation_requests[-1].json) == _files_by_number(series)[3]


async def test_the_menu_in_approval_mode_sends_the_chosen_image_to_the_moderators(tmp_path):
    async with world(tmp_path, start=False) as w:
        staff = await approval_world(w)
        await w.run("settings", {"mode": "off"}, user=staff.admin, subcommand="approval")
        first = await w.run("imagine", {"prompt": "a tiny robot", "count": 3})
        request_id = (await w.ledger_rows())[0]["id"]
        await w.run("settings", {"mode": "on", "channel": staff.mods_channel}, user=staff.admin, subcommand="approval")
        asked = await press(w, result_message(first), "upscale", request_id)
        chosen = await pick(w, asked.messages[-1], request_id, 2)
        assert is_ephemeral(chosen) and "sent to the moderators" in chosen.all_text()
        [review] = [m for m in w.discord.channel_messages(staff.mods_channel) if m.get("components")]
        approved = await w.discord.click_button(review, button(review, "approve"), user=staff.moderator)
        await approved.wait_for_final(timeout=15)
        await eventually(lambda: len(w.gateway.generation_requests) == 2)
        assert _reference_bytes(w.gateway.generation_requests[-1].json) == _files_by_number(first)[2]


async def test_no_model_takes_an_image_upscale_of_several_draws_the_prompt_once_without_a_menu(tmp_path):
    catalog = tmp_path / "catalog.toml"
    catalog.write_text("".join(f'[models."{s.id}"]\nmax_references = 0\n' for s in (SEEDREAM_4_0, SEEDREAM_4_5,
                                                                                      SEEDREAM_5_0)))  # fmt: skip
    async with world(tmp_path, model_catalog_file=catalog) as w:
        first = await w.run("imagine", {"prompt": "a tiny robot", "count": 3})
        request_id = (await w.ledger_rows())[0]["id"]
        upscaled = await press(w, result_message(first), "upscale", request_id, locale="zh-TW")
        assert len(upscaled.files()) == 1 and "张图片" in upscaled.all_text(), upscaled.all_text()
        body = w.gateway.generation_requests[-1].json
        assert "image" not in body and body["size"] == "4K"


async def test_reroll_variation_delete_after_an_upscale_chosen_in_the_menu(tmp_path):
    async with world(tmp_path) as w:
        first = await w.run("imagine", {"prompt": "a tiny robot", "count": 3})
        request_id = (await w.ledger_rows())[0]["id"]
        asked = await press(w, result_message(first), "upscale", request_id)
        _within_discord_limits(_menu(asked))
        chosen = await pick(w, asked.messages[-1], request_id, 2)
        upscale_id = (await w.ledger_rows())[-1]["id"]
        assert f"sd:reroll:{upscale_id}" not in custom_ids(result_message(chosen))  # made from an image
        refused = await press(w, posted_with_re_roll(w, result_message(chosen), upscale_id), "reroll", upscale_id)
        assert "made from reference images" in refused.all_text() and is_ephemeral(refused)
        opened = await press(w, result_message(first), "variation", request_id)
        assert opened.modal is not None and "Which image (1 to 3)" in str(opened.modal["components"])
        rerolled = await press(w, result_message(first), "reroll", request_id)
        assert len(rerolled.files()) == 3
        upscaled = result_message(chosen)
        deleted = await press(w, upscaled, "delete", upscale_id)
        assert deleted.all_text() == "Deleted." and w.discord.messages[int(upscaled["id"])].deleted
        assert not w.discord.messages[int(result_message(first)["id"])].deleted


async def test_the_one_image_that_can_grow_is_upscaled_not_the_first_refused(tmp_path):
    # Images 1 and 3 already at 4K: no menu for one choice, and image 2 is the one upscaled. It
    # used to take image 1 and refuse it as already as large.
    async with world(tmp_path) as w:
        first = await w.run("imagine", {"prompt": "a tiny robot", "count": 3})
        request_id = (await w.ledger_rows())[0]["id"]
        message = result_message(first)
        record = w.discord.messages[int(message["id"])]
        for attachment in record.payload["attachments"]:
            if not attachment["filename"].rsplit(".", 1)[0].endswith("-2"):
                attachment["width"], attachment["height"] = 4096, 4096
        upscaled = await press(w, message, "upscale", request_id)
        assert not _has_menu(upscaled) and len(upscaled.files()) == 1, upscaled.all_text()
        assert _reference_bytes(w.gateway.generation_requests[-1].json) == _files_by_number(first)[2]


async def test_an_image_that_cannot_be_a_reference_is_not_offered_and_if_chosen_is_told(tmp_path):
    # Over 10 MB (a boosted server's upload): it used to be offered, and choosing it drew the
    # prompt again, unrelated to the image, and charged for it.
    async with world(tmp_path) as w:
        first = await w.run("imagine", {"prompt": "a tiny robot", "count": 3})
        request_id = (await w.ledger_rows())[0]["id"]
        message = result_message(first)
        asked = await press(w, message, "upscale", request_id)  # the menu as it was: all three
        record = w.discord.messages[int(message["id"])]
        for attachment in record.payload["attachments"]:
            if attachment["filename"].rsplit(".", 1)[0].endswith("-2"):
                attachment["size"] = 30 * 1024 * 1024
        chosen = await pick(w, asked.messages[-1], request_id, 2)
        assert is_ephemeral(chosen) and "10 MB" in chosen.all_text(), chosen.all_text()
        assert len(await w.ledger_rows()) == 1 and not chosen.files()

        again = await press(w, message, "upscale", request_id)  # pressed now: image 2 not offered
        [menu] = [c for row in again.messages[-1]["components"] for c in row["components"]]
        assert [o["value"] for o in menu["options"]] == ["1", "3"]

