"""Reference images on /edit and /series, as members attach them, on each of the five gateways:
a bad one is named by the option it was attached to, every one Discord's metadata already shows
unusable is named in one answer, a rule no change of images fixes (how many images the model
takes) is told before any image is, and one and several references reach every gateway in its
shape, paid for once, or cost nothing when one turns out bad."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from tests.e2e.harness import world
from tests.e2e.staff import is_ephemeral
from tests.e2e.test_edit import decode_data_uri

SEEDEDIT = "doubao-seededit-3-0-i2i-250628"
PRESETS = ("gogogotoken-ai", "gogogotoken-com", "aiearth", "302ai", "xmsmartlink")


def png(size=(64, 48), name="image.png", colour=(30, 90, 160)) -> tuple[str, bytes, str]:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return (name, buf.getvalue(), "image/png")


async def test_a_bad_reference_is_named_by_the_option_the_member_attached_it_to(tmp_path):
    """A member fills /edit's `image` and `image3` (Discord shows the options by those names;
    `image2` left empty) with two pasted screenshots, both called `image.png`; the one in `image3`
    is 10x10. The name cannot tell the two apart, so the refusal names the option: Image 3, not
    "Image 2" (the `image2` they never filled); in Chinese likewise 第 4 张 for 图片4."""
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        inter = await w.run("edit", {"prompt": "brighter", "image": png(), "image3": png((10, 10))})
        text = inter.all_text()
        assert "10x10" in text and is_ephemeral(inter), text
        assert "Image 2" not in text and re.search(r"image ?3", text, re.I), f"the bad one was in image3; read: {text}"
        assert text.startswith("Image 3 (`image.png`) is 10x10 pixels"), text

        inter = await w.run("edit", {"prompt": "更亮", "image": png(), "image4": png((10, 10))}, locale="zh-CN")
        text = inter.all_text()
        assert "第 2 张" not in text and ("图片4" in text or "第 4 张" in text), f"it was in 图片4; read: {text}"
        assert is_ephemeral(inter), text
        assert w.gateway.generation_requests == [] and await w.ledger_rows() == []


async def test_every_reference_discords_metadata_already_refuses_is_named_in_one_answer(tmp_path):
    """Two attachments that Discord's own metadata already shows unusable (a 10x10 icon and a 20x400
    strip, beyond 1:16) are refused before the defer, both named in the one private refusal, each
    as it would be alone (as several rules broken by one image are: test_bad_input_every_gateway
    "1x20000"): the member does not replace `a.png` only to hear of `b.png` next time."""
    async with world(tmp_path, flavour="aiearth") as w:
        inter = await w.run("edit", {"prompt": "brighter"},
                            attachments=[png((10, 10), name="a.png"), png((20, 400), name="b.png")])
        text = inter.all_text()
        assert is_ephemeral(inter) and "a.png" in text, text
        assert "b.png" in text, f"b.png (20x400, 1:20) is refused too, and Discord said so already; read: {text}"
        assert text.splitlines() == [  # each worded as when it is refused alone
            "Image 1 (`a.png`) is 10x10 pixels; each side must be at least 15 px.",
            "Image 2 (`b.png`) is 20x400 pixels; the aspect ratio must be between 1:16 and 16:1.",
        ], text
        assert w.gateway.generation_requests == [] and await w.ledger_rows() == []


async def test_seededit_with_two_images_says_it_takes_one_before_asking_to_fix_the_second(tmp_path):
    """SeedEdit 3.0 takes exactly one image. A member who picks it and attaches two, the second a
    10x10 icon, is told that SeedEdit takes exactly 1 reference image, not to replace `b.png`:
    no fix of an image would help, so the count, which none changes, is said first."""
    async with world(tmp_path, flavour="aiearth") as w:
        inter = await w.run("edit", {"prompt": "add a hat", "model": SEEDEDIT},
                            attachments=[png(name="a.png"), png((10, 10), name="b.png")])
        text = inter.all_text()
        assert is_ephemeral(inter), text
        assert "exactly 1 reference image" in text, f"SeedEdit takes one image whatever b.png is; read: {text}"
        assert "b.png" not in text, text

        # /series likewise: 14 images with 3 references are over 15 in all, whatever the icon is
        inter = await w.run("series", {"prompt": "a story", "count": 14},
                            attachments=[png(name="a.png"), png(name="c.png"), png((10, 10), name="b.png")])
        text = inter.all_text()
        assert is_ephemeral(inter) and "2 to 12 images" in text and "b.png" not in text, text
        assert w.gateway.generation_requests == [] and await w.ledger_rows() == []


@pytest.mark.parametrize("flavour", PRESETS)
async def test_one_and_several_references_reach_each_gateway_in_its_shape(tmp_path, flavour):
    """On every gateway, with no model named: one reference is a string, three an
    array in the member's order, Seedream told `disabled`; /series with two references sends both
    with `auto` and max_images = count; each request charged once with its reference count."""
    refs = [png(colour=(i * 40, 0, 0), name=f"r{i}.png") for i in range(3)]
    async with world(tmp_path, flavour=flavour) as w:
        one = await w.run("edit", {"prompt": "p"}, attachments=refs[:1])
        assert len(one.files()) == 1, one.all_text()
        body = w.gateway.generation_requests[-1].json
        assert isinstance(body["image"], str) and decode_data_uri(body["image"]) == ("png", refs[0][1])

        three = await w.run("edit", {"prompt": "p"}, attachments=refs)
        assert len(three.files()) == 1, three.all_text()
        body = w.gateway.generation_requests[-1].json
        assert [decode_data_uri(u)[1] for u in body["image"]] == [r[1] for r in refs]
        assert body["sequential_image_generation"] == "disabled" and "n" not in body

        series = await w.run("series", {"prompt": "a story", "count": 3}, attachments=refs[:2], timeout=30)
        assert len(series.files()) == 3, series.all_text()
        body = w.gateway.generation_requests[-1].json
        assert len(body["image"]) == 2 and body["sequential_image_generation"] == "auto"
        assert body["sequential_image_generation_options"] == {"max_images": 3}
        rows = await w.ledger_rows()
        assert [(r["status"], r["reference_images"], r["images_delivered"]) for r in rows] == [
            ("settled", 1, 1), ("settled", 3, 1), ("settled", 2, 3)]


class _HideGone(dict):
    """The CDN's attachments, those named gone* answered 404 (deleted from Discord meanwhile)."""

    def get(self, key, default=None):
        value = super().get(key, default)
        return None if value is not None and value.filename.startswith("gone") else value


async def test_a_reference_failing_midway_costs_nothing_and_frees_the_place(tmp_path):
    """/series with three references, the second gone from Discord when downloaded:
    the member alone is told which one (by position and name), nothing reaches the gateway,
    nothing is reserved or charged (/usage unchanged) and, at one request per member, their
    next /edit goes through and is charged once."""
    async with world(tmp_path, flavour="gogogotoken-com", max_requests_per_member=1) as w:
        w.discord.store._by_id = _HideGone(w.discord.store._by_id)
        usage = (await w.run("usage", {})).all_text()
        inter = await w.run("series", {"prompt": "a story", "count": 3},
                            attachments=[png(name="a.png"), png(name="gone.png"), png(name="c.png")])
        text = inter.all_text()
        assert "Image 2 (`gone.png`)" in text and "no longer on Discord" in text, text
        assert [bool(m["flags"] & 64) for m in inter.messages] == [True] and not inter.loading
        assert w.gateway.generation_requests == [] and await w.ledger_rows() == []
        assert (await w.run("usage", {})).all_text() == usage
        again = await w.run("edit", {"prompt": "p"}, attachments=[png(name="a.png")])
        assert len(again.files()) == 1, again.all_text()
        [row] = await w.ledger_rows()
        assert (row["status"], row["cost_micros"]) == ("settled", 162_000)


def _forty_megapixel_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (7728, 5152), (120, 130, 140)).save(buf, "JPEG", quality=80)
    return buf.getvalue()


async def test_a_40_megapixel_photo_is_refused_by_name_before_anything_is_spent(tmp_path):
    """README: at most 6000x6000 px. A 7728x5152 phone photo with a good one:
    refused privately before the defer, naming it, its size and the limit; nothing spent."""
    photo = ("IMG_0001.jpg", _forty_megapixel_jpeg(), "image/jpeg")
    async with world(tmp_path, flavour="xmsmartlink") as w:
        inter = await w.run("edit", {"prompt": "p"}, attachments=[png(name="ok.png"), photo], timeout=30)
        text = inter.all_text()
        assert "`IMG_0001.jpg`" in text and "7728x5152" in text and "6000x6000" in text, text
        assert is_ephemeral(inter) and inter.files() == []
        assert w.gateway.generation_requests == [] and await w.ledger_rows() == []
