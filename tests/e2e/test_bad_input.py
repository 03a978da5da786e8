"""Bad input, as a table: each case gets a clear private message, the gateway is never called
and nothing is reserved or charged."""

from __future__ import annotations

import io
import zlib

import pytest
from PIL import Image

from tests.e2e.harness import world

EPHEMERAL = 1 << 6


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 90)).save(buf, "PNG")
    return buf.getvalue()


def corrupt_png() -> bytes:
    data = bytearray(png(64, 64))
    data[60:80] = b"\x00" * 20  # inside IDAT: the CRC no longer matches
    return bytes(data)


def huge_png() -> bytes:
    """A valid PNG just over 50 MB (incompressible data in a private chunk)."""
    base = png(64, 64)
    body = bytes(50 * 1024 * 1024 + 1)
    chunk = len(body).to_bytes(4, "big") + b"prVt" + body + zlib.crc32(b"prVt" + body).to_bytes(4, "big")
    return base[:-12] + chunk + base[-12:]


LONG = "a" * 4001

CASES = [
    # id, flavour, command, options, attachment, words the member must read
    ("empty-prompt", None, "imagine", {"prompt": "   "}, None, ["prompt"]),
    ("zero-width-prompt", None, "imagine", {"prompt": "\u200b\u200c\u200d\ufeff"}, None, ["prompt"]),
    ("invisible-marks-prompt", None, "imagine", {"prompt": "\u200e\u200f\u00ad\u2061"}, None, ["prompt"]),
    ("blank-filler-prompt", None, "imagine", {"prompt": "\u3164\u2800"}, None, ["prompt"]),
    ("invisible-edit-prompt", None, "edit", {"prompt": "\u115f\u1160\uffa0\u0301"},
     ("ok.png", png(64, 64), "image/png"), ["prompt"]),
    ("prompt-too-long", None, "imagine", {"prompt": LONG}, None, ["prompt"]),
    ("half-a-character-prompt", None, "imagine", {"prompt": "a cat \ud800 on a mat"}, None, ["broken character"]),
    ("size-0x0", None, "imagine", {"prompt": "a cat", "size": "0x0"}, None, ["size", "2K"]),
    ("size-huge", None, "imagine", {"prompt": "a cat", "size": "99999x99999"}, None, ["size", "2K"]),
    ("size-abc", None, "imagine", {"prompt": "a cat", "size": "abc"}, None, ["size"]),
    ("2K-without-tiers", "302ai", "imagine", {"prompt": "a cat", "size": "2K"}, None, ["size", "x"]),
    ("text-renamed-png", None, "edit", {"prompt": "brighter"}, ("photo.png", b"just some text, no image", "image/png"),
     ["photo.png", "not"]),
    ("50MB", None, "edit", {"prompt": "brighter"}, ("big.png", "huge", "image/png"), ["big.png", "MB"]),
    ("1x20000", None, "edit", {"prompt": "brighter"}, ("thin.png", png(1, 20000), "image/png"),
     ["thin.png", "1x20000"]),
    ("corrupt-png", None, "edit", {"prompt": "brighter"}, ("broken.png", corrupt_png(), "image/png"),
     ["broken.png", "damaged"]),
    ("blocked-term", None, "imagine", {"prompt": "nude"}, None, ["refused", "not charged"]),
    ("blocked-term-zero-width", None, "imagine", {"prompt": "a nu\u200bde portrait"}, None, ["refused", "not charged"]),
    ("blocked-term-soft-hyphen", None, "edit", {"prompt": "make it n\u00adude"}, ("ok.png", png(64, 64), "image/png"),
     ["refused", "not charged"]),
]  # fmt: skip


@pytest.mark.parametrize(("flavour", "command", "options", "attachment", "words"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])  # fmt: skip
async def test_bad_input_is_refused_clearly_and_costs_nothing(tmp_path, flavour, command, options, attachment, words):
    async with world(tmp_path, flavour=flavour or "gogogotoken-com") as w:
        await w.storage.guild_config.add_term(w.guild.id, "nude")
        extra = {}
        if attachment is not None:
            name, data, kind = attachment
            extra["attachments"] = [(name, huge_png() if data == "huge" else data, kind)]
        inter = await w.run(command, options, **extra)
        text = inter.all_text()
        for word in words:
            assert word in text, text
        assert len(text) < 500 and "Traceback" not in text
        if attachment is None:  # /edit defers before it reads the attachments: the refusal is a follow-up
            assert inter.callback_data and inter.callback_data.get("flags", 0) & EPHEMERAL
        assert inter.files() == []
        assert w.gateway.generation_requests == []
        # Nothing reserved or charged; a blocked prompt is kept as a refused attempt for moderators.
        rows = await w.ledger_rows()
        blocked = "refused" in words
        assert [(r["status"], r["error_code"], r["charged_micros"]) for r in rows] == (
            [("refused", "blocked_term", 0)] if blocked else []
        )


# The Discord client will not send an option outside the synced min/max, but a crafted one can
# (and discord.py does not check ranges): the double sends them as given, the bot refuses.
SEEDED = "doubao-seedream-3-0-t2i-250415"  # on aiearth; the only models that take a seed are 3.0
RAW_CASES = [
    ("imagine-count-0", "imagine", {"count": 0}, "That number of images can't be used: Choose 1 to 4 images."),
    ("imagine-count-16", "imagine", {"count": 16}, "That number of images can't be used: Choose 1 to 4 images."),
    ("series-count-1", "series", {"count": 1}, "That number of images can't be used: A series has 2 to 15 images."),
    ("series-count-16", "series", {"count": 16}, "That number of images can't be used: A series has 2 to 15 images."),
    ("seed-negative", "imagine", {"seed": -2, "model": SEEDED},
     "That seed can't be used: The seed must be a whole number from -1 to 2,147,483,647."),
    ("seed-huge", "imagine", {"seed": 2**40, "model": SEEDED},
     "That seed can't be used: The seed must be a whole number from -1 to 2,147,483,647."),
]


@pytest.mark.parametrize(("command", "options", "told"), [c[1:] for c in RAW_CASES], ids=[c[0] for c in RAW_CASES])
async def test_out_of_range_options_are_refused_before_anything_is_spent(tmp_path, command, options, told):
    async with world(tmp_path, flavour="aiearth") as w:
        inter = await w.run(command, {"prompt": "a comic", **options}, unchecked=True)
        assert inter.all_text() == told
        assert inter.callback_data["flags"] & 64  # only the member sees it
        assert await w.ledger_rows() == []
        assert w.gateway.generation_requests == []
