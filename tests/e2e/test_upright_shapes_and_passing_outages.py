"""A size from the first image's shape as it is shown (EXIF orientation), the photo itself sent as
it is shown, and a passing outage whose words mention moderation is not the content filter's refusal."""

from __future__ import annotations

import io

from PIL import Image

from tests.doubles.image_gateway_double import Fault
from tests.e2e.harness import world
from tests.e2e.test_edit import decode_data_uri, image_bytes, sent_images

FILTER = "The content filter refused this request"


def phone_photo() -> bytes:
    """A phone's portrait photo as phones store it: the sensor's landscape pixels (4032x3024) and
    EXIF Orientation 6 ("rotate 90° to show"). Discord, browsers and the bot's own conversion
    (pipeline/images.py `_first_frame`: ImageOps.exif_transpose) show it upright: 3024x4032."""
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = Image.new("RGB", (4032, 3024), (40, 60, 220))  # blue, its left half red: shown, the top half
    stored.paste((220, 40, 40), (0, 0, 2016, 3024))
    stored.save(buf, "JPEG", exif=exif.tobytes(), quality=60)
    return buf.getvalue()


async def test_a_portrait_phone_photo_is_edited_in_portrait(tmp_path):
    # A member /edits the portrait photo straight off their phone, no size. README: "a
    # phone's 3:4 [asks] for 1728x2304". The shape used to come from the stored pixels, ignoring
    # the EXIF orientation every viewer applies: a landscape 2304x1728 for an upright portrait.
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        inter = await w.run("edit", {"prompt": "make it golden hour"},
                            attachments=[("IMG_0001.jpg", phone_photo(), "image/jpeg")], timeout=30)  # fmt: skip
        assert len(inter.files()) == 1, inter.all_text()
        assert w.gateway.generation_requests[-1].json["size"] == "1728x2304"


async def test_a_phone_photo_is_sent_upright(tmp_path):
    # The bot asks for a portrait result of the portrait photo; the photo itself went as stored, on
    # its side, for the model to turn by its EXIF tag, which an image model need not read: it would
    # edit a landscape picture into a portrait frame. It goes upright, a JPEG still, no turn left.
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        inter = await w.run("edit", {"prompt": "make it golden hour"},
                            attachments=[("IMG_0001.jpg", phone_photo(), "image/jpeg")], timeout=30)  # fmt: skip
        assert len(inter.files()) == 1, inter.all_text()
        [sent] = sent_images(w)
        fmt, data = decode_data_uri(sent)
        with Image.open(io.BytesIO(data)) as im:
            assert (fmt, im.format, im.size) == ("jpeg", "JPEG", (3024, 4032))
            assert im.getexif().get(0x0112, 1) == 1
            top, bottom = im.getpixel((1512, 500)), im.getpixel((1512, 3500))
        assert top[0] > 180 and top[2] < 90, top  # red above, as the member sees it
        assert bottom[2] > 180 and bottom[0] < 90, bottom


async def test_a_passing_503_that_mentions_moderation_is_retried_not_called_a_refusal(tmp_path):
    # The content filter is also known by its words, but not at a passing outage's status: a 503
    # "upstream moderation service temporarily unavailable, please retry" is retried (the gateway
    # recovers on the second call), not told as "The content filter refused this request".
    async with world(tmp_path, flavour="aiearth") as w:
        w.gateway.script(Fault.status(503, "ServiceUnavailable",
                                      "upstream moderation service temporarily unavailable, please retry later"))
        inter = await w.run("imagine", {"prompt": "a lighthouse at dawn"}, timeout=30)
        assert FILTER not in inter.all_text(), inter.all_text()
        assert len(w.gateway.generation_requests) == 2, "a passing 5xx was not asked again"
        assert len(inter.files()) == 1, inter.all_text()


async def test_a_wide_gif_reference_is_shaped_wide(tmp_path):
    # A GIF (converted before it is sent) still sets the shape.
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        inter = await w.run("edit", {"prompt": "as a poster"},
                            attachments=[("a.gif", image_bytes("GIF", size=(1600, 900)), "image/gif")], timeout=30)
        assert len(inter.files()) == 1, inter.all_text()
        assert w.gateway.generation_requests[-1].json["size"] == "2848x1600"
