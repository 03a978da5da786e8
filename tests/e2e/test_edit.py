"""/edit and "Edit with Seedream" end to end: attachments -> checked references -> the gateway."""

from __future__ import annotations

import asyncio
import base64
import io
import re

import pytest
from PIL import Image

import pipeline.runner as runner
from image_gateway.catalog import SEEDREAM_4_0, SEEDREAM_4_5, SEEDREAM_5_0
from tests.doubles.discord_double.cdn import AttachmentStore
from tests.doubles.image_gateway_double import Fault
from tests.e2e.harness import world
from tests.e2e.staff import add_staff, is_ephemeral
from tests.e2e.test_queue import FAST, submit

MENU = "Edit with Seedream"


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (64, 48), colour=(200, 30, 30), **save) -> bytes:
    buf = io.BytesIO()
    mode = "P" if fmt == "GIF" else "RGB"
    Image.new("RGB", size, colour).convert(mode).save(buf, fmt, **save)
    return buf.getvalue()


def decode_data_uri(uri: str) -> tuple[str, bytes]:
    match = re.fullmatch(r"data:image/([a-z]+);base64,(.+)", uri, re.DOTALL)
    assert match, uri[:60]
    return match[1], base64.b64decode(match[2])


def sent_images(w) -> list[str]:
    body = w.gateway.generation_requests[-1].json
    images = body["image"]
    return [images] if isinstance(images, str) else images


async def test_edit_sends_the_attachment_bytes_as_a_data_uri_and_charges_one_image(tmp_path):
    png = image_bytes("PNG")
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        inter = await w.run(
            "edit", {"prompt": "make the sky purple"}, attachments=[("photo.png", png, "image/png")]
        )
        assert len(inter.files()) == 1, inter.all_text()
        assert "make the sky purple" in inter.all_text()
        [uri] = sent_images(w)
        assert decode_data_uri(uri) == ("png", png)  # the exact bytes, lowercase format
        body = w.gateway.generation_requests[-1].json
        assert body["sequential_image_generation"] == "disabled"
        [row] = await w.ledger_rows()
        assert (row["command"], row["status"], row["images_delivered"]) == ("edit", "settled", 1)
        assert row["cost_micros"] == 162_000


async def test_edit_with_several_attachments_sends_each_one_in_order(tmp_path):
    attachments = [
        ("a.png", image_bytes("PNG", colour=(1, 2, 3)), "image/png"),
        ("b.jpg", image_bytes("JPEG", colour=(9, 9, 200)), "image/jpeg"),
        ("c.webp", image_bytes("WEBP", lossless=True), "image/webp"),
        ("d.png", image_bytes("PNG", size=(30, 300)), "image/png"),
    ]
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        inter = await w.run("edit", {"prompt": "combine these"}, attachments=attachments)
        assert len(inter.files()) == 1, inter.all_text()
        decoded = [decode_data_uri(uri) for uri in sent_images(w)]
        assert decoded == [("png", attachments[0][1]), ("jpeg", attachments[1][1]),
                           ("webp", attachments[2][1]), ("png", attachments[3][1])]


async def test_a_gif_is_converted_losslessly_for_seededit(tmp_path):
    gif = image_bytes("GIF", colour=(0, 128, 255))
    async with world(tmp_path, flavour="aiearth") as w:
        inter = await w.run(
            "edit", {"prompt": "add a hat", "model": "doubao-seededit-3-0-i2i-250628"},
            attachments=[("anim.gif", gif, "image/gif")],
        )
        assert len(inter.files()) == 1, inter.all_text()
        fmt, data = decode_data_uri(sent_images(w)[0])
        assert fmt == "png"
        with Image.open(io.BytesIO(data)) as converted, Image.open(io.BytesIO(gif)) as original:
            assert converted.size == original.size
            assert converted.convert("RGB").tobytes() == original.convert("RGB").tobytes()


async def test_reference_images_as_url_passes_the_discord_url(tmp_path):
    png = image_bytes("PNG")
    async with world(tmp_path, flavour="gogogotoken-com", reference_images_as="url") as w:
        inter = await w.run("edit", {"prompt": "brighter"}, attachments=[("p.png", png, "image/png")])
        assert len(inter.files()) == 1, inter.all_text()
        [url] = sent_images(w)
        assert url.startswith(w.discord.base_url) and "/attachments/" in url and url.split("?")[0].endswith("/p.png")
        assert w.gateway.reference_urls == [url]


def _png_header_only(size: tuple[int, int]) -> bytes:
    return image_bytes("PNG", size=size)[:60]  # dimensions readable, image data cut off


BAD_ATTACHMENTS = [
    # (filename, bytes, content type, words the member must read, refused before the defer)
    ("notes.png", b"just some text, not a picture" * 10, "image/png", "is not an image", False),
    ("tiny.png", image_bytes("PNG", size=(10, 10)), "image/png", "10x10 pixels", True),
    ("strip.png", image_bytes("PNG", size=(20, 340)), "image/png", "aspect ratio", True),
    ("huge.png", image_bytes("PNG", size=(6100, 100)), "image/png", "6100x100", True),
    ("big.png", b"\x89PNG\r\n\x1a\n" + bytes(10 * 1024 * 1024), "image/png", "the limit is 10 MB", True),
    ("cut.png", _png_header_only((64, 64)), "image/png", "damaged image", False),
    ("photo.heic", b"\x00\x00\x00\x18ftypheic" + bytes(200), "image/heic", "format that can't be used", False),
]


@pytest.mark.parametrize(
    ("name", "data", "ctype", "words", "early"), BAD_ATTACHMENTS, ids=[b[0] for b in BAD_ATTACHMENTS]
)
async def test_a_bad_attachment_is_named_and_never_reaches_the_gateway(tmp_path, name, data, ctype, words, early):
    good = ("good.png", image_bytes("PNG"), "image/png")
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        inter = await w.run("edit", {"prompt": "fix it"}, attachments=[good, (name, data, ctype)])
        text = inter.all_text()
        assert f"`{name}`" in text and words in text, text
        assert "good.png" not in text
        assert inter.files() == []
        assert not inter.loading  # the thinking message was replaced, not left spinning
        assert w.gateway.generation_requests == []
        assert await w.ledger_rows() == []  # nothing reserved, nothing charged
        # Refused before the defer (`early`), or after it with the public "thinking" reply
        # withdrawn first: only the member sees it either way.
        assert [bool(m["flags"] & 64) for m in inter.messages] == [True], (early, inter.messages)


async def test_attachment_errors_are_in_the_members_language(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        tiny = ("小图.png", image_bytes("PNG", size=(10, 10)), "image/png")
        inter = await w.run("edit", {"prompt": "修一下"}, attachments=[tiny], locale="zh-CN")
        assert inter.all_text() == "附件 `小图.png` 尺寸为 10x10 像素，每边至少需要 15 像素。"
        text = "some text" * 20
        inter = await w.run("edit", {"prompt": "修一下"}, attachments=[("a.png", text.encode(), "image/png")],
                            locale="zh-CN")
        assert inter.all_text() == "附件 `a.png` 不是图片。"


async def test_reference_counts_follow_the_model(tmp_path):
    png = ("p.png", image_bytes("PNG"), "image/png")
    async with world(tmp_path, flavour="aiearth") as w:
        inter = await w.run("edit", {"prompt": "x", "model": "doubao-seededit-3-0-i2i-250628"}, attachments=[png, png])
        assert "exactly 1 reference image" in inter.all_text()
        inter = await w.run("edit", {"prompt": "x", "model": "doubao-seedream-3-0-t2i-250415"}, attachments=[png])
        assert "takes no reference images" in inter.all_text()
        assert w.gateway.generation_requests == []
        assert await w.ledger_rows() == []


async def _open_menu_and_submit(w, message, prompt: str, **kwargs):
    menu = await w.discord.invoke_message_command(MENU, message, user=w.alice, **kwargs)
    await menu.wait_for_ack()
    modal = menu.modal
    assert modal is not None, menu.kinds()
    input_id = next(_text_inputs(modal["components"]))
    submitted = await w.discord.submit_modal(
        modal["custom_id"], {input_id: prompt}, user=w.alice, from_interaction=menu, **kwargs
    )
    await submitted.wait_for_final(timeout=15, quiet=0.3)
    return submitted


def _text_inputs(components):
    for comp in components:
        if comp.get("type") == 4:
            yield comp["custom_id"]
        yield from _text_inputs(comp.get("components") or [])
        if isinstance(comp.get("component"), dict):
            yield from _text_inputs([comp["component"]])


async def test_context_menu_edits_every_image_of_a_message(tmp_path):
    first, second = image_bytes("PNG", colour=(5, 5, 5)), image_bytes("JPEG", colour=(250, 0, 0))
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        message = await w.discord.post_user_message(
            w.channel, w.bob, "look", attachments=[
                ("one.png", first, "image/png"), ("readme.txt", b"hello", "text/plain"),
                ("two.jpg", second, "image/jpeg"),
            ],
        )  # fmt: skip
        inter = await _open_menu_and_submit(w, message, "make both night scenes")
        assert len(inter.files()) == 1, inter.all_text()
        assert "make both night scenes" in inter.all_text()
        assert [decode_data_uri(u) for u in sent_images(w)] == [("png", first), ("jpeg", second)]
        [row] = await w.ledger_rows()
        assert (row["command"], row["user_id"], row["status"]) == ("edit", w.alice.id, "settled")


async def test_context_menu_reuses_the_bots_own_result(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        imagine = await w.run("imagine", {"prompt": "a lighthouse"})
        [(_, result)] = imagine.files()
        inter = await _open_menu_and_submit(w, imagine.messages[0], "at night")
        assert len(inter.files()) == 1, inter.all_text()
        [uri] = sent_images(w)
        assert decode_data_uri(uri)[1] == result


def _modal_texts(components) -> list[str]:
    """What the modal shows besides its inputs (text displays)."""
    found = []
    for comp in components:
        if comp.get("type") == 10:
            found.append(comp["content"])
        found += _modal_texts(comp.get("components") or [])
    return found


async def test_context_menu_says_which_images_it_leaves_out_when_no_model_takes_them_all(tmp_path):
    # An operator's catalog where no model takes more than 2 reference images; the message has 3.
    catalog = tmp_path / "catalog.toml"
    catalog.write_text("".join(f'[models."{spec.id}"]\nmax_references = 2\n' for spec in (SEEDREAM_4_0, SEEDREAM_4_5,
                                                                                       SEEDREAM_5_0)))
    images = [(f"{i}.png", image_bytes("PNG", colour=(i, i, i)), "image/png") for i in range(3)]
    async with world(tmp_path, flavour="gogogotoken-com", model_catalog_file=catalog) as w:
        message = await w.discord.post_user_message(w.channel, w.bob, "", attachments=images)
        menu = await w.discord.invoke_message_command(MENU, message, user=w.alice)
        await menu.wait_for_ack()
        assert _modal_texts(menu.modal["components"]) == [
            "Only the first 2 of the message's 3 images will be used: no model here takes more than 2."
        ]
        inter = await _open_menu_and_submit(w, message, "sharpen")
        assert len(inter.files()) == 1, inter.all_text()
        assert [decode_data_uri(u)[1] for u in sent_images(w)] == [images[0][1], images[1][1]]

        two = await w.discord.post_user_message(w.channel, w.bob, "", attachments=images[:2])
        menu = await w.discord.invoke_message_command(MENU, two, user=w.alice)
        await menu.wait_for_ack()
        assert _modal_texts(menu.modal["components"]) == []  # nothing left out, nothing said


async def test_context_menu_on_a_forwarded_message_edits_the_forwarded_images(tmp_path):
    first, second = image_bytes("PNG", colour=(1, 99, 1)), image_bytes("JPEG", colour=(99, 1, 1))
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        original = await w.discord.post_user_message(
            w.channel, w.bob, "look", attachments=[("one.png", first, "image/png"), ("two.jpg", second, "image/jpeg")]
        )
        forwarded = await w.discord.forward_message(w.channel, w.alice, original)
        assert forwarded["attachments"] == [] and forwarded["flags"] & (1 << 14)
        inter = await _open_menu_and_submit(w, forwarded, "make both night scenes")
        assert len(inter.files()) == 1, inter.all_text()
        assert [decode_data_uri(u) for u in sent_images(w)] == [("png", first), ("jpeg", second)]


async def test_the_edit_form_still_works_after_a_restart(tmp_path):
    picture = image_bytes("PNG", colour=(9, 9, 90))
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        message = await w.discord.post_user_message(w.channel, w.bob, "", attachments=[("p.png", picture, "image/png")])
        menu = await w.discord.invoke_message_command(MENU, message, user=w.alice)
        await menu.wait_for_ack()
        await w.restart_bot()  # the form is still open in the member's Discord
        input_id = next(_text_inputs(menu.modal["components"]))
        submitted = await w.discord.submit_modal(
            menu.modal["custom_id"], {input_id: "at night"}, user=w.alice, from_interaction=menu
        )
        await submitted.wait_for_final(timeout=15, quiet=0.3)
        assert len(submitted.files()) == 1, submitted.all_text()
        assert "at night" in submitted.all_text()
        assert [decode_data_uri(u)[1] for u in sent_images(w)] == [picture]

        # The message was deleted meanwhile: the member is told, privately.
        menu = await w.discord.invoke_message_command(MENU, message, user=w.alice)
        await menu.wait_for_ack()
        w.discord.messages[int(message["id"])].deleted = True
        await w.restart_bot()
        gone = await w.discord.submit_modal(
            menu.modal["custom_id"], {input_id: "at dawn"}, user=w.alice, from_interaction=menu
        )
        await gone.wait_for_final(timeout=15, quiet=0.3)
        assert "no longer" in gone.all_text() and is_ephemeral(gone), gone.all_text()
        assert len(w.gateway.generation_requests) == 1


async def test_context_menu_on_a_message_without_images_says_so(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        message = await w.discord.post_user_message(
            w.channel, w.bob, "no pictures", attachments=[("a.txt", b"text", "text/plain")]
        )
        menu = await w.discord.invoke_message_command(MENU, message, user=w.alice)
        await menu.wait_for_final(timeout=10, quiet=0.3)
        assert menu.modal is None
        assert "no images to edit" in menu.all_text()
        assert menu.messages[0]["flags"] & 64
        assert w.gateway.generation_requests == []


async def test_in_url_mode_a_converted_image_still_travels_as_a_data_uri(tmp_path):
    gif = image_bytes("GIF", colour=(0, 128, 255))
    async with world(tmp_path, flavour="aiearth", reference_images_as="url") as w:
        inter = await w.run(
            "edit", {"prompt": "add a hat", "model": "doubao-seededit-3-0-i2i-250628"},
            attachments=[("anim.gif", gif, "image/gif")],
        )
        assert len(inter.files()) == 1, inter.all_text()
        fmt, _ = decode_data_uri(sent_images(w)[0])  # Discord's link would serve the GIF SeedEdit refuses
        assert fmt == "png"
        assert w.gateway.reference_urls == []


async def test_edit_refusals_that_need_no_image_are_private_and_come_before_the_download(tmp_path):
    # Over a limit or a blocked term: the member alone reads why, before the attachments are
    # downloaded (which is why the public "thinking" reply comes first); nothing is spent.
    async with world(tmp_path, start=False, default_daily_images=1) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.run("blocklist", {"term": "nude"}, user=staff.admin, subcommand="add")
        good = ("good.png", image_bytes("PNG"), "image/png")

        blocked = await w.run("edit", {"prompt": "make it nude"}, attachments=[good])
        assert "refused" in blocked.all_text() and is_ephemeral(blocked)

        done = await w.run("imagine", {"prompt": "a cat"})  # the day's one image
        assert len(done.files()) == 1
        over = await w.run("edit", {"prompt": "a hat on it"}, attachments=[good])
        assert "1 image" in over.all_text() and is_ephemeral(over), over.all_text()
        assert w.discord.store.fetches == 0  # the attachments were never downloaded
        assert len(w.gateway.generation_requests) == 1
        rows = await w.ledger_rows()
        assert [(r["command"], r["status"], r["error_code"]) for r in rows] == [
            ("edit", "refused", "blocked_term"), ("imagine", "settled", None), ("edit", "refused", "daily_images")
        ]

        # Another member, within the limit: downloaded, generated, public.
        ok = await w.run("edit", {"prompt": "a hat on it"}, attachments=[good], user=w.bob)
        assert len(ok.files()) == 1 and not is_ephemeral(ok)
        assert w.discord.store.fetches == 1


async def test_context_menu_skips_a_video_that_discord_gives_dimensions(tmp_path):
    picture = image_bytes("PNG", colour=(9, 90, 9))
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        message = await w.discord.post_user_message(
            w.channel, w.bob, "clip and still", attachments=[
                ("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(500), "video/mp4"),
                ("still.png", picture, "image/png"),
            ],
        )  # fmt: skip
        video = message["attachments"][0]
        video.update(width=1280, height=720)  # as Discord reports for videos
        inter = await _open_menu_and_submit(w, message, "make it autumn")
        assert len(inter.files()) == 1, inter.all_text()
        assert "clip.mp4" not in inter.all_text()
        assert [decode_data_uri(u)[1] for u in sent_images(w)] == [picture]
        assert w.discord.store.fetches == 1  # the video was never downloaded


async def test_an_attachment_url_off_discord_is_refused_before_anything_is_fetched(tmp_path):
    # Internal addresses a crafted payload might name (a service on the private network, the cloud's
    # metadata endpoint): refused before any request is made to them.
    elsewhere = "http://10.0.0.5"
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        # /edit whose interaction payload names another host for one attachment.
        real = w.discord.store.to_payload

        def crafted(att):
            payload = real(att)
            if att.filename == "inside.png":
                payload["url"] = payload["proxy_url"] = f"{elsewhere}/admin/secret.png"
            return payload

        w.discord.store.to_payload = crafted
        good = ("good.png", image_bytes("PNG"), "image/png")
        inter = await w.run("edit", {"prompt": "brighter"}, attachments=[good, ("inside.png", image_bytes("PNG"),
                                                                                "image/png")])
        assert inter.all_text() == "Image 2 (`inside.png`) is not a file stored on Discord, so it was not used."
        assert is_ephemeral(inter)  # before the defer: the member alone reads it
        inside = ("inside.png", image_bytes("PNG"), "image/png")
        chinese = await w.run("edit", {"prompt": "亮一点"}, attachments=[inside], locale="zh-CN")
        assert chinese.all_text() == "附件 `inside.png` 不是存放在 Discord 上的文件，因此未被使用。"
        w.discord.store.to_payload = real

        # The message menu on a message whose attachment points elsewhere.
        message = await w.discord.post_user_message(
            w.channel, w.bob, "", attachments=[("inside.png", image_bytes("PNG"), "image/png")]
        )
        message["attachments"][0]["url"] = "http://169.254.169.254/latest/meta-data"
        menu = await w.discord.invoke_message_command(MENU, message, user=w.alice)  # refused before its form
        await menu.wait_for_final(timeout=10, quiet=0.3)
        assert menu.modal is None, menu.modal
        assert "`inside.png` is not a file stored on Discord" in menu.all_text() and is_ephemeral(menu)

        assert w.discord.store.fetches == 0  # nor was any real attachment downloaded
        assert w.gateway.generation_requests == []
        assert await w.ledger_rows() == []  # nothing reserved or refused on the books


async def test_queue_refusals_come_privately_before_the_defer_and_any_download(tmp_path):
    # A member with MAX_REQUESTS_PER_MEMBER in flight, then a restart under way: /edit and the
    # menu refuse as /imagine does, before the public "thinking" reply and the download.
    good = ("good.png", image_bytes("PNG"), "image/png")
    async with world(tmp_path, max_concurrent_requests=1, max_requests_per_member=1, **FAST) as w:
        w.gateway.script(Fault.hang(), times=1)
        await submit(w, w.alice, "a slow one")  # alice's one request in flight

        busy = await w.run("edit", {"prompt": "a hat"}, attachments=[good])
        assert busy.all_text() == (
            "You already have 1 request waiting or running. Please wait until it finishes, "
            "or press Cancel on it if it is waiting."
        )
        assert busy.callback_type == 4 and is_ephemeral(busy)  # no public defer first
        message = await w.discord.post_user_message(w.channel, w.bob, "", attachments=[good])
        menu = await _open_menu_and_submit(w, message, "sharpen")
        assert "You already have 1 request" in menu.all_text()
        assert menu.callback_type == 4 and is_ephemeral(menu)

        drain = asyncio.create_task(w.bot.queue.drain(30))  # a restart: waits for alice's request
        await asyncio.sleep(0)
        restarting = await w.run("edit", {"prompt": "a hat"}, attachments=[good], user=w.bob)
        assert restarting.all_text() == "The bot is restarting; please try again in a minute."
        assert restarting.callback_type == 4 and is_ephemeral(restarting)

        assert w.discord.store.fetches == 0  # no attachment was downloaded
        assert [r["prompt"] for r in await w.ledger_rows()] == ["a slow one"]  # nothing else reserved
        assert [r.json["prompt"] for r in w.gateway.generation_requests] == ["a slow one"]
        await w.bot.queue.drain(0)
        await drain


async def test_reference_data_uris_are_made_off_the_event_loop(tmp_path, monkeypatch):
    """base64 of every reference (up to 10 x 10 MB from the menu: ~0.5 s) never runs on the event loop."""
    on_loop: list[bool] = []
    real = runner.to_data_uri

    def spy(data, fmt):
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return real(data, fmt)

    monkeypatch.setattr(runner, "to_data_uri", spy)
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        inter = await w.run("edit", {"prompt": "brighter"}, attachments=[("p.png", image_bytes("PNG"), "image/png")])
        assert len(inter.files()) == 1, inter.all_text()
        assert sent_images(w)[0].startswith("data:image/png;base64,")
    assert on_loop == [False]


async def test_attachments_of_the_same_name_are_told_apart(tmp_path):
    """Pasted screenshots are all image.png: the refusal says which one to replace."""
    good = ("image.png", image_bytes("PNG"), "image/png")
    bad = ("image.png", b"just some text, not a picture" * 10, "image/png")
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        first = (await w.run("edit", {"prompt": "fix"}, attachments=[bad, good])).all_text()
        second = (await w.run("edit", {"prompt": "fix"}, attachments=[good, bad], locale="zh-CN")).all_text()
        assert w.gateway.generation_requests == []
    assert first == "Image 1 (`image.png`) is not an image."
    assert second == "第 2 张图片（`image.png`）不是图片。"


async def test_a_file_one_byte_over_10_mb_is_told_a_size_over_the_limit(tmp_path):
    over = ("big.png", b"\x89PNG\r\n\x1a\n" + bytes(10 * 1024 * 1024 - 7), "image/png")  # 10 MiB + 1 byte
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        en = (await w.run("edit", {"prompt": "fix"}, attachments=[over])).all_text()
        zh = (await w.run("edit", {"prompt": "修一下"}, attachments=[over], locale="zh-CN")).all_text()
    assert en == "The attachment `big.png` is 10.1 MB; the limit is 10 MB."  # not "is 10.0 MB"
    assert zh == "附件 `big.png` 大小为 10.1 MB，上限为 10 MB。"


async def test_a_limit_used_up_while_the_images_download_is_told_privately(tmp_path, monkeypatch):
    # One image a day. While the /edit's photo downloads (after the public "thinking"), the same
    # member's /imagine takes the day's image: the /edit is refused at admission, privately.
    slow_cdn(monkeypatch, 1.5)
    async with world(tmp_path, default_daily_images=1) as w:
        photo = ("cat.png", image_bytes("PNG"), "image/png")
        edit = await w.discord.invoke_command("edit", {"prompt": "make it blue"}, user=w.alice, guild=w.guild,
                                              channel=w.channel, attachments=[photo])  # fmt: skip
        await edit.wait_for_ack(timeout=10)
        assert len((await w.run("imagine", {"prompt": "a cat"})).files()) == 1
        await edit.wait_for_final(timeout=15, quiet=0.5)
        assert "daily limit of 1" in edit.all_text(), edit.all_text()
        assert [bool(m["flags"] & 64) for m in edit.messages] == [True], edit.messages
        assert edit.files() == [] and len(w.gateway.generation_requests) == 1


def slow_cdn(monkeypatch, seconds: float):
    """Discord's CDN serving each attachment after `seconds`; returns its own handler, to restore."""
    serve = AttachmentStore.handle

    async def slow(self, request):
        await asyncio.sleep(seconds)
        return await serve(self, request)

    monkeypatch.setattr(AttachmentStore, "handle", slow)
    return serve


async def test_a_seededit_result_shows_the_size_it_was_made_at_not_adaptive(tmp_path):
    # SeedEdit keeps its input's size ("adaptive"): the result line read "SeedEdit 3.0 · adaptive · 1 image",
    # the model's word for it, where the member wants the size they got.
    photo = ("photo.png", image_bytes("PNG", size=(960, 640)), "image/png")
    async with world(tmp_path, flavour="aiearth") as w:
        inter = await w.run("edit", {"prompt": "add a hat", "model": "doubao-seededit-3-0-i2i-250628"},
                            attachments=[photo])
        assert len(inter.files()) == 1, inter.all_text()
        assert w.gateway.generation_requests[-1].json["size"] == "adaptive"  # asked as the page says
        assert "SeedEdit 3.0 · 960x640 · 1 image" in inter.all_text(), inter.all_text()
