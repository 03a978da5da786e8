"""pipeline.references against a loopback CDN: metadata pre-check, download, byte check, conversion."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import discord
import pytest
from aiohttp import web
from PIL import Image

from image_gateway.catalog import SEEDEDIT_3_I2I, SEEDREAM_4_0
from pipeline import references
from pipeline.explain import MAX_MESSAGE, AttachmentError, AttachmentErrors, explain
from pipeline.references import (
    MAX_REFERENCE_BYTES,
    is_discord_url,
    load_references,
    looks_like_image,
    precheck,
)


def encode(fmt: str, size=(40, 30), colour=(10, 200, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, fmt)
    return buf.getvalue()


@dataclass
class Att:
    filename: str
    url: str
    size: int
    width: int | None = None
    height: int | None = None
    content_type: str | None = "image/png"


class CDN:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.hits: list[str] = []
        self.base = ""

    async def serve(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        data = self.files.get(request.match_info["name"])
        return web.Response(status=404) if data is None else web.Response(body=data)

    def attachment(self, name: str, data: bytes, **meta) -> Att:
        self.files[name] = data
        return Att(name, f"{self.base}/attachments/{name}?ex=1&hm=sig", len(data), **meta)


@pytest.fixture
async def cdn(monkeypatch) -> AsyncIterator[CDN]:
    server = CDN()
    app = web.Application()
    app.router.add_get("/attachments/{name}", server.serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    monkeypatch.setattr(discord.http.Route, "BASE", f"{server.base}/api/v10")  # as DISCORD_API_BASE_URL does
    yield server
    await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_accepted_formats_pass_through_untouched_in_order(cdn, http):
    png, jpeg = encode("PNG"), encode("JPEG")
    atts = [cdn.attachment("a.png", png), cdn.attachment("b.jpg", jpeg)]
    refs = await load_references(http, atts, SEEDREAM_4_0)
    assert [(r.filename, r.format, r.data, r.url, r.converted) for r in refs] == [
        ("a.png", "png", png, atts[0].url, False), ("b.jpg", "jpeg", jpeg, atts[1].url, False),
    ]
    assert cdn.hits == ["/attachments/a.png", "/attachments/b.jpg"]


async def test_webp_becomes_a_lossless_png_without_a_url_for_seededit(cdn, http):
    webp = encode("WEBP")
    [ref] = await load_references(http, [cdn.attachment("w.webp", webp)], SEEDEDIT_3_I2I)
    assert (ref.format, ref.converted) == ("png", True)  # travels as a data URI even in url mode
    assert ref.url.startswith(cdn.base)  # the source is still known (approvals reload from it)
    with Image.open(io.BytesIO(ref.data)) as out, Image.open(io.BytesIO(webp)) as original:
        assert out.format == "PNG"
        assert out.convert("RGB").tobytes() == original.convert("RGB").tobytes()


@pytest.mark.parametrize(
    ("data", "code", "english", "chinese"),
    [
        (b"hello world" * 20, "not_image", "is not an image.", "不是图片。"),
        (encode("PNG")[:50], "corrupt", "damaged image file", "损坏"),
        (encode("PNG", size=(10, 40)), "too_small", "is 10x40 pixels", "10x40 像素"),
        (encode("PNG", size=(20, 400)), "bad_aspect", "between 1:16 and 16:1", "宽高比"),
        (b"\x00\x00\x00\x18ftypavif" + bytes(100), "unsupported_format", "can't be used", "无法使用"),
    ],
)
async def test_a_bad_attachment_names_itself_in_both_languages(cdn, http, data, code, english, chinese):
    good = cdn.attachment("good.png", encode("PNG"))
    with pytest.raises(AttachmentError) as caught:
        await load_references(http, [good, cdn.attachment("bad.png", data)], SEEDREAM_4_0)
    assert (caught.value.name, caught.value.position, caught.value.code) == ("bad.png", 2, code)
    en, zh = explain(caught.value, "en-US"), explain(caught.value, "zh-CN")
    assert en.startswith("Image 2 (`bad.png`) ") and english in en
    assert zh.startswith("第 2 张图片（`bad.png`）") and chinese in zh
    with pytest.raises(AttachmentError) as caught:  # alone, it is named alone
        await load_references(http, [cdn.attachment("bad.png", data)], SEEDREAM_4_0)
    assert explain(caught.value, "en-US").startswith("The attachment `bad.png` ")
    assert explain(caught.value, "zh-CN").startswith("附件 `bad.png` ")


async def test_attachments_of_the_same_name_are_told_apart_by_their_position(cdn, http):
    """Pasted screenshots are all image.png: the refusal says which one to replace."""
    good, bad = encode("PNG"), b"just some text, not a picture" * 10
    told = []
    for files in ((bad, good), (good, bad)):
        atts = [cdn.attachment(f"{i}.png", data) for i, data in enumerate(files)]
        for att in atts:
            att.filename = "image.png"
        with pytest.raises(AttachmentError) as caught:
            await load_references(http, atts, SEEDREAM_4_0)
        told.append((explain(caught.value, "en-US"), explain(caught.value, "zh-CN")))
    assert told == [
        ("Image 1 (`image.png`) is not an image.", "第 1 张图片（`image.png`）不是图片。"),
        ("Image 2 (`image.png`) is not an image.", "第 2 张图片（`image.png`）不是图片。"),
    ]


async def test_the_first_bad_attachment_in_order_is_reported(cdn, http):
    atts = [cdn.attachment("one.txt", b"text" * 50), cdn.attachment("two.txt", b"more" * 50)]
    with pytest.raises(AttachmentError) as caught:
        await load_references(http, atts, SEEDREAM_4_0)
    assert caught.value.name == "one.txt"


async def test_a_missing_file_and_an_oversized_body_are_refused(cdn, http):
    gone = cdn.attachment("gone.png", b"")
    del cdn.files["gone.png"]
    with pytest.raises(AttachmentError) as caught:
        await load_references(http, [gone], SEEDREAM_4_0)
    # its message deleted: no try will bring it back, so none is suggested
    assert caught.value.code == "gone"
    assert explain(caught.value, "en-US") == (
        "The attachment `gone.png` is no longer on Discord (its message was deleted). Nothing was made."
    )
    # Discord said it was small; the body says otherwise: the download stops at the cap.
    lying = cdn.attachment("lying.png", b"\x89PNG" + bytes(MAX_REFERENCE_BYTES))
    lying.size = 100
    with pytest.raises(AttachmentError) as caught:
        await load_references(http, [lying], SEEDREAM_4_0)
    assert caught.value.code == "over_size_limit"
    assert "is over the 10 MB limit" in explain(caught.value, "en-US")  # not "is 10.0 MB; the limit is 10 MB"


def test_precheck_refuses_from_metadata_without_any_download():
    ok = Att("ok.png", "https://cdn.discordapp.com/attachments/1/2/ok.png", 1000, 100, 100)
    precheck([ok])
    with pytest.raises(AttachmentError) as caught:
        precheck([ok, Att("big.png", "https://cdn.discordapp.com/attachments/1/2/big.png", MAX_REFERENCE_BYTES + 1)])
    assert (caught.value.name, caught.value.position) == ("big.png", 2)
    # One byte over reads as over, not "is 10.0 MB; the limit is 10 MB."
    assert explain(caught.value, "en-US") == "Image 2 (`big.png`) is 10.1 MB; the limit is 10 MB."
    assert explain(caught.value, "zh-CN") == "第 2 张图片（`big.png`）大小为 10.1 MB，上限为 10 MB。"
    for width, height, code in ((6001, 6000, "too_large_pixels"), (14, 100, "too_small"), (17, 289, "bad_aspect")):
        with pytest.raises(AttachmentError) as caught:
            precheck([Att("x.png", "https://cdn.discordapp.com/attachments/1/2/x.png", 1000, width, height)])
        assert caught.value.code == code
        assert f"{width}x{height}" in explain(caught.value, "zh-CN")
    edge = Att("edge.png", "https://cdn.discordapp.com/attachments/1/2/e.png", MAX_REFERENCE_BYTES, 6000, 375)
    precheck([edge])  # 16:1, 10 MB


def test_precheck_names_every_refused_attachment_by_its_option_in_one_answer():
    """Nothing is downloaded yet, so every attachment the metadata refuses is told at once, each
    by its option's number (None: an option left empty) and worded as when it is refused alone."""
    url = "https://cdn.discordapp.com/attachments/1/2/x.png"
    ok, icon = Att("ok.png", url, 1000, 100, 100), Att("icon.png", url, 1000, 10, 10)
    strip = Att("s.png", url, 1000, 20, 400)
    with pytest.raises(AttachmentError) as caught:
        precheck([ok, None, icon])
    assert not isinstance(caught.value, AttachmentErrors) and caught.value.position == 3
    with pytest.raises(AttachmentErrors) as caught:
        precheck([icon, None, ok, strip])
    assert [(e.name, e.position) for e in caught.value.errors] == [("icon.png", 1), ("s.png", 4)]
    assert explain(caught.value, "en-US") == (
        "Image 1 (`icon.png`) is 10x10 pixels; each side must be at least 15 px.\n"
        "Image 4 (`s.png`) is 20x400 pixels; the aspect ratio must be between 1:16 and 16:1."
    )
    assert explain(caught.value, "zh-CN").splitlines()[1].startswith("第 4 张图片（`s.png`）")
    with pytest.raises(AttachmentError) as caught:  # one given, in `image2`: named alone
        precheck([None, icon])
    assert explain(caught.value, "en-US").startswith("The attachment `icon.png` ")


def test_several_refusals_with_long_names_keep_every_image_within_discords_2000_characters():
    """Long file names are shortened, not the answer cut: the last image is still named."""
    names = [f"{i}{'x' * 900}.png" for i in range(4)]
    with pytest.raises(AttachmentErrors) as caught:
        precheck([Att(name, "https://cdn.discordapp.com/attachments/1/2/x.png", 1000, 10, 10) for name in names])
    for locale in ("en-US", "zh-CN"):
        text = explain(caught.value, locale)
        assert len(text) <= MAX_MESSAGE and not text.endswith("…"), len(text)
        assert [line.split("`")[1][0] for line in text.splitlines()] == ["0", "1", "2", "3"]
        assert text.count("10x10") == 4


def test_looks_like_image_uses_type_or_extension():
    assert looks_like_image(Att("a.bin", "u", 1, content_type="image/png"))
    assert looks_like_image(Att("photo.JPG", "u", 1, content_type=None))
    assert not looks_like_image(Att("notes.txt", "u", 1, content_type="text/plain"))


def test_a_video_is_not_an_image_though_discord_gives_it_dimensions():
    assert not looks_like_image(Att("clip.mp4", "u", 1, 1920, 1080, content_type="video/mp4"))
    assert not looks_like_image(Att("clip.gif.mp4", "u", 1, 640, 480, content_type=None))
    assert not looks_like_image(Att("a.bin", "u", 1, 10, 10, content_type=None))
    assert not looks_like_image(Att("fake.png", "u", 1, 64, 64, content_type="video/webm"))


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://cdn.discordapp.com/attachments/1/2/a.png?ex=1", True),
        ("https://media.discordapp.net/attachments/1/2/a.png", True),
        ("https://CDN.discordapp.com./attachments/1/2/a.png", True),
        ("http://cdn.discordapp.com/attachments/1/2/a.png", False),  # not https
        ("https://cdn.discordapp.com:8443/attachments/1/2/a.png", False),
        ("https://cdn.discordapp.com.evil.example/a.png", False),
        ("https://cdn.discordapp.com@169.254.169.254/latest/meta-data", False),
        ("http://169.254.169.254/latest/meta-data", False),
        ("http://127.0.0.1:6379/", False),
        ("file:///etc/passwd", False),
        ("/attachments/1/2/a.png", False),
        ("not a url", False),
    ],
)
def test_only_discords_cdn_is_a_discord_url(url, allowed, monkeypatch):
    monkeypatch.setattr(discord.http.Route, "BASE", "https://discord.com/api/v10")  # not a test double's
    assert is_discord_url(url) is allowed


async def test_an_attachment_elsewhere_is_refused_before_any_download(cdn, http, monkeypatch):
    # The configured DISCORD_API_BASE_URL's host is trusted (on loopback, any loopback name), no other.
    good = cdn.attachment("good.png", encode("PNG"))
    elsewhere = Att("evil.png", good.url.replace(cdn.base, "http://10.0.0.5:1"), 100)
    checks = {
        "Image 2 (`evil.png`)": lambda: precheck([good, elsewhere]),
        "The attachment `evil.png`": lambda: load_references(http, [elsewhere], SEEDREAM_4_0),
    }
    for named, check in checks.items():
        with pytest.raises(AttachmentError) as caught:
            result = check()
            if hasattr(result, "__await__"):
                await result
        assert caught.value.code == "not_from_discord"
        assert explain(caught.value, "en-US") == f"{named} is not a file stored on Discord, so it was not used."
        assert "Discord" in explain(caught.value, "zh-CN")
    assert cdn.hits == []
    monkeypatch.setattr(discord.http.Route, "BASE", "https://discord.com/api/v10")  # not set: the CDN only
    with pytest.raises(AttachmentError):
        precheck([good])


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:6001/attachments/1/2/a.png", True),  # a stand-in's files beside its API
        ("http://localhost:6001/attachments/1/2/a.png", True),  # the same machine by its other name
        ("http://[::1]:6001/attachments/1/2/a.png", True),
        ("http://10.0.0.5/attachments/1/2/a.png", False),
        ("http://169.254.169.254/latest/meta-data", False),
        ("ftp://127.0.0.1/a.png", False),
    ],
)
def test_a_stand_in_for_discord_on_this_machine_may_serve_files_on_any_loopback_name(url, allowed, monkeypatch):
    monkeypatch.setattr(discord.http.Route, "BASE", "http://127.0.0.1:6000/api/v10")  # DISCORD_API_BASE_URL
    assert is_discord_url(url) is allowed


def animated(fmt: str, frames: int = 3) -> bytes:
    images = [Image.effect_noise((64, 48), 50 + 10 * i).convert("P" if fmt == "GIF" else "RGB") for i in range(frames)]
    buf = io.BytesIO()
    images[0].save(buf, fmt, save_all=True, append_images=images[1:])
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["GIF", "TIFF"])
async def test_a_gif_or_tiff_cut_inside_a_later_frame_is_refused_as_damaged(cdn, http, fmt):
    """Seedream 4.x takes GIF and TIFF as they are: a download cut in frame 3 must not reach the
    gateway because frame 1 decodes."""
    whole, cut = animated(fmt), animated(fmt)[:-100]
    [ref] = await load_references(http, [cdn.attachment(f"whole.{fmt}", whole)], SEEDREAM_4_0)
    assert (ref.data, ref.converted) == (whole, False)
    with pytest.raises(AttachmentError) as caught:
        await load_references(http, [cdn.attachment(f"cut.{fmt}", cut)], SEEDREAM_4_0)
    assert caught.value.code == "corrupt"
    with pytest.raises(AttachmentError) as caught:  # converted for SeedEdit: the file is still damaged
        await load_references(http, [cdn.attachment(f"cut.{fmt}", cut)], SEEDEDIT_3_I2I)
    assert caught.value.code == "corrupt"


async def test_references_are_checked_one_at_a_time_within_the_process_budget(cdn, http, monkeypatch):
    """Checks decode pixels: all requests together decode at most DECODE_PIXELS at once, and a
    request's references are checked in order, none after the first bad one."""
    monkeypatch.setattr(references, "DECODE_PIXELS", 40 * 30)  # one 40x30 BMP at a time
    running, most, checked = 0, 0, []
    real = references._check_and_convert

    def slow_check(data, info, accepted):
        nonlocal running, most
        running += 1
        most = max(most, running)
        time.sleep(0.05)
        checked.append(data)
        running -= 1
        return real(data, info, accepted)

    monkeypatch.setattr(references, "_check_and_convert", slow_check)
    bmps = [encode("BMP", colour=(i, 0, 0)) for i in range(4)]
    requests = [[cdn.attachment(f"{r}{i}.bmp", bmps[2 * r + i]) for i in range(2)] for r in range(2)]
    loaded = await asyncio.gather(*(load_references(http, atts, SEEDREAM_4_0) for atts in requests))
    assert [[ref.data for ref in refs] for refs in loaded] == [bmps[:2], bmps[2:]]
    assert most == 1
    checked.clear()
    broken = cdn.attachment("broken.bmp", bmps[0][:-300])
    with pytest.raises(AttachmentError):
        await load_references(http, [broken, *requests[0]], SEEDREAM_4_0)
    assert checked == [broken_data := cdn.files["broken.bmp"]] and broken_data == bmps[0][:-300]


async def test_the_pixel_budget_serves_in_order_and_gives_back_what_a_cancelled_wait_held():
    budget = references._PixelBudget(100, asyncio.get_running_loop())
    await budget.take(80)
    order: list[str] = []

    async def wait(name: str, pixels: int) -> None:
        await budget.take(pixels)
        order.append(name)

    big, small, cancelled = (asyncio.create_task(wait(*a)) for a in (("big", 60), ("small", 10), ("gone", 10)))
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    assert order == []  # "small" would fit, but "big" came first
    budget.give_back(80)
    await asyncio.gather(big, small)
    assert order == ["big", "small"] and budget.used == 70
    huge = asyncio.create_task(budget.take(1000))  # larger than the whole budget: waits until nothing else decodes
    await asyncio.sleep(0)
    budget.give_back(60)
    await asyncio.sleep(0)
    assert not huge.done()
    budget.give_back(10)
    await huge
    assert budget.used == 100
    late = asyncio.create_task(budget.take(50))
    await asyncio.sleep(0)
    late.cancel()
    budget.give_back(100)  # its turn comes after it was cancelled: nothing is held for it
    with pytest.raises(asyncio.CancelledError):
        await late
    assert budget.used == 0


_MEASURE = r"""
import asyncio, json, resource, sys
sys.path.insert(0, sys.argv[1])
import aiohttp, discord
from aiohttp import web
from image_gateway.catalog import SEEDREAM_4_0
from pipeline.references import load_references
from tests.unit.pipeline.test_references import CDN

async def main():
    cdn = CDN()
    app = web.Application()
    app.router.add_get("/attachments/{name}", cdn.serve)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    cdn.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    discord.http.Route.BASE = f"{cdn.base}/api/v10"
    atts = [cdn.attachment(f"{i}.webp", open(path, "rb").read()) for i, path in enumerate(sys.argv[2:])]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    async with aiohttp.ClientSession() as http:
        refs = await load_references(http, atts, SEEDREAM_4_0)
    grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(json.dumps({"grew_mb": grew / 1024, "formats": [ref.format for ref in refs]}))
    await runner.cleanup()

asyncio.run(main())
"""


def test_tiny_webp_references_of_6000x6000_pixels_cost_no_decode(tmp_path):
    """A 6000x6000 WebP of one colour is 1.4 KB, and Pillow's decoder holds ~550 MB for it: sent
    as it is (Seedream 4.x takes WebP), it is checked by its container, not decoded (before: 1.1 GB
    for two). Measured in a fresh process, the files made in another one."""
    paths = [str(tmp_path / f"flat{i}.webp") for i in range(2)]
    make = "import sys; from PIL import Image\nfor i, p in enumerate(sys.argv[1:]): " \
           "Image.new('RGB', (6000, 6000), (i, 100, 200)).save(p, 'WEBP', lossless=True)"  # fmt: skip
    subprocess.run([sys.executable, "-c", make, *paths], check=True, timeout=120)
    assert max(Path(path).stat().st_size for path in paths) < 4096
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(root), *paths], capture_output=True, text=True,
                         timeout=120, check=True)  # fmt: skip
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    assert measured["formats"] == ["webp", "webp"]
    assert measured["grew_mb"] < 64, measured
