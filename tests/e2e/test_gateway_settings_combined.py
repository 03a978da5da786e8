"""Gateway settings as they combine (server defaults, response formats, concurrency, partial answers)."""

from __future__ import annotations

import asyncio

import pytest

from tests.doubles.image_gateway_double import Fault
from tests.e2e.harness import world
from tests.e2e.staff import add_staff, is_ephemeral


def bodies(w) -> list[dict]:
    return [r.json for r in w.gateway.generation_requests]


async def test_302ai_count_four_when_the_owner_allows_one_request_at_a_time(tmp_path):
    # MAX_CONCURRENT_REQUESTS caps the gateway calls in flight too: 302.ai takes no "n", so a count
    # of 4 is four calls, made one after another for an account that takes one at a time.
    gateway = {"max_concurrent": 1, "latency": 1.5}
    async with world(tmp_path, flavour="302ai", gateway=gateway, max_concurrent_requests=1,
                     image_max_retries=3) as w:  # fmt: skip  (3: the documented default)
        inter = await w.run("imagine", {"prompt": "a cat", "count": 4}, timeout=60)
        async with asyncio.timeout(60):
            while not (rows := await w.ledger_rows()) or rows[-1]["status"] == "pending":
                await asyncio.sleep(0.1)
        await inter.wait_for_final(timeout=30, quiet=1.0)
        calls = len(w.gateway.generation_requests)
        assert calls == 4, f"{calls} calls for 4 images: the gateway answered 429 to {calls - 4}"
        assert len(inter.files()) == 4, inter.all_text()


async def test_gogogotoken_ai_partial_answer_to_n_is_charged_per_image_made(tmp_path):
    # gogogotoken.ai: "n ... 按实际成功输出张数计费"
    async with world(tmp_path, flavour="gogogotoken-ai", image_prices={"doubao-seedream-4-5": "0.04"}) as w:
        w.gateway.script(Fault.partial([1]))
        inter = await w.run("imagine", {"prompt": "a cat", "count": 3, "model": "doubao-seedream-4-5"}, timeout=30)
        assert len(inter.files()) == 2, inter.all_text()
        [row] = await w.ledger_rows()
        assert (row["images_billed"], row["cost_micros"]) == (2, 80_000)


@pytest.mark.parametrize("flavour", ["gogogotoken-ai", "gogogotoken-com", "aiearth", "302ai", "xmsmartlink"])
async def test_the_servers_watermark_default_reaches_every_gateway(tmp_path, flavour):
    async with world(tmp_path, flavour=flavour, start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        saved = await w.run("settings", {"watermark": True}, user=staff.admin, subcommand="defaults")
        assert is_ephemeral(saved)
        inter = await w.run("imagine", {"prompt": "a cat"}, timeout=30)
        assert len(inter.files()) == 1, inter.all_text()
        assert bodies(w)[-1]["watermark"] is True
        # and the server's "off" beats IMAGE_WATERMARK=true
    async with world(tmp_path / "b", flavour=flavour, start=False, image_watermark=True) as w:
        staff = add_staff(w)
        await w.start_bot()
        await w.run("settings", {"watermark": False}, user=staff.admin, subcommand="defaults")
        await w.run("imagine", {"prompt": "a cat"}, timeout=30)
        assert bodies(w)[-1]["watermark"] is False


@pytest.mark.parametrize("flavour", ["aiearth", "xmsmartlink"])
async def test_a_streamed_series_in_b64_json(tmp_path, flavour):
    async with world(tmp_path, flavour=flavour, image_response_format="b64_json",
                     image_prices={"doubao-seedream-5-0-260128": "0.035"}) as w:  # fmt: skip
        inter = await w.run("series", {"prompt": "four panels of a fox", "count": 4}, timeout=30)
        assert len(inter.files()) == 4, inter.all_text()
        [body] = bodies(w)
        assert body["stream"] is True and body["response_format"] == "b64_json"
        [row] = await w.ledger_rows()
        assert (row["images_billed"], row["cost_micros"]) == (4, 140_000)


async def test_gogogotoken_ai_server_default_size_below_its_floor_is_refused_naming_sizes(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-ai", start=False) as w:
        staff = add_staff(w)
        await w.start_bot()
        refused = await w.run("settings", {"size": "1024x1024"}, user=staff.admin, subcommand="defaults")
        text = refused.all_text()
        assert is_ephemeral(refused)
        assert "3,686,400" in text and "2K" in text, text
        assert w.storage.guild_config.get(w.guild.id).default_size is None
        await w.run("settings", {"size": "3k"}, user=staff.admin, subcommand="defaults")
        inter = await w.run("imagine", {"prompt": "a cat"}, timeout=30)
        assert len(inter.files()) == 1, inter.all_text()
        assert bodies(w)[-1]["size"] == "3K"


async def test_an_unpriced_model_shows_no_invented_cost(tmp_path):
    # README: where a gateway publishes no price, "spend is recorded as $0"
    async with world(tmp_path, flavour="aiearth") as w:
        inter = await w.run("imagine", {"prompt": "a cat"}, timeout=30)
        assert len(inter.files()) == 1, inter.all_text()
        [row] = await w.ledger_rows()
        assert row["cost_micros"] == 0
        print(inter.all_text())
