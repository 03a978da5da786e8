"""Which model a request without a `model` uses when the default cannot do what it needs.

302.ai's default is Seedream 3.0 text-to-image: no reference images, no series. /edit, the
"Edit with Seedream" menu and /series without a model then use the preset's first model (in
catalog order) that can; a model the member chose is still refused clearly. The menu chooses the
model for the images its message has, as /edit does for its attachments."""

from __future__ import annotations

from image_gateway.catalog import SEEDEDIT_3_I2I, SEEDREAM_3_T2I, SEEDREAM_4_0, SEEDREAM_5_0
from tests.e2e.harness import world
from tests.e2e.staff import add_staff, is_ephemeral
from tests.e2e.test_edit import _open_menu_and_submit, decode_data_uri, image_bytes, sent_images

PNG = ("p.png", image_bytes("PNG"), "image/png")


def sent_model(w) -> str:
    return w.gateway.generation_requests[-1].json["model"]


async def test_edit_without_a_model_uses_the_first_that_takes_the_images_on_302ai(tmp_path):
    async with world(tmp_path, flavour="302ai") as w:
        one = await w.run("edit", {"prompt": "add a hat"}, attachments=[PNG])
        assert len(one.files()) == 1, one.all_text()
        assert sent_model(w) == SEEDEDIT_3_I2I.id  # the first in 302.ai's catalog that takes one image

        two = await w.run("edit", {"prompt": "combine them"}, attachments=[PNG, PNG])
        assert len(two.files()) == 1, two.all_text()
        assert sent_model(w) == SEEDREAM_4_0.id  # SeedEdit takes exactly one: the next that takes two
        assert len(sent_images(w)) == 2
        rows = await w.ledger_rows()
        assert [(r["model"], r["status"]) for r in rows] == [
            (SEEDEDIT_3_I2I.id, "settled"), (SEEDREAM_4_0.id, "settled"),
        ]  # fmt: skip


async def test_series_without_a_model_uses_the_first_that_makes_a_series_on_302ai(tmp_path):
    async with world(tmp_path, flavour="302ai") as w:
        done = await w.run("series", {"prompt": "a comic about a cat", "count": 2}, timeout=20)
        assert len(done.files()) == 2, done.all_text()
        assert sent_model(w) == SEEDREAM_4_0.id
        body = w.gateway.generation_requests[-1].json
        assert body["sequential_image_generation"] == "auto"
        assert body["sequential_image_generation_options"] == {"max_images": 2}


async def test_a_model_the_member_chose_that_cannot_is_still_refused(tmp_path):
    async with world(tmp_path, flavour="302ai") as w:
        edit = await w.run("edit", {"prompt": "x", "model": SEEDREAM_3_T2I.id}, attachments=[PNG])
        assert "Seedream 3.0 takes no reference images" in edit.all_text() and is_ephemeral(edit)
        series = await w.run("series", {"prompt": "a comic", "count": 3, "model": SEEDREAM_3_T2I.id})
        assert "Seedream 3.0 cannot make a series" in series.all_text() and is_ephemeral(series)
        imagine = await w.run("imagine", {"prompt": "a cat"})  # no references needed: the default stays
        assert len(imagine.files()) == 1 and sent_model(w) == SEEDREAM_3_T2I.id
        assert len(w.gateway.generation_requests) == 1


async def test_the_menu_uses_the_model_and_the_images_edit_would_on_302ai(tmp_path):
    # /edit with these 3 attachments uses Seedream 4.0 and all 3: so does the menu on a message
    # carrying them (it once asked SeedEdit 3.0 for the first one only).
    images = [(f"{i}.png", image_bytes("PNG", colour=(i, 40, 40)), "image/png") for i in range(3)]
    async with world(tmp_path, flavour="302ai") as w:
        edit = await w.run("edit", {"prompt": "sharpen"}, attachments=images)
        assert len(edit.files()) == 1, edit.all_text()
        assert sent_model(w) == SEEDREAM_4_0.id and len(sent_images(w)) == 3

        message = await w.discord.post_user_message(w.channel, w.bob, "", attachments=images)
        inter = await _open_menu_and_submit(w, message, "sharpen")
        assert len(inter.files()) == 1, inter.all_text()
        assert sent_model(w) == SEEDREAM_4_0.id
        assert [decode_data_uri(u)[1] for u in sent_images(w)] == [data for _, data, _ in images]

        one = await w.discord.post_user_message(w.channel, w.bob, "", attachments=images[:1])
        inter = await _open_menu_and_submit(w, one, "sharpen")
        assert len(inter.files()) == 1, inter.all_text()
        assert sent_model(w) == SEEDEDIT_3_I2I.id  # one image: the first model that takes one, as /edit


async def test_the_menu_keeps_the_servers_default_model_when_it_takes_the_images(tmp_path):
    # The server's default (SeedEdit) takes one image: a message with one uses it. A message with
    # two goes, as /edit with two would, to the first model that takes both, and sends both.
    images = [(f"{i}.png", image_bytes("PNG", colour=(i, 90, 9)), "image/png") for i in range(2)]
    async with world(tmp_path, flavour="aiearth", start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        saved = await w.run("settings", {"model": SEEDEDIT_3_I2I.id}, user=staff.admin, subcommand="defaults")
        assert "saved" in saved.all_text(), saved.all_text()
        one = await w.discord.post_user_message(w.channel, w.bob, "", attachments=images[:1])
        inter = await _open_menu_and_submit(w, one, "sharpen")
        assert len(inter.files()) == 1, inter.all_text()
        assert sent_model(w) == SEEDEDIT_3_I2I.id

        two = await w.discord.post_user_message(w.channel, w.bob, "", attachments=images)
        inter = await _open_menu_and_submit(w, two, "sharpen")
        assert len(inter.files()) == 1, inter.all_text()
        assert sent_model(w) == SEEDREAM_5_0.id
        assert [decode_data_uri(u)[1] for u in sent_images(w)] == [data for _, data, _ in images]


async def test_a_server_default_the_gateway_does_not_offer_gives_way_to_the_bots_default(tmp_path):
    # Saved with /settings defaults while IMAGE_PROVIDER was 302ai (SeedEdit); the operator then
    # moved to gogogotoken.com, which does not offer it. Commands without a model go on working.
    async with world(tmp_path, flavour="gogogotoken-com", start=False) as w:
        await w.start_bot()
        await w.storage.guild_config.update(w.guild.id, default_model=SEEDEDIT_3_I2I.id, default_size="adaptive")
        await w.restart_bot()
        imagine = await w.run("imagine", {"prompt": "a cat"})
        assert len(imagine.files()) == 1, imagine.all_text()
        assert sent_model(w) == SEEDREAM_4_0.id  # the bot's default
        edit = await w.run("edit", {"prompt": "add a hat"}, attachments=[PNG])
        assert len(edit.files()) == 1, edit.all_text()
        assert sent_model(w) == SEEDREAM_4_0.id
        series = await w.run("series", {"prompt": "a comic about a cat", "count": 2}, timeout=20)
        assert len(series.files()) == 2, series.all_text()
        warned = [line for line in w.logs.lines if line.startswith("WARNING") and SEEDEDIT_3_I2I.id in line]
        assert warned, "the operator is told in the log"

        named = await w.run("imagine", {"prompt": "a cat", "model": SEEDEDIT_3_I2I.id})  # named: still refused
        assert f"`{SEEDEDIT_3_I2I.id}` is not offered here" in named.all_text() and is_ephemeral(named)
        assert len(w.gateway.generation_requests) == 3


def suggested(inter) -> list[str]:
    return [choice["value"] for choice in inter.autocomplete_choices or []]


async def suggestions(w, command: str, options: dict, option: str, **kwargs) -> list[str]:
    """What alice is offered for `option` while typing `command` with `options` filled in."""
    inter = await w.discord.invoke_autocomplete(command, options, option, user=w.alice, guild=w.guild,
                                                channel=w.channel, **kwargs)  # fmt: skip
    await inter.wait_for_ack(timeout=10)
    return suggested(inter)


async def test_size_suggestions_are_for_the_model_the_request_will_use_on_302ai(tmp_path):
    async with world(tmp_path, flavour="302ai") as w:
        async def sizes(command: str, options: dict, **kwargs) -> list[str]:
            return await suggestions(w, command, options, "size", **kwargs)

        assert await sizes("imagine", {"prompt": "a cat"}) == ["1024x1024"]  # Seedream 3.0, the default
        assert await sizes("edit", {"prompt": "a hat"}, attachments=[PNG]) == ["adaptive"]  # SeedEdit 3.0
        assert await sizes("edit", {"prompt": "a hat"}) == ["adaptive"]  # the image not attached yet: one
        four = ["1K", "2K", "4K", "2048x2048"]  # Seedream 4.0
        assert await sizes("edit", {"prompt": "mix"}, attachments=[PNG, PNG]) == four
        assert await sizes("series", {"prompt": "a comic", "count": 3}) == four
        assert await sizes("edit", {"prompt": "a hat", "model": SEEDREAM_4_0.id}, attachments=[PNG]) == four
        assert await sizes("imagine", {"prompt": "a cat", "model": "no such model"}) == ["1024x1024"]
        # what was typed filters them
        assert await sizes("edit", {"prompt": "mix", "size": "K"}, attachments=[PNG, PNG]) == ["1K", "2K", "4K"]


async def test_model_suggestions_are_the_models_that_can_do_what_is_being_typed_on_302ai(tmp_path):
    async with world(tmp_path, flavour="302ai") as w:
        async def models(command: str, options: dict, **kwargs) -> list[str]:
            return await suggestions(w, command, options, "model", **kwargs)

        newer = [SEEDREAM_4_0.id, "doubao-seedream-4-5-251128", SEEDREAM_5_0.id]
        # /imagine draws from words: SeedEdit, which changes an image, is not offered
        assert await models("imagine", {"prompt": "a cat"}) == [SEEDREAM_3_T2I.id, *newer]
        assert await models("edit", {"prompt": "a hat"}, attachments=[PNG]) == [SEEDEDIT_3_I2I.id, *newer]
        assert await models("edit", {"prompt": "mix"}, attachments=[PNG, PNG]) == newer  # SeedEdit takes one
        assert await models("series", {"prompt": "a comic", "count": 3}) == newer
        assert await models("imagine", {"prompt": "a cat", "model": "4-5"}) == ["doubao-seedream-4-5-251128"]


async def test_gpt_image_2_makes_a_custom_size_on_xmsmartlink(tmp_path):
    async with world(tmp_path, flavour="xmsmartlink") as w:
        inter = await w.run("imagine", {"prompt": "a wide harbour", "model": "gpt-image-2", "size": "2048x1152"})
        assert len(inter.files()) == 1, inter.all_text()
        assert w.gateway.generation_requests[-1].json["size"] == "2048x1152"
        refused = await w.run("imagine", {"prompt": "a wide harbour", "model": "gpt-image-2", "size": "2050x1152"})
        assert "multiple of 16" in refused.all_text() and len(w.gateway.generation_requests) == 1
