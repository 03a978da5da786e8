"""Reference images as members really attach them, on every gateway flavour, and what the
gateway receives for them; refusals are private, told before the member types where Discord's
metadata tells, and charge nothing."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from tests.doubles.image_gateway_double import Fault
from tests.e2e.harness import world
from tests.e2e.staff import is_ephemeral
from tests.e2e.test_edit import MENU, _text_inputs, decode_data_uri, image_bytes, sent_images
from tests.e2e.test_result_buttons import press, result_message

SEEDEDIT = "doubao-seededit-3-0-i2i-250628"
MiB = 1024 * 1024


def enc(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _half(size=(80, 40)) -> Image.Image:
    im = Image.new("RGB", size, (255, 0, 0))
    im.paste((0, 0, 255), (0, 0, size[1], size[1]))
    return im


def _exif_jpeg(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return enc(_half(), "JPEG", exif=exif.tobytes())


def _animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (40, 40), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    extra = {"lossless": True} if fmt == "WEBP" else {}
    return enc(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, **extra)


def _palette_png() -> bytes:
    im = Image.new("P", (40, 40), 0)
    im.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    im.paste(1, (0, 0, 20, 20))
    return enc(im, "PNG", transparency=0)


def png_of_exact_size(total: int) -> bytes:
    """A valid PNG of exactly `total` bytes (padded with a private ancillary chunk)."""
    base = enc(Image.new("RGB", (64, 48), (9, 9, 9)), "PNG")
    pad = total - len(base) - 12
    body = b"\0" * pad
    chunk = struct.pack(">I", pad) + b"prVt" + body + struct.pack(">I", zlib.crc32(b"prVt" + body))
    out = base[:-12] + chunk + base[-12:]
    assert len(out) == total
    return out


# name -> (bytes, content type Discord lists)
GOOD = {
    "alpha.png": (enc(Image.new("RGBA", (40, 40), (1, 2, 3, 100)), "PNG"), "image/png"),
    "palette.png": (_palette_png(), "image/png"),
    "deep.png": (enc(Image.new("I;16", (40, 40), 40000), "PNG"), "image/png"),
    "grey.png": (enc(Image.new("L", (40, 40), 99), "PNG"), "image/png"),
    "print.jpg": (enc(Image.new("CMYK", (40, 40), (0, 255, 0, 0)), "JPEG"), "image/jpeg"),
    "progressive.jpg": (enc(_half(), "JPEG", progressive=True), "image/jpeg"),
    "rot6.jpg": (_exif_jpeg(6), "image/jpeg"),
    "rot8.jpg": (_exif_jpeg(8), "image/jpeg"),
    "anim.gif": (_animated("GIF"), "image/gif"),
    "anim.webp": (_animated("WEBP"), "image/webp"),
    "pic.bmp": (enc(_half(), "BMP"), "image/bmp"),
    "pic.tiff": (enc(_half(), "TIFF"), "image/tiff"),
    "liar.png": (enc(_half(), "PNG"), "image/jpeg"),  # a PNG Discord lists as JPEG: its bytes decide
    "f15.png": (enc(Image.new("RGB", (15, 15)), "PNG"), "image/png"),
    "r16.png": (enc(Image.new("RGB", (15, 240)), "PNG"), "image/png"),
}
BAD = {
    # name -> (bytes, content type, words the member reads)
    "pic.svg": (b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><rect/></svg>', "image/svg+xml",
                "can't be used"),
    "doc.jpg": (b"%PDF-1.4\n" + b"x" * 500, "image/jpeg", "can't be used"),
    "one.png": (enc(Image.new("RGB", (1, 1)), "PNG"), "image/png", "1x1 pixels"),
    "f14.png": (enc(Image.new("RGB", (14, 14)), "PNG"), "image/png", "14x14 pixels"),
    "r16p.png": (enc(Image.new("RGB", (15, 241)), "PNG"), "image/png", "aspect ratio"),
    "photo.heic": (b"\x00\x00\x00\x18ftypheic" + bytes(200), "image/heic", "can't be used"),
}
# flavour, model named (None: the one /edit picks), formats the model takes as they are
FLAVOURS = [
    ("gogogotoken-com", None, {"png", "jpeg", "webp", "bmp", "tiff", "gif"}),
    ("gogogotoken-ai", None, {"png", "jpeg", "webp", "bmp", "tiff", "gif"}),
    ("xmsmartlink", None, {"png", "jpeg", "webp", "bmp", "tiff", "gif"}),
    ("aiearth", SEEDEDIT, {"png", "jpeg"}),
    ("302ai", None, {"png", "jpeg"}),  # one image, no size: SeedEdit 3.0 (README)
]
_SNIFF = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp", "BMP": "bmp", "TIFF": "tiff", "GIF": "gif"}


@pytest.mark.parametrize(("flavour", "model", "taken"), FLAVOURS, ids=[f[0] for f in FLAVOURS])
async def test_every_real_world_format_reaches_each_gateway_as_a_data_uri_it_takes(tmp_path, flavour, model, taken):
    """what the gateway double receives is a lowercase data URI of a format the model takes
    (SEEDREAM-API.md: png, jpeg; 4.x and 5.0 also webp, bmp, tiff, gif), the member's bytes untouched
    when taken, else the first frame as PNG, same size; a JPEG stored turned (EXIF) goes upright, a
    JPEG still; one image is a string; charged once each."""
    async with world(tmp_path, flavour=flavour) as w:
        for name, (data, ctype) in GOOD.items():
            before = len(w.gateway.generation_requests)
            options = {"prompt": "p", **({"model": model} if model else {})}
            inter = await w.run("edit", options, attachments=[(name, data, ctype)])
            assert len(inter.files()) == 1, (name, inter.all_text())
            assert len(w.gateway.generation_requests) == before + 1
            image = w.gateway.generation_requests[-1].json["image"]
            assert isinstance(image, str), name  # one reference: a string, as SeedEdit's API takes
            fmt, sent = decode_data_uri(image)
            with Image.open(io.BytesIO(data)) as original:
                own = _SNIFF[original.format if original.format != "MPO" else "JPEG"]
                if name.startswith("rot"):  # shown a quarter turn from how it is stored
                    with Image.open(io.BytesIO(sent)) as got:
                        assert (fmt, got.size[::-1], got.getexif().get(0x0112, 1)) == ("jpeg", original.size, 1)
                elif own in taken:
                    assert (fmt, sent) == (own, data), name
                else:
                    with Image.open(io.BytesIO(sent)) as got:
                        assert (fmt, got.size, getattr(got, "n_frames", 1)) == ("png", original.size, 1), name
        rows = await w.ledger_rows()
        assert [r["status"] for r in rows] == ["settled"] * len(GOOD)
        assert all(r["reference_images"] == 1 for r in rows)


async def test_bad_real_world_files_are_refused_privately_by_name_and_cost_nothing(tmp_path):
    """each refusal names the file and the reason, only the member sees it, nothing reaches
    the gateway, no ledger row, and /usage reads the same before and after."""
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        await w.run("imagine", {"prompt": "something paid for"})
        usage_before = (await w.run("usage", {})).all_text()
        rows_before = await w.ledger_rows()
        sent = len(w.gateway.generation_requests)
        for name, (data, ctype, words) in BAD.items():
            inter = await w.run("edit", {"prompt": "p"}, attachments=[(name, data, ctype)])
            text = inter.all_text()
            assert f"`{name}`" in text and words in text, (name, text)
            assert inter.files() == [] and not inter.loading
            assert [bool(m["flags"] & 64) for m in inter.messages] == [True], (name, inter.messages)
        assert len(w.gateway.generation_requests) == sent
        assert await w.ledger_rows() == rows_before
        assert (await w.run("usage", {})).all_text() == usage_before


async def test_references_exactly_at_the_limits_go_through_and_one_past_is_refused(tmp_path):
    """10 MiB exactly, 6000x6000, 6000 px wide at 16:1 and 15x240 are taken; a byte or a
    pixel more is refused privately, unbilled."""
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        taken = [
            ("exact.png", png_of_exact_size(10 * MiB)),
            ("square.png", enc(Image.new("RGB", (6000, 6000)), "PNG")),
            ("wide.png", enc(Image.new("RGB", (6000, 375)), "PNG")),
        ]
        for name, data in taken:
            inter = await w.run("edit", {"prompt": "p"}, attachments=[(name, data, "image/png")], timeout=60)
            assert len(inter.files()) == 1, (name, inter.all_text())
            assert decode_data_uri(sent_images(w)[0]) == ("png", data)
        refused = [
            ("over.png", png_of_exact_size(10 * MiB + 1), "10.1 MB; the limit is 10 MB"),
            ("wider.png", enc(Image.new("RGB", (6001, 380)), "PNG"), "6001x380"),
        ]
        sent = len(w.gateway.generation_requests)
        for name, data, words in refused:
            inter = await w.run("edit", {"prompt": "p"}, attachments=[(name, data, "image/png")], timeout=60)
            assert words in inter.all_text() and is_ephemeral(inter), (name, inter.all_text())
        assert len(w.gateway.generation_requests) == sent
        assert [r["status"] for r in await w.ledger_rows()] == ["settled"] * 3


async def test_series_references_plus_images_stay_within_fifteen(tmp_path):
    """3 references + 13 images is refused privately before anything is spent; 3 + 12 goes,
    the gateway receiving 3 images and max_images 12 (SEEDREAM-API.md: at most 15 in all)."""
    refs = [(f"{i}.png", image_bytes("PNG", colour=(i, i, i)), "image/png") for i in range(3)]
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        inter = await w.run("series", {"prompt": "a story", "count": 13}, attachments=refs)
        assert "2 to 12 images with 3 reference images" in inter.all_text() and is_ephemeral(inter)
        assert w.gateway.generation_requests == [] and await w.ledger_rows() == []
        inter = await w.run("series", {"prompt": "a story", "count": 12}, attachments=refs, timeout=30)
        assert len(inter.files()) == 12, inter.all_text()
        body = w.gateway.generation_requests[-1].json
        assert len(body["image"]) == 3 and body["sequential_image_generation_options"] == {"max_images": 12}


async def test_the_edit_menu_on_ten_images_on_302ai_picks_a_model_that_takes_them_all(tmp_path):
    """302.ai's default (Seedream 3.0) takes no image and SeedEdit one: ten images go to
    Seedream 4.0, all ten, in order."""
    images = [(f"{i}.png", image_bytes("PNG", colour=(i, 0, 0)), "image/png") for i in range(10)]
    async with world(tmp_path, flavour="302ai") as w:
        message = await w.discord.post_user_message(w.channel, w.bob, "", attachments=images)
        menu = await w.discord.invoke_message_command(MENU, message, user=w.alice)
        await menu.wait_for_ack()
        input_id = next(_text_inputs(menu.modal["components"]))
        submitted = await w.discord.submit_modal(menu.modal["custom_id"], {input_id: "sharpen"}, user=w.alice,
                                                 from_interaction=menu)
        await submitted.wait_for_final(timeout=15, quiet=0.3)
        assert len(submitted.files()) == 1, submitted.all_text()
        body = w.gateway.generation_requests[-1].json
        assert body["model"] == "doubao-seedream-4-0-250828"
        assert [decode_data_uri(u)[1] for u in sent_images(w)] == [data for _, data, _ in images]


# ----------------------------------------------------------------------------------- findings

WIDE_4K = (6240, 2656)  # Seedream 4.0 / 4.5's own 4K preset at 21:9 (SEEDREAM-API.md)


async def test_variation_of_the_bots_own_wide_4k_result_is_refused_at_the_press(tmp_path):
    """A 4K result at 21:9 (6240x2656, one of the sizes Seedream makes) is wider than a reference
    may be (6000). Variation used to open its form, and only after the member typed a prompt say
    the bot's own image "is 6240x2656 pixels". Told at the press now, privately, as Upscale does."""
    async with world(tmp_path, flavour="gogogotoken-com", gateway={"image_size": WIDE_4K}) as w:
        first = await w.run("imagine", {"prompt": "a wide valley", "size": "4K"})
        request_id = (await w.ledger_rows())[0]["id"]
        opened = await press(w, result_message(first), "variation", request_id)
        assert opened.modal is None, opened.modal
        assert is_ephemeral(opened) and "6240x2656" in opened.all_text(), opened.all_text()
        assert len(w.gateway.generation_requests) == 1 and len(await w.ledger_rows()) == 1


async def test_edit_menu_on_the_bots_own_wide_4k_result_is_refused_before_the_form(tmp_path):
    """The same result through Apps -> Edit with Seedream: Discord lists the attachment's width and
    height, so the refusal comes before the form, not after the prompt."""
    async with world(tmp_path, flavour="gogogotoken-com", gateway={"image_size": WIDE_4K}) as w:
        first = await w.run("imagine", {"prompt": "a wide valley", "size": "4K"})
        menu = await w.discord.invoke_message_command(MENU, result_message(first), user=w.alice)
        await menu.wait_for_final(timeout=10, quiet=0.3)
        assert menu.modal is None, menu.modal
        assert is_ephemeral(menu) and "6240x2656" in menu.all_text(), menu.all_text()
        assert len(w.gateway.generation_requests) == 1 and len(await w.ledger_rows()) == 1


async def test_url_mode_sends_discords_links_for_taken_formats_and_data_uris_for_converted_ones(tmp_path):
    """(README: `REFERENCE_IMAGES_AS=url` passes Discord's attachment links; a converted image
    travels as a data URI): SeedEdit gets the link of a PNG/JPEG and a PNG data URI of a GIF/BMP; a
    JPEG stored turned goes upright, as a JPEG data URI."""
    async with world(tmp_path, flavour="aiearth", reference_images_as="url") as w:
        for name in ("alpha.png", "rot6.jpg", "liar.png", "anim.gif", "pic.bmp"):
            data, ctype = GOOD[name]
            inter = await w.run("edit", {"prompt": "p", "model": SEEDEDIT}, attachments=[(name, data, ctype)])
            assert len(inter.files()) == 1, (name, inter.all_text())
            [sent] = sent_images(w)
            if name.endswith((".gif", ".bmp")):
                assert decode_data_uri(sent)[0] == "png", name
            elif name.startswith("rot"):
                assert decode_data_uri(sent)[0] == "jpeg", name
            else:
                assert sent.startswith(w.discord.base_url) and "/attachments/" in sent, (name, sent[:80])
                assert w.gateway.reference_urls[-1] == sent


async def test_the_content_filter_refusing_a_reference_is_private_and_costs_nothing(tmp_path):
    """(README: the gateway's content filter refusing the member's prompt or images is a
    private reply, the public "thinking" reply removed, costs nothing, never retried)."""
    png = ("me.png", image_bytes("PNG"), "image/png")
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        usage_before = (await w.run("usage", {})).all_text()
        w.gateway.script(Fault.status(400, "InputImageSensitiveContentDetected",
                                      "The request failed because the input image may contain sensitive information."))
        inter = await w.run("edit", {"prompt": "p"}, attachments=[png])
        assert inter.files() == [] and not inter.loading, inter.messages
        assert [bool(m["flags"] & 64) for m in inter.messages] == [True], inter.messages  # the member's alone
        assert "charged" in inter.all_text(), inter.all_text()
        assert len(w.gateway.generation_requests) == 1  # not retried
        [row] = await w.ledger_rows()
        assert row["cost_micros"] == 0 and not row["images_delivered"]
        assert (await w.run("usage", {})).all_text() == usage_before


async def test_the_gateway_refusing_a_reference_as_invalid_says_so_and_costs_nothing(tmp_path):
    """a 400 InvalidImageURL (the gateway could not read the image) is told with the
    gateway's words and "not charged"; nothing is billed, /usage unchanged."""
    png = ("me.png", image_bytes("PNG"), "image/png")
    async with world(tmp_path, flavour="aiearth") as w:
        usage_before = (await w.run("usage", {})).all_text()
        w.gateway.script(Fault.status(400, "InvalidImageURL", "The image specified in the request is not valid."))
        inter = await w.run("edit", {"prompt": "p"}, attachments=[png])
        text = inter.all_text()
        assert inter.files() == [] and "not valid" in text and "not charged" in text, text
        assert not inter.loading
        [row] = await w.ledger_rows()
        assert row["cost_micros"] == 0 and not row["images_delivered"]
        assert (await w.run("usage", {})).all_text() == usage_before
