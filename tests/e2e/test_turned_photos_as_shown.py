"""A reference photo stored on its side (an EXIF orientation) is sent upright, decoded and re-encoded:
nothing the member sees is lost (its colour profile), and nothing that fit as attached is refused."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageCms

from tests.e2e.harness import world
from tests.e2e.test_edit import decode_data_uri, sent_images

SEEDREAM_4 = "doubao-seedream-4-0-250828"


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def _jpeg(im: Image.Image, **save) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", **save)
    return buf.getvalue()


def _noise(size: tuple[int, int], seed: int = 7) -> Image.Image:
    """A photo with as much fine detail as a JPEG can hold (gravel, foliage), deterministically."""
    return Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))


def _profile() -> bytes:
    # Any embedded ICC profile; phones embed theirs (an iPhone's portrait photo: Display P3 and an
    # EXIF orientation of 6). Its bytes are what a viewer or a model reads the colours by.
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


async def test_a_turned_phone_photo_keeps_its_colour_profile(tmp_path):
    # A member /edits a portrait phone photo (stored 640x480, EXIF orientation 6, an embedded ICC
    # colour profile, as every iPhone photo has: Display P3). Turned upright and re-encoded, it lost
    # the profile: the model read wide-gamut colours as sRGB (duller, shifted skin tones). It keeps it.
    icc = _profile()
    stored = Image.new("RGB", (640, 480), (200, 120, 60))
    photo = _jpeg(stored, quality=90, exif=_exif(6), icc_profile=icc)
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        inter = await w.run("edit", {"prompt": "make it golden hour", "model": SEEDREAM_4},
                            attachments=[("IMG_0002.jpg", photo, "image/jpeg")], timeout=30)  # fmt: skip
        assert len(inter.files()) == 1, inter.all_text()
        [uri] = sent_images(w)
        fmt, sent = decode_data_uri(uri)
        with Image.open(io.BytesIO(sent)) as im:
            assert (fmt, im.size) == ("jpeg", (480, 640))  # upright, as the member sees it
            assert im.info.get("icc_profile") == icc, (
                "the photo's colour profile was dropped when it was turned upright: "
                f"{'none' if not im.info.get('icc_profile') else 'another'} profile sent"
            )


async def test_a_turned_jpeg_under_10_mb_is_not_refused_as_over_10_mb(tmp_path):
    # A member attaches a detailed 4600x3450 photo, 9.1 MB, saved by their camera at JPEG quality
    # 75, with an EXIF orientation (shot in portrait). Turned upright at quality 95 to 85 it was
    # 10.8 MB, and /edit refused the member's own JPEG as "over 10 MB once converted". It goes
    # upright at the camera's own quality.
    stored = _noise((4600, 3450))
    photo = _jpeg(stored, quality=75, exif=_exif(6))
    assert 9 * 1024 * 1024 < len(photo) < 10 * 1024 * 1024, len(photo)
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        inter = await w.run("edit", {"prompt": "make it golden hour", "model": SEEDREAM_4},
                            attachments=[("IMG_0003.jpg", photo, "image/jpeg")], timeout=30)  # fmt: skip
        text = inter.all_text()
        assert "over 10 MB" not in text, f"a 9.1 MB JPEG was refused as over 10 MB: {text!r}"
        assert len(inter.files()) == 1, text
        [uri] = sent_images(w)
        fmt, sent = decode_data_uri(uri)
        assert fmt == "jpeg" and len(sent) <= 10 * 1024 * 1024
        with Image.open(io.BytesIO(sent)) as im:
            assert im.width < im.height  # upright


async def test_mirrored_cmyk_and_grayscale_photos_go_as_shown(tmp_path):
    # Orientations that mirror without a quarter turn (2, 4) keep their stored size
    # and are sent mirrored back; a CMYK and a grayscale JPEG stored turned go upright as a JPEG with
    # their colours as shown; the size asked for follows the shape as shown.
    left_red = Image.new("RGB", (480, 320), (30, 30, 220))
    left_red.paste((220, 30, 30), (0, 0, 240, 320))  # stored: red on the left, blue on the right
    cmyk = Image.new("CMYK", (480, 320), (0, 255, 255, 0))  # red
    cmyk.paste((255, 255, 0, 0), (0, 0, 240, 320))  # blue on the left
    gray = Image.new("L", (480, 320), 30)
    gray.paste(220, (0, 0, 240, 320))
    cases = [
        # name, bytes, size as sent, (pixel at (20, 20), pixel 20 px from the bottom-right)
        ("mirror2.jpg", _jpeg(left_red, quality=95, exif=_exif(2)), (480, 320), ("blue", "red")),
        ("mirror4.jpg", _jpeg(left_red, quality=95, exif=_exif(4)), (480, 320), ("red", "blue")),
        ("cmyk6.jpg", _jpeg(cmyk, quality=95, exif=_exif(6)), (320, 480), ("blue", "red")),
        ("gray8.jpg", _jpeg(gray, quality=95, exif=_exif(8)), (320, 480), ("dark", "light")),
    ]

    def colour(pixel) -> str:
        if isinstance(pixel, int) or len(set(pixel)) == 1 or max(pixel) - min(pixel) < 40:
            level = pixel if isinstance(pixel, int) else pixel[0]
            return "light" if level > 128 else "dark"
        return "red" if pixel[0] > pixel[2] else "blue"

    async with world(tmp_path, flavour="gogogotoken-com") as w:
        for name, data, size, (first, last) in cases:
            inter = await w.run("edit", {"prompt": "p", "model": SEEDREAM_4}, attachments=[(name, data, "image/jpeg")])
            assert len(inter.files()) == 1, (name, inter.all_text())
            [uri] = sent_images(w)
            fmt, sent = decode_data_uri(uri)
            with Image.open(io.BytesIO(sent)) as im:
                assert (fmt, im.size, im.getexif().get(0x0112, 1)) == ("jpeg", size, 1), name
                corner = (im.width - 20, im.height - 20)
                assert (colour(im.getpixel((20, 20))), colour(im.getpixel(corner))) == (first, last), name
            asked = w.gateway.generation_requests[-1].json["size"]
            width, height = (int(v) for v in asked.lower().split("x"))
            assert (width > height) == (size[0] > size[1]), (name, asked)
        assert {r["status"] for r in await w.ledger_rows()} == {"settled"}
