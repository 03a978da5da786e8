"""pipeline.references against a loopback CDN: metadata pre-check, download, byte check, conversion."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import discord
import pytest
from aiohttp import web
from PIL import Image

from image_gateway.catalog import SEEDEDIT_3_I2I, SEEDREAM_4_0
from pipeline.explain import AttachmentError, explain
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
    assert (caught.value.name, caught.value.code) == ("bad.png", code)
    en, zh = explain(caught.value, "en-US"), explain(caught.value, "zh-CN")
    assert en.startswith("The attachment `bad.png` ") and english in en
    assert zh.startswith("附件 `bad.png` ") and chinese in zh


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
    assert caught.value.code == "download_failed"
    assert "could not be downloaded" in explain(caught.value, "en-US")
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
    assert caught.value.name == "big.png"
    assert "is 10.0 MB; the limit is 10 MB" in explain(caught.value, "en-US")
    for width, height, code in ((6001, 6000, "too_large_pixels"), (14, 100, "too_small"), (17, 289, "bad_aspect")):
        with pytest.raises(AttachmentError) as caught:
            precheck([Att("x.png", "https://cdn.discordapp.com/attachments/1/2/x.png", 1000, width, height)])
        assert caught.value.code == code
        assert f"{width}x{height}" in explain(caught.value, "zh-CN")
    edge = Att("edge.png", "https://cdn.discordapp.com/attachments/1/2/e.png", MAX_REFERENCE_BYTES, 6000, 375)
    precheck([edge])  # 16:1, 10 MB


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
    for check in (lambda: precheck([good, elsewhere]), lambda: load_references(http, [elsewhere], SEEDREAM_4_0)):
        with pytest.raises(AttachmentError) as caught:
            result = check()
            if hasattr(result, "__await__"):
                await result
        assert caught.value.code == "not_from_discord"
        assert explain(caught.value, "en-US") == (
            "The attachment `evil.png` is not a file stored on Discord, so it was not used."
        )
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
