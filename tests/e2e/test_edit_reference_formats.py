"""/edit: what SeedEdit 3.0 (PNG and JPEG only) receives from other formats keeps what the
eye sees: orientation, transparency, colours, 16-bit depth; the formats Seedream 4.x takes go as
they are, byte for byte."""

from __future__ import annotations

import io

from PIL import Image

from tests.e2e.harness import world
from tests.e2e.test_edit import decode_data_uri

SEEDEDIT = "doubao-seededit-3-0-i2i-250628"
SEEDREAM_4 = "doubao-seedream-4-0-250828"


def _enc(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _half_blue(mode: str = "RGB", size=(80, 40)) -> Image.Image:
    im = Image.new("RGB", size, (255, 0, 0))
    im.paste((0, 0, 255), (0, 0, size[1], size[1]))
    return im.convert(mode)


def _rotated_webp() -> bytes:  # stored 80x40, shown 40x80 (EXIF orientation 6: rotate 90 clockwise)
    exif = Image.Exif()
    exif[0x0112] = 6
    return _enc(_half_blue(), "WEBP", lossless=True, exif=exif.tobytes())


def _alpha_webp() -> bytes:
    im = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    im.paste((0, 255, 0, 255), (0, 0, 20, 20))
    return _enc(im, "WEBP", lossless=True, exact=True)  # exact: colour kept under alpha 0


def _transparent_gif() -> bytes:
    im = Image.new("P", (40, 40), 0)
    im.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    im.paste(1, (0, 0, 20, 20))
    return _enc(im, "GIF", transparency=0)


CASES = [
    # name, bytes, (mode, size) received, pixel (5, 5), pixel 5 px from the bottom-right corner
    ("rotated.webp", _rotated_webp(), ("RGB", (40, 80)), (0, 0, 255), (255, 0, 0)),
    ("alpha.webp", _alpha_webp(), ("RGBA", (40, 40)), (0, 255, 0, 255), (255, 0, 0, 0)),
    ("clear.gif", _transparent_gif(), ("RGBA", (40, 40)), (0, 255, 0, 255), (255, 0, 0, 0)),
    ("print.tif", _enc(Image.new("CMYK", (40, 40), (0, 255, 0, 0)), "TIFF"), ("RGB", (40, 40)), (255, 0, 255),
     (255, 0, 255)),
    ("deep.tif", _enc(Image.new("I;16", (40, 40), 40000), "TIFF"), ("I;16", (40, 40)), 40000, 40000),
]


async def test_converted_references_keep_orientation_transparency_and_colour(tmp_path):
    async with world(tmp_path, flavour="aiearth") as w:
        for name, data, (mode, size), first, second in CASES:
            inter = await w.run("edit", {"prompt": "p", "model": SEEDEDIT}, attachments=[(name, data, "image/x")])
            assert len(inter.files()) == 1, (name, inter.all_text())
            fmt, sent = decode_data_uri(w.gateway.generation_requests[-1].json["image"])
            with Image.open(io.BytesIO(sent)) as im:
                assert (fmt, im.mode, im.size) == ("png", mode, size), name
                corner = (im.width - 5, im.height - 5)
                assert (im.getpixel((5, 5)), im.getpixel(corner)) == (first, second), name

        # Seedream 4.x takes all of them: the member's bytes, untouched; but the one stored turned
        # goes upright, as shown (a model need not read its EXIF turn), as a lossless PNG.
        for name, data, (_mode, size), first, _second in CASES:
            inter = await w.run("edit", {"prompt": "p", "model": SEEDREAM_4}, attachments=[(name, data, "image/x")])
            assert len(inter.files()) == 1, (name, inter.all_text())
            images = w.gateway.generation_requests[-1].json["image"]
            [uri] = [images] if isinstance(images, str) else images
            fmt, sent = decode_data_uri(uri)
            if name != "rotated.webp":
                assert sent == data, name
                continue
            with Image.open(io.BytesIO(sent)) as im:
                assert (fmt, im.size, im.getpixel((5, 5))) == ("png", size, first), name
        assert {r["status"] for r in await w.ledger_rows()} == {"settled"}
