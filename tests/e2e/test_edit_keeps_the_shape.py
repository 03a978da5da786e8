"""A request with images and no size is made in the first image's shape, on every gateway.

Seedream's default size is 2048x2048 (gogogotoken.ai's, when none is sent, too): a member who
edits a 16:9 photo without choosing a size used to get it back square, cropped or squeezed."""

from __future__ import annotations

import pytest

from tests.e2e.harness import world
from tests.e2e.staff import add_staff
from tests.e2e.test_edit import image_bytes

SEEDEDIT = "doubao-seededit-3-0-i2i-250628"


def sent(w) -> dict:
    return w.gateway.generation_requests[-1].json


@pytest.mark.parametrize("flavour", ["gogogotoken-ai", "gogogotoken-com", "aiearth", "302ai", "xmsmartlink"])
async def test_an_edit_of_a_wide_photo_is_made_wide_on_every_gateway(tmp_path, flavour):
    photo = image_bytes("JPEG", size=(1920, 1080))
    async with world(tmp_path, flavour=flavour) as w:
        inter = await w.run("edit", {"prompt": "make it night"}, attachments=[("photo.jpg", photo, "image/jpeg")],
                            timeout=30)  # fmt: skip
        assert len(inter.files()) == 1, inter.all_text()
        body = sent(w)
        # 302.ai's default model makes no edits: the first that can is SeedEdit, which keeps the input's size
        expected = "adaptive" if body["model"] == SEEDEDIT else "2848x1600"
        assert body["size"] == expected, body["model"]
        [row] = await w.ledger_rows()
        assert row["size"] == expected  # what /history and Variation see


@pytest.mark.parametrize(
    ("shape", "expected"),
    [((1080, 1920), "1600x2848"), ((4032, 3024), "2304x1728"), ((3000, 2000), "2496x1664"),
     ((500, 500), "2048x2048"), ((300, 2400), "1344x3136")],
)  # fmt: skip
async def test_the_nearest_seedream_preset_is_chosen(tmp_path, shape, expected):
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        inter = await w.run("edit", {"prompt": "in watercolour"},
                            attachments=[("a.png", image_bytes("PNG", size=shape), "image/png")])  # fmt: skip
        assert len(inter.files()) == 1, inter.all_text()
        assert sent(w)["size"] == expected


async def test_the_first_image_sets_the_shape_of_a_series_with_several(tmp_path):
    attachments = [("tall.png", image_bytes("PNG", size=(900, 1600)), "image/png"),
                   ("wide.png", image_bytes("PNG", size=(1600, 900)), "image/png")]  # fmt: skip
    async with world(tmp_path, flavour="aiearth") as w:
        inter = await w.run("series", {"prompt": "a comic of this character", "count": 2},
                            attachments=attachments, timeout=30)  # fmt: skip
        assert len(inter.files()) == 2, inter.all_text()
        assert sent(w)["size"] == "1600x2848"


async def test_a_size_the_member_or_the_server_chose_is_kept(tmp_path):
    photo = ("photo.png", image_bytes("PNG", size=(1920, 1080)), "image/png")
    async with world(tmp_path, flavour="gogogotoken-com", start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.run("edit", {"prompt": "a", "size": "2K"}, attachments=[photo])
        assert sent(w)["size"] == "2K"
        await w.run("settings", {"size": "2048x2048"}, user=staff.admin, subcommand="defaults")
        await w.run("edit", {"prompt": "b"}, attachments=[photo])
        assert sent(w)["size"] == "2048x2048"
        inter = await w.run("imagine", {"prompt": "c"})  # no image: nothing to shape it
        assert len(inter.files()) == 1, inter.all_text()
        assert sent(w)["size"] == "2048x2048"
