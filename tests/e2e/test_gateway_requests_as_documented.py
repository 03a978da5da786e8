"""What the bot sends each of the five gateways, and what it charges, as their pages say.

Each test drives the real bot (tests.e2e.harness) against the image-gateway double in the gateway's
flavour, and compares the request on the wire with the gateway's page in /work/shared/seeds.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.e2e.harness import world

EPHEMERAL = 1 << 6


def png(width: int = 64, height: int = 64, name: str = "ref.png") -> tuple[str, bytes, str]:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (30, 90, 160)).save(buf, "PNG")
    return (name, buf.getvalue(), "image/png")


def bodies(w) -> list[dict]:
    return [r.json for r in w.gateway.generation_requests]


# -- gogogotoken.ai -------------------------------------------------------------------------------
# Page: POST https://gogogotoken.ai/v1/images/generations, "model": "doubao-seedream-5-0-lite", "n": 1,
# size "可选。不传时默认 2048×2048", "n ... 按实际成功输出张数计费".

async def test_gogogotoken_ai_count_is_one_call_with_n_no_size_and_the_owners_price_per_image(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-ai",
                     image_prices={"doubao-seedream-5-0-lite": "0.035"}) as w:
        inter = await w.run("imagine", {"prompt": "a smartwatch on white", "count": 3}, timeout=30)
        assert len(inter.files()) == 3, inter.all_text()
        [req] = w.gateway.generation_requests
        assert req.path == "/v1/images/generations"
        body = req.json
        assert body["model"] == "doubao-seedream-5-0-lite"
        assert body["n"] == 3
        assert "size" not in body and "stream" not in body
        assert body["response_format"] == "url"
        [row] = await w.ledger_rows()
        assert (row["status"], row["cost_micros"], row["images_delivered"]) == ("settled", 105_000, 3)
        assert "$0.105" in inter.all_text()


@pytest.mark.parametrize("size", ["1024x1024", "1K", "1919x1920"])
async def test_gogogotoken_ai_refuses_sizes_under_its_floor_naming_what_it_takes(tmp_path, size):
    async with world(tmp_path, flavour="gogogotoken-ai") as w:
        inter = await w.run("imagine", {"prompt": "a cat", "size": size})
        text = inter.all_text()
        assert inter.callback_data and inter.callback_data.get("flags", 0) & EPHEMERAL, text
        assert "2K" in text and "3K" in text and "3,686,400" in text, text
        assert w.gateway.generation_requests == []


async def test_gogogotoken_ai_takes_the_pages_smallest_size_1920x1920(tmp_path):
    # "省略 size 或改用 ≥ 1920×1920"
    async with world(tmp_path, flavour="gogogotoken-ai") as w:
        for model in ("doubao-seedream-5-0-lite", "doubao-seedream-4-5"):
            inter = await w.run("imagine", {"prompt": "a cat", "size": "1920×1920", "model": model})
            assert len(inter.files()) == 1, inter.all_text()
            assert bodies(w)[-1]["size"] == "1920x1920"


# -- gogogotoken.com ------------------------------------------------------------------------------
# Page: "size" default "1024x1024" (example with doubao-seedream-4-0-250828); prices $0.162 / $0.135 / $0.135 per call.

async def test_gogogotoken_com_takes_its_pages_example_request(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        inter = await w.run("imagine", {"prompt": "现代智能手表产品海报", "size": "1024x1024", "count": 1,
                                        "model": "doubao-seedream-4-0-250828"})
        assert len(inter.files()) == 1, inter.all_text()
        body = bodies(w)[-1]
        assert (body["model"], body["size"]) == ("doubao-seedream-4-0-250828", "1024x1024")
        assert "n" not in body or body["n"] == 1
        [row] = await w.ledger_rows()
        assert row["cost_micros"] == 162_000


async def test_gogogotoken_com_count_four_is_one_call_with_n_at_four_times_the_price(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        inter = await w.run("imagine", {"prompt": "a fox", "count": 4, "model": "doubao-seedream-5-0-260128"},
                            timeout=30)
        assert len(inter.files()) == 4, inter.all_text()
        [body] = bodies(w)
        assert body["n"] == 4 and body["model"] == "doubao-seedream-5-0-260128"
        [row] = await w.ledger_rows()
        assert row["cost_micros"] == 4 * 135_000
        assert "$0.54" in inter.all_text()


async def test_gogogotoken_com_series_sends_arks_fields_and_charges_per_image(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-com") as w:
        inter = await w.run("series", {"prompt": "three postcards of a fox", "count": 3}, timeout=30)
        assert len(inter.files()) == 3, inter.all_text()
        [body] = bodies(w)
        assert body["sequential_image_generation"] == "auto"
        assert body["sequential_image_generation_options"] == {"max_images": 3}
        assert "stream" not in body and "n" not in body
        [row] = await w.ledger_rows()
        assert row["cost_micros"] == 3 * 162_000


async def test_gogogotoken_com_owner_price_overrides_the_built_in_one(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-com",
                     image_prices={"doubao-seedream-4-0-250828": "0.1"}) as w:
        inter = await w.run("imagine", {"prompt": "a fox", "count": 2}, timeout=30)
        assert len(inter.files()) == 2, inter.all_text()
        [row] = await w.ledger_rows()
        assert row["cost_micros"] == 200_000
        assert "$0.20" in inter.all_text()


async def test_image_model_as_a_label_is_the_default_and_its_price_is_charged(tmp_path):
    async with world(tmp_path, flavour="gogogotoken-com", image_model="Seedream 4.5") as w:
        inter = await w.run("imagine", {"prompt": "a fox"})
        assert len(inter.files()) == 1, inter.all_text()
        assert bodies(w)[-1]["model"] == "doubao-seedream-4-5-251128"
        assert bodies(w)[-1]["size"] == "2048x2048"
        [row] = await w.ledger_rows()
        assert row["cost_micros"] == 135_000


# -- 302.ai ---------------------------------------------------------------------------------------
# Page: POST https://api.302.ai/doubao/images/generations with model, prompt, response_format, size,
# seed, guidance_scale, watermark; no "n".

async def test_302ai_count_is_separate_calls_on_the_doubao_path_at_the_owners_price(tmp_path):
    async with world(tmp_path, flavour="302ai",
                     image_prices={"doubao-seedream-3-0-t2i-250415": "0.03"}) as w:
        inter = await w.run("imagine", {"prompt": "鱼眼镜头,一只猫咪的头部", "count": 2, "size": "1024x1024",
                                        "seed": 12}, timeout=30)
        assert len(inter.files()) == 2, inter.all_text()
        reqs = w.gateway.generation_requests
        assert [r.path for r in reqs] == ["/doubao/images/generations"] * 2
        for body in (r.json for r in reqs):
            assert body["model"] == "doubao-seedream-3-0-t2i-250415"
            assert "n" not in body and "stream" not in body
            assert body["response_format"] == "url" and body["watermark"] is False
        assert sorted(r.json["seed"] for r in reqs) == [12, 13]
        [row] = await w.ledger_rows()
        assert row["cost_micros"] == 60_000


@pytest.mark.parametrize("size", ["2K", "511x512", "2049x2048", "4096x4096"])
async def test_302ai_seedream_3_refuses_sizes_it_cannot_make_naming_its_range(tmp_path, size):
    async with world(tmp_path, flavour="302ai") as w:
        inter = await w.run("imagine", {"prompt": "a cat", "size": size})
        text = inter.all_text()
        assert inter.callback_data and inter.callback_data.get("flags", 0) & EPHEMERAL, text
        assert "Seedream 3.0" in text and "512" in text and "2048" in text, text
        assert w.gateway.generation_requests == []


# -- aiearth ---------------------------------------------------------------------------------------
# Page: series with sequential_image_generation auto + max_images; multi-image fusion with "disabled".

async def test_aiearth_series_streams_and_image_stream_false_turns_it_off(tmp_path):
    for stream in (True, False):
        async with world(tmp_path / str(stream), flavour="aiearth", image_stream=stream) as w:
            inter = await w.run("series", {"prompt": "three postcards of a fox", "count": 3}, timeout=30)
            assert len(inter.files()) == 3, inter.all_text()
            [body] = bodies(w)
            assert body.get("stream", False) is stream
            assert body["sequential_image_generation"] == "auto"
            assert body["model"] == "doubao-seedream-5-0-260128"


async def test_aiearth_fusion_of_two_images_says_disabled_and_sends_both(tmp_path):
    async with world(tmp_path, flavour="aiearth") as w:
        inter = await w.run("edit", {"prompt": "将图1中的人物换上图2中的服装"},
                            attachments=[png(name="a.png"), png(name="b.png")], timeout=30)
        assert len(inter.files()) == 1, inter.all_text()
        [body] = bodies(w)
        assert isinstance(body["image"], list) and len(body["image"]) == 2
        assert all(i.startswith("data:image/png;base64,") for i in body["image"])
        assert body["sequential_image_generation"] == "disabled"


async def test_aiearth_seededit_gets_one_image_as_a_string_and_adaptive(tmp_path):
    async with world(tmp_path, flavour="aiearth") as w:
        inter = await w.run("edit", {"prompt": "brighter", "model": "doubao-seededit-3-0-i2i-250628"},
                            attachments=[png()], timeout=30)
        assert len(inter.files()) == 1, inter.all_text()
        [body] = bodies(w)
        assert isinstance(body["image"], str)
        assert body["size"] == "adaptive"
        assert "sequential_image_generation" not in body


# -- xmsmartlink -----------------------------------------------------------------------------------
# Page: "GPT-Image 仅支持 b64_json"; n documented; watermark documented.

async def test_xmsmartlink_gpt_image_count_is_one_call_with_n_and_b64_json(tmp_path):
    async with world(tmp_path, flavour="xmsmartlink") as w:
        inter = await w.run("imagine", {"prompt": "a poster", "model": "gpt-image-2", "count": 2,
                                        "size": "1536x1024"}, timeout=30)
        assert len(inter.files()) == 2, inter.all_text()
        [body] = bodies(w)
        assert body["n"] == 2 and body["response_format"] == "b64_json"
        assert "watermark" not in body and "stream" not in body


async def test_image_watermark_true_reaches_seedream_and_not_gpt_image(tmp_path):
    async with world(tmp_path, flavour="xmsmartlink", image_watermark=True) as w:
        await w.run("imagine", {"prompt": "a poster"})
        assert bodies(w)[-1]["watermark"] is True
        await w.run("imagine", {"prompt": "a poster", "model": "gpt-image-1.5"})
        assert "watermark" not in bodies(w)[-1]
        assert len([r for r in await w.ledger_rows() if r["status"] == "settled"]) == 2


@pytest.mark.parametrize("flavour", ["gogogotoken-ai", "gogogotoken-com", "aiearth", "302ai", "xmsmartlink"])
async def test_image_response_format_b64_json_is_asked_and_delivered_on_every_gateway(tmp_path, flavour):
    async with world(tmp_path, flavour=flavour, image_response_format="b64_json") as w:
        inter = await w.run("imagine", {"prompt": "a lighthouse", "count": 2}, timeout=30)
        assert len(inter.files()) == 2, inter.all_text()
        assert all(b["response_format"] == "b64_json" for b in bodies(w))
        [row] = await w.ledger_rows()
        assert (row["status"], row["images_delivered"]) == ("settled", 2)


# -- custom ----------------------------------------------------------------------------------------

async def test_custom_provider_uses_seedream_5_first_and_fans_out_count(tmp_path):
    async with world(tmp_path, flavour="aiearth", image_provider="custom",
                     image_prices={"doubao-seedream-5-0-260128": "0.05"}) as w:
        inter = await w.run("imagine", {"prompt": "a fox", "count": 2}, timeout=30)
        assert len(inter.files()) == 2, inter.all_text()
        assert len(bodies(w)) == 2
        assert all(b["model"] == "doubao-seedream-5-0-260128" and "n" not in b for b in bodies(w))
        [row] = await w.ledger_rows()
        assert row["cost_micros"] == 100_000
        inter = await w.run("series", {"prompt": "three postcards of a fox", "count": 3}, timeout=30)
        assert len(inter.files()) == 3, inter.all_text()
        assert bodies(w)[-1].get("stream") is True


async def test_catalog_file_from_the_readme_sets_default_and_price_on_aiearth(tmp_path):
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(
        'default_model = "doubao-seedream-4-5-251128"\n\n'
        '[models."doubao-seedream-4-5-251128"]\nprice_usd = "0.04"\nmax_references = 10\n',
        encoding="utf-8",
    )
    async with world(tmp_path, flavour="aiearth", model_catalog_file=catalog) as w:
        inter = await w.run("imagine", {"prompt": "a fox", "count": 2}, timeout=30)
        assert len(inter.files()) == 2, inter.all_text()
        assert all(b["model"] == "doubao-seedream-4-5-251128" for b in bodies(w))
        [row] = await w.ledger_rows()
        assert row["cost_micros"] == 80_000
        assert "$0.08" in inter.all_text()
