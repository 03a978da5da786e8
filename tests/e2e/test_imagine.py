"""/imagine end to end: real discord.py and aiohttp against the Discord and gateway doubles."""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image

from tests.doubles.discord_double.messages import MAX_REQUEST_FILES
from tests.doubles.image_gateway_double import Fault
from tests.e2e.harness import world


async def test_imagine_delivers_attachments_and_records_spend(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        inter = await w.run("imagine", {"prompt": "a red fox in snow", "count": 2})
        files = inter.files()
        assert len(files) == 2, inter.all_text()
        for name, data in files:
            Image.open(io.BytesIO(data)).verify()
        text = inter.all_text()
        assert "a red fox in snow" in text
        assert "$0.324" in text  # 2 x $0.162 for Seedream 4.0 on gogogotoken.com, exact
        rows = await w.ledger_rows()
        assert len(rows) == 1
        assert rows[0]["status"] == "settled"
        assert rows[0]["cost_micros"] == 324_000
        assert rows[0]["images_delivered"] == 2


PROVIDER_CASES = [
    # flavour, options, expected files, expected cost per image (micros) or None (price unknown)
    ("gogogotoken-ai", {"prompt": "a smartwatch on white"}, 1, None),
    ("gogogotoken-com", {"prompt": "a smartwatch on white", "model": "doubao-seedream-4-5-251128"}, 1, 135_000),
    ("aiearth", {"prompt": "杂志封面风格的肖像", "size": "2K"}, 1, None),
    ("302ai", {"prompt": "鱼眼镜头,一只猫咪的头部", "size": "1024x1024", "seed": 12}, 1, None),
    ("xmsmartlink", {"prompt": "a poster", "count": 2}, 2, None),
    ("xmsmartlink", {"prompt": "a poster", "model": "gpt-image-1.5", "size": "1024x1024"}, 1, None),
]


@pytest.mark.parametrize(("flavour", "options", "expected", "price"), PROVIDER_CASES)
async def test_imagine_works_on_every_seed_gateway(tmp_path, flavour, options, expected, price):
    async with world(tmp_path, flavour=flavour) as w:
        inter = await w.run("imagine", options)
        assert len(inter.files()) == expected, inter.all_text()
        body = w.gateway.generation_requests[-1].json
        assert body["prompt"] == options["prompt"]
        assert body.get("watermark", False) is False
        row = (await w.ledger_rows())[-1]
        assert row["status"] == "settled"
        assert row["images_delivered"] == expected
        if price is not None:
            assert row["cost_micros"] == price * expected
        # The reply names the size: the one sent, else (gogogotoken.ai: none is sent) the one made.
        sent = body.get("size") or "2048x2048"
        assert f" · {sent} · " in inter.all_text(), inter.all_text()


async def test_an_image_over_the_upload_limit_is_reencoded_to_fit_not_dropped(tmp_path):
    # A realistic 2K PNG is several MB; this server only takes 300 KB per file.
    gateway = {"realistic": True, "image_format": "png", "image_size": (1024, 1024)}
    async with world(tmp_path, flavour="aiearth", gateway=gateway) as w:
        await w.gateway.prewarm([(2048, 2048)], ["png"])
        w.guild.attachment_size_limit = 300 * 1024
        inter = await w.run("imagine", {"prompt": "a detailed forest", "size": "2048x2048"}, timeout=60)
        [(_name, data)] = inter.files()
        assert len(data) <= 300 * 1024
        image = Image.open(io.BytesIO(data))
        image.load()
        assert image.width == image.height  # aspect kept
        assert "http" not in inter.all_text()  # never the expiring link instead


async def test_a_single_batch_is_one_edit_with_its_summary_buttons_and_what_is_left(tmp_path):
    # The summary goes out with the images (one edit, not two): what it says is left must be
    # what the books say once settled.
    async with world(tmp_path, default_daily_images=10, default_monthly_usd="5") as w:
        await w.run("imagine", {"prompt": "a first fox"})
        inter = await w.run("imagine", {"prompt": "a red fox in snow", "count": 2})
        edits = [e for e in inter.events if e.kind == "original_edit"]
        assert len(edits) == 1, inter.kinds()
        message = edits[0].message
        assert len(message["attachments"]) == 2
        assert message["components"], message  # the result buttons
        assert "$0.324" in message["content"]
        assert "7 images today" in message["content"]  # 10 - 1 - 2
        assert "$4.514 this month" in message["content"]  # $5 - 3 x $0.162
        rows = await w.ledger_rows()
        assert [r["status"] for r in rows] == ["settled", "settled"]
        assert rows[-1]["images_delivered"] == 2 and rows[-1]["charged_micros"] == 324_000


async def test_results_in_memory_and_on_disk_arrive_whole_and_free_their_memory(tmp_path):
    # A 1 MB budget holds some of four ~0.5 MB results; the others wait in temporary files.
    # Either way the member gets the gateway's bytes, and the budget is whole again afterwards,
    # also after a result that could not be fetched.
    gateway = {"realistic": True, "image_format": "jpeg", "image_size": (1024, 1024)}
    async with world(tmp_path, gateway=gateway, result_memory_mb=1) as w:
        await w.gateway.prewarm([(2048, 2048)], ["jpeg"])
        inter = await w.run("imagine", {"prompt": "a market at dusk", "count": 4}, timeout=60)
        files = inter.files()
        assert len(files) == 4, inter.all_text()
        served = set(w.gateway.stored_files())
        assert served and all(data in served for _name, data in files)
        assert w.bot.pipeline.memory.used == 0

        w.gateway.script(Fault.missing_file())
        inter = await w.run("imagine", {"prompt": "a market at dawn"}, timeout=60)
        assert inter.files() == []
        assert w.bot.pipeline.memory.used == 0


async def test_results_are_fetched_a_few_at_a_time(tmp_path):
    # Bounded work in flight: however many results arrive at once, at most
    # MAX_CONCURRENT_DOWNLOADS are being fetched; every one is still delivered.
    async with world(tmp_path, gateway={"file_latency": 0.2}, max_concurrent_downloads=2) as w:
        first, second = await asyncio.gather(
            w.run("imagine", {"prompt": "a red fox", "count": 4}, timeout=30),
            w.run("imagine", {"prompt": "a grey wolf", "count": 3}, user=w.bob, timeout=30),
        )
        assert (len(first.files()), len(second.files())) == (4, 3)
        assert w.gateway.most_file_fetches_at_once == 2


async def test_results_too_large_for_one_request_go_in_several_messages_in_order(tmp_path):
    # Four 2K PNGs of some 9 MB each: every one is under the upload limit, but Discord refuses a
    # message over 25 MiB in all (413, 40005). They go in messages that fit, in order.
    gateway = {"realistic": True, "image_format": "png", "image_size": (2048, 2048)}
    async with world(tmp_path, flavour="aiearth", gateway=gateway) as w:
        await w.gateway.prewarm([(2048, 2048)], ["png"])
        inter = await w.run("imagine", {"prompt": "a detailed forest", "size": "2048x2048", "count": 4}, timeout=120)
        assert w.discord.limit_rejections == []
        names = [name for name, _data in inter.files()]
        assert [name.rsplit("-", 1)[1] for name in names] == ["1.png", "2.png", "3.png", "4.png"], inter.all_text()
        uploads = [sum(size for _name, size in r.files) for r in w.discord.requests if r.files]
        assert len(uploads) > 1 and max(uploads) <= MAX_REQUEST_FILES
        assert any(m["components"] and "4 images" in m["content"] for m in inter.messages), inter.all_text()
        [row] = await w.ledger_rows()
        assert (row["status"], row["images_delivered"]) == ("settled", 4)
