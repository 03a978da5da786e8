"""Which model a request without a `model` uses when the default cannot do what it needs.

302.ai's default is Seedream 3.0 text-to-image: no reference images, no series. /edit, the
"Edit with Seedream" menu and /series without a model then use the preset's first model (in
catalog order) that can; a model the member chose is still refused clearly. The menu counts the
images for the same model the request will use (the server's default first)."""

from __future__ import annotations

from image_gateway.catalog import SEEDEDIT_3_I2I, SEEDREAM_3_T2I, SEEDREAM_4_0
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


async def test_the_menu_without_a_model_works_on_302ai(tmp_path):
    images = [(f"{i}.png", image_bytes("PNG", colour=(i, 40, 40)), "image/png") for i in range(2)]
    async with world(tmp_path, flavour="302ai") as w:
        message = await w.discord.post_user_message(w.channel, w.bob, "", attachments=images)
        inter = await _open_menu_and_submit(w, message, "sharpen")
        assert len(inter.files()) == 1, inter.all_text()
        assert sent_model(w) == SEEDEDIT_3_I2I.id
        assert [decode_data_uri(u)[1] for u in sent_images(w)] == [images[0][1]]  # as many as it takes


async def test_the_menu_counts_images_for_the_servers_default_model(tmp_path):
    # The bot's default (Seedream 5.0) takes 14 images, the server's (SeedEdit) one: the menu
    # takes one, for SeedEdit, instead of two that SeedEdit would refuse.
    images = [(f"{i}.png", image_bytes("PNG", colour=(i, 90, 9)), "image/png") for i in range(2)]
    async with world(tmp_path, flavour="aiearth", start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        saved = await w.run("settings", {"model": SEEDEDIT_3_I2I.id}, user=staff.admin, subcommand="defaults")
        assert "saved" in saved.all_text(), saved.all_text()
        message = await w.discord.post_user_message(w.channel, w.bob, "", attachments=images)
        inter = await _open_menu_and_submit(w, message, "sharpen")
        assert len(inter.files()) == 1, inter.all_text()
        assert sent_model(w) == SEEDEDIT_3_I2I.id
        assert [decode_data_uri(u)[1] for u in sent_images(w)] == [images[0][1]]
