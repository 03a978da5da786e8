"""The JSON body sent for each model and gateway: exact, minimal."""

import pytest

from image_gateway.catalog import BUILTIN_MODELS
from image_gateway.client import GenerationRequest, build_body
from image_gateway.presets import get_preset
from tests.unit.image_gateway.fakes import API_KEY, collect, json_reply

OK = {"data": [{"url": "https://img.example/0.jpeg", "size": "2048x2048"}], "usage": {"generated_images": 1}}


def _req(preset: str, model: str | None = None, **kwargs) -> tuple:
    p = get_preset(preset)
    return GenerationRequest(model=p.models[model or p.default_model], prompt="a cat", **kwargs), p


def test_seedream_5_series_with_references_on_aiearth():
    req, preset = _req(
        "aiearth",
        size="2K",
        images=["https://a.example/1.png", "data:image/png;base64,AAAA"],
        max_images=3,
        output_format="png",
        stream=True,
    )
    assert build_body(req, preset) == {
        "model": "doubao-seedream-5-0-260128",
        "prompt": "a cat",
        "size": "2K",
        "image": ["https://a.example/1.png", "data:image/png;base64,AAAA"],
        "sequential_image_generation": "auto",
        "sequential_image_generation_options": {"max_images": 3},
        "response_format": "url",
        "output_format": "png",
        "watermark": False,
        "stream": True,
    }


def test_seedream_3_on_302ai_sends_seed_and_guidance():
    req, preset = _req("302ai", size="1024x1024", seed=12, guidance_scale=2.5)
    assert build_body(req, preset) == {
        "model": "doubao-seedream-3-0-t2i-250415",
        "prompt": "a cat",
        "size": "1024x1024",
        "seed": 12,
        "guidance_scale": 2.5,
        "response_format": "url",
        "watermark": False,
    }


def test_seededit_single_reference_is_a_string():
    req, preset = _req(
        "aiearth", "doubao-seededit-3-0-i2i-250628", size="adaptive", images=["https://a/1.png"], seed=-1
    )
    assert build_body(req, preset) == {
        "model": "doubao-seededit-3-0-i2i-250628",
        "prompt": "a cat",
        "size": "adaptive",
        "seed": -1,
        "image": "https://a/1.png",
        "response_format": "url",
        "watermark": False,
    }


def test_seedream_4_5_drops_what_it_does_not_take():
    req, preset = _req(
        "aiearth",
        "doubao-seedream-4-5-251128",
        seed=5,
        guidance_scale=3.0,
        output_format="png",
        images=["https://a/1.png"],
        response_format="b64_json",
        watermark=True,
    )
    assert build_body(req, preset) == {
        "model": "doubao-seedream-4-5-251128",
        "prompt": "a cat",
        "image": "https://a/1.png",
        "sequential_image_generation": "disabled",
        "response_format": "b64_json",
        "watermark": True,
    }


def test_gogogotoken_ai_sends_n_and_no_size_no_stream():
    req, preset = _req("gogogotoken-ai", n=2, stream=True)
    assert build_body(req, preset) == {
        "model": "doubao-seedream-5-0-lite",
        "prompt": "a cat",
        "n": 2,
        "response_format": "url",
        "watermark": False,
    }


def test_gpt_image_forces_b64_and_sends_no_watermark():
    req, preset = _req("xmsmartlink", "gpt-image-2", size="1024x1536", output_format="png")
    assert build_body(req, preset) == {
        "model": "gpt-image-2",
        "prompt": "a cat",
        "size": "1024x1536",
        "response_format": "b64_json",
    }


def test_n_is_not_sent_to_gateway_without_n():
    req, preset = _req("aiearth", n=3)
    assert "n" not in build_body(req, preset)


@pytest.mark.parametrize("model_id", sorted(BUILTIN_MODELS))
def test_every_builtin_model_builds_a_minimal_body(model_id):
    spec = BUILTIN_MODELS[model_id]
    body = build_body(GenerationRequest(model=spec, prompt="p"), get_preset("custom"))
    assert set(body) <= {"model", "prompt", "response_format", "watermark"}
    assert body["response_format"] in spec.response_formats


async def test_body_and_headers_on_the_wire(gateway, make_client):
    gateway.queue(json_reply(OK))
    client = make_client("gogogotoken-com")
    spec = client.preset.models["doubao-seedream-4-5-251128"]
    await collect(client, GenerationRequest(model=spec, prompt="你好", size="2K"))
    assert gateway.bodies == [
        {
            "model": "doubao-seedream-4-5-251128",
            "prompt": "你好",
            "size": "2K",
            "response_format": "url",
            "watermark": False,
        }
    ]
    assert gateway.headers[0]["Authorization"] == f"Bearer {API_KEY}"
    assert gateway.headers[0]["Content-Type"] == "application/json"
