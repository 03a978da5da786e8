"""Results near and over Discord's upload limits, on unboosted and boosted servers, through
replies, series, approvals and the Upscale button: every image reaches the member (re-encoded
when it must be) or the summary says which did not, and only what was posted is charged."""

from __future__ import annotations

import base64
import gc
import io
import os

from PIL import Image

from tests.doubles.image_gateway_double import imaging
from tests.e2e.harness import world
from tests.e2e.test_approval import approval_world, channel_files
from tests.e2e.test_approval_queue import approve, ask
from tests.e2e.test_result_buttons import pick, press, result_message
from tests.e2e.uploads import (
    JPEG_1K,
    MAX_REQUEST_FILES,
    PNG_2K,
    PNG_4K,
    TOO_LARGE,
    UNKNOWN_INTERACTION,
    MiB,
    all_settled,
    boost,
    open_temp_files,
    uploads,
)

PRICE = 162_000  # Seedream 4.0 on gogogotoken.com


def _within_discords_limits(w, per_file: int) -> None:
    for _path, status, sizes in uploads(w):
        assert status == 200
        assert len(sizes) <= 10 and max(sizes) <= per_file
        assert len(sizes) == 1 or sum(sizes) <= MAX_REQUEST_FILES


async def test_4k_pngs_on_an_unboosted_server_are_reencoded_under_10_mib_and_charged(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-com", gateway=PNG_4K) as w:
        gc.collect()
        before = set(open_temp_files())
        await w.run("imagine", {"prompt": "a detailed forest", "size": "4K", "count": 2}, timeout=120)
        [row] = await all_settled(w)
        files = [a for m in w.discord.channel_messages(w.channel) for a in m.get("attachments", [])]
        assert [f["filename"].rsplit("-", 1)[1] for f in files] == ["1.jpeg", "2.jpeg"]
        assert all(f["size"] <= 10 * MiB for f in files)
        image = Image.open(io.BytesIO(w.discord.attachment_bytes(files[0])))
        assert image.size[0] == image.size[1]  # the aspect kept
        _within_discords_limits(w, 10 * MiB)
        assert (row["images_delivered"], row["charged_micros"]) == (2, 2 * PRICE)
        gc.collect()
        assert w.bot.pipeline.memory.used == 0 and not set(open_temp_files()) - before


async def test_4k_pngs_on_a_level_2_server_are_posted_unchanged_one_to_a_message(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-com", gateway=PNG_4K, start=False) as w:
        boost(w, 2)
        await w.start_bot()
        inter = await w.run("imagine", {"prompt": "a detailed forest", "size": "4K", "count": 2}, timeout=120)
        [row] = await all_settled(w)
        await inter.wait_for_final(timeout=30)
        served = set(w.gateway.stored_files())
        files = inter.files()
        assert [name.rsplit("-", 1)[1] for name, _ in files] == ["1.png", "2.png"]
        assert all(data in served for _name, data in files)  # the gateway's bytes, not re-encoded
        assert [len(sizes) for _p, _s, sizes in uploads(w)] == [1, 1]  # 2 x 35 MiB: never together
        _within_discords_limits(w, 50 * MiB)
        assert (row["images_delivered"], row["charged_micros"]) == (2, 2 * PRICE)


async def test_an_interaction_reporting_less_than_the_boost_tier_gets_results_fitted_to_what_it_reports(tmp_path):
    # Discord's attachment_size_limit (10 MiB) is below what discord.py's tier table says (50 MiB):
    # the reply follows Discord's own figure.
    async with world(tmp_path, flavour="gogogotoken-com", gateway=PNG_4K, start=False) as w:
        boost(w, 2, reported=10 * MiB)
        await w.start_bot()
        await w.run("imagine", {"prompt": "a detailed forest", "size": "4K"}, timeout=120)
        [row] = await all_settled(w)
        _within_discords_limits(w, 10 * MiB)
        assert (row["images_delivered"], row["charged_micros"]) == (1, PRICE)


async def test_a_series_of_15_2k_pngs_goes_in_order_in_messages_discord_takes(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-com", gateway=PNG_2K) as w:
        inter = await w.discord.invoke_command("series", {"prompt": "fifteen panels of a fox", "count": 15},
                                               user=w.alice, guild=w.guild, channel=w.channel)  # fmt: skip
        [row] = await all_settled(w, 240)
        await inter.wait_for_final(timeout=30)
        numbers = [int(name.rsplit("-", 1)[1].split(".")[0]) for name, _ in inter.files()]
        assert numbers == list(range(1, 16))
        _within_discords_limits(w, 10 * MiB)
        with_buttons = result_message(inter)
        assert "15 images" in with_buttons["content"] and with_buttons["attachments"]  # the first reply
        assert (row["images_delivered"], row["charged_micros"]) == (15, 15 * PRICE)
        assert w.bot.pipeline.memory.used == 0


def _jpeg_of_exactly(size: int, side: int = 512) -> bytes:
    """A valid JPEG of exactly `size` bytes (comment segments after SOI make up the rest)."""
    buf = io.BytesIO()
    Image.effect_noise((side, side), 60).convert("RGB").save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    need, segments = size - len(data), []
    while need > 0:
        chunk = min(need - 4, 65533)
        if 0 < need - (chunk + 4) < 5:
            chunk -= 8
        segments.append(b"\xff\xfe" + (chunk + 2).to_bytes(2, "big") + os.urandom(chunk).replace(b"\xff", b"\x00"))
        need -= chunk + 4
    out = data[:2] + b"".join(segments) + data[2:]
    assert len(out) == size
    return out


async def test_a_jpeg_of_exactly_10_mib_is_posted_as_is_and_one_byte_more_is_reencoded(tmp_path, monkeypatch):
    for size, unchanged in ((10 * MiB, True), (10 * MiB + 1, False)):
        blob = imaging.Blob(_jpeg_of_exactly(size), "jpeg", 512, 512)
        monkeypatch.setitem(imaging._CACHE, (512, 512, "jpeg", False), [blob])
        gateway = {"image_format": "jpeg", "image_size": (512, 512)}
        async with world(tmp_path / str(size), flavour="gogogotoken-com", gateway=gateway) as w:
            inter = await w.run("imagine", {"prompt": "a tiny robot", "count": 3}, timeout=60)
            [row] = await all_settled(w)
            await inter.wait_for_final(timeout=10)
            files = inter.files()
            assert len(files) == 3 and all(len(d) <= 10 * MiB for _n, d in files)
            assert all((data == blob.data) is unchanged for _n, data in files)
            _within_discords_limits(w, 10 * MiB)
            assert (row["images_delivered"], row["charged_micros"]) == (3, 3 * PRICE)


async def test_a_413_on_one_message_of_a_split_result_costs_only_those_images_and_says_so(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-com", gateway=PNG_2K) as w:
        refused = w.discord.fail_next(1, status=413, body=TOO_LARGE, uploads_only=True)
        inter = await w.run("imagine", {"prompt": "a tiny robot", "count": 4, "size": "2K"}, timeout=60)
        [row] = await all_settled(w)
        await inter.wait_for_final(timeout=10)
        assert refused.hits == 1  # never tried again as it was
        assert [name.rsplit("-", 1)[1] for name, _ in inter.files()] == ["3.png", "4.png"]
        text = inter.all_text()
        assert "2 images could not be posted" in text and "not charged for them" in text
        assert (row["images_billed"], row["images_delivered"], row["charged_micros"]) == (4, 2, 2 * PRICE)
        # Upscale offers the images the member has, not the ones Discord refused.
        asked = await press(w, result_message(inter), "upscale", row["id"])
        [menu] = [c for r in asked.messages[-1]["components"] for c in r["components"]]
        assert [o["value"] for o in menu["options"]] == ["3", "4"]


async def test_upscale_to_4k_of_an_image_in_a_later_message_uses_that_image_and_fits_the_result(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-com", gateway=PNG_2K) as w:
        inter = await w.run("imagine", {"prompt": "a tiny robot", "count": 4, "size": "2K"}, timeout=60)
        [first] = await all_settled(w)
        await inter.wait_for_final(timeout=10)
        assert len([m for m in inter.messages if m.get("attachments")]) == 2  # 2 x 2 PNGs of ~9 MiB
        asked = await press(w, result_message(inter), "upscale", first["id"])
        w.gateway.image_size = (4096, 4096)
        chosen = await pick(w, asked.messages[-1], first["id"], 4)
        rows = await all_settled(w, rows=2)
        await chosen.wait_for_final(timeout=30)
        body = w.gateway.generation_requests[-1].json
        assert body["size"] == "4K"
        assert base64.b64decode(body["image"].split(",", 1)[1]) == inter.files()[3][1]
        [(_name, data)] = chosen.files()
        assert len(data) <= 10 * MiB
        assert [(r["command"], r["images_delivered"], r["charged_micros"]) for r in rows] == [
            ("imagine", 4, 4 * PRICE),
            ("upscale-image", 1, PRICE),
        ]


async def test_an_approved_4k_png_on_an_unboosted_server_is_reencoded_in_the_channel(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-com", gateway=PNG_4K, start=False) as w:
        staff = await approval_world(w)
        await ask(w, w.alice, "a detailed forest", size="4K", count=2)
        await approve(w, staff, "a detailed forest")
        [row] = await all_settled(w)
        files = channel_files(w)
        assert len(files) == 2 and all(f["size"] <= 10 * MiB for f in files)
        _within_discords_limits(w, 10 * MiB)
        assert (row["images_delivered"], row["charged_micros"]) == (2, 2 * PRICE)


async def _unacknowledged_imagine(w, prompt: str, count: int) -> None:
    """/imagine whose "thinking" defer Discord refuses (10062, e.g. it came after the 3 s): the
    results go to the channel, mentioning the member (README, "What members get")."""
    w.discord.fail_next(1, status=404, method="POST", path="/callback$", body=UNKNOWN_INTERACTION)
    await w.discord.invoke_command("imagine", {"prompt": prompt, "count": count},
                                   user=w.alice, guild=w.guild, channel=w.channel)  # fmt: skip


async def test_results_sent_to_the_channel_after_a_refused_acknowledgement_give_their_memory_back(tmp_path):
    # ARCHITECTURE: "the posted file frees its memory or deletes its temporary file when closed".
    # With the reply gone before the first image was posted, the files were made for an edit
    # never sent: a discord.File switches its file's `close` off until discord.py closes it, so
    # the image never gave its memory back to the MemoryBudget.
    async with world(tmp_path, flavour="gogogotoken-com", gateway=JPEG_1K) as w:
        await _unacknowledged_imagine(w, "a cat", 2)
        await all_settled(w)
        posted = [a for m in w.discord.channel_messages(w.channel) for a in m.get("attachments", [])]
        assert len(posted) == 2  # the member got both, in the channel
        assert w.bot.pipeline.memory.used == 0, f"{w.bot.pipeline.memory.used} bytes of the budget never given back"


async def test_an_approved_result_is_fitted_to_the_upload_limit_discord_reports(tmp_path):
    # The guild object says premium tier 2 (discord.py's table: 50 MiB), while Discord reports
    # (attachment_size_limit in every interaction of this server) and enforces 10 MiB. An approved
    # request's results are fitted to what Discord reports, as a reply's are: the 35 MiB 4K PNG is
    # re-encoded, not refused with 413/40005 and told "could not be posted".
    async with world(tmp_path, flavour="gogogotoken-com", gateway=PNG_4K, start=False) as w:
        boost(w, 2, reported=10 * MiB)
        staff = await approval_world(w)
        await ask(w, w.alice, "a detailed forest", size="4K")
        await approve(w, staff, "a detailed forest")
        [row] = await all_settled(w)
        refused = list(w.discord.limit_rejections)
        w.discord.limit_rejections.clear()  # reported here, not again by the harness
        assert refused == [], (refused, uploads(w))
        files = channel_files(w)
        assert len(files) == 1 and files[0]["size"] <= 10 * MiB
        assert (row["images_delivered"], row["charged_micros"]) == (1, 162_000)
