"""Self-test of the image-gateway double, with plain aiohttp client calls."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from tests.doubles.image_gateway_double import FLAVOURS, Fault, ImageGatewayDouble
from tests.doubles.image_gateway_double.imaging import render

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
V40 = "doubao-seedream-4-0-250828"
V45 = "doubao-seedream-4-5-251128"
V50 = "doubao-seedream-5-0-260128"
V30 = "doubao-seedream-3-0-t2i-250415"
EDIT = "doubao-seededit-3-0-i2i-250628"
REPO = Path(__file__).resolve().parents[2]
FIRST_MODEL = {name: next(iter(flavour.models)) for name, flavour in FLAVOURS.items()}


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as client:
        yield client


async def post(
    session: aiohttp.ClientSession, double: ImageGatewayDouble, body: Any, headers: dict | None = None
) -> tuple[int, Any, aiohttp.ClientResponse]:
    url = f"{double.base_url}/images/generations"
    async with session.post(url, json=body, headers=AUTH if headers is None else headers) as response:
        text = await response.text()
        try:
            payload = json.loads(text)
        except ValueError:
            payload = text
        return response.status, payload, response


async def fetch_image(session: aiohttp.ClientSession, url: str) -> Image.Image:
    async with session.get(url) as response:
        assert response.status == 200
        return Image.open(io.BytesIO(await response.read()))


def png_data_uri(size=(64, 48), fmt="png") -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buffer, "PNG" if fmt == "png" else "JPEG")
    return f"data:image/{fmt};base64," + base64.b64encode(buffer.getvalue()).decode()


def error_code(payload: Any) -> str:
    assert set(payload["error"]) == {"code", "message", "param", "type"}
    return payload["error"]["code"]


# ---- flavours, url and b64_json --------------------------------------------------------------


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
async def test_each_flavour_generates_an_image(session, flavour):
    async with ImageGatewayDouble(flavour, KEY) as double:
        assert double.base_url.endswith("/doubao" if flavour == "302ai" else "/v1")
        model = FIRST_MODEL[flavour]
        body: dict[str, Any] = {"model": model, "prompt": "a cat"}
        if model == EDIT:
            body["image"] = png_data_uri()
        if model.startswith("gpt-image"):
            body["response_format"] = "b64_json"
        status, payload, _ = await post(session, double, body)
        assert status == 200, payload
        assert set(payload) == {"model", "created", "data", "usage"}
        assert payload["usage"]["generated_images"] == 1
        item = payload["data"][0]
        if "url" in item:
            image = await fetch_image(session, item["url"])
            assert double.file_fetches == 1
        else:
            image = Image.open(io.BytesIO(base64.b64decode(item["b64_json"])))
        assert image.width >= 16
        if flavour == "302ai":
            assert set(item) == {"url"} and payload["usage"] == {"generated_images": 1}
        else:
            assert set(payload["usage"]) == {"generated_images", "output_tokens", "total_tokens"}
        assert double.images_generated == double.images_billed == 1


async def test_url_answer_shape_and_files(session):
    async with ImageGatewayDouble("gogogotoken-com", KEY, image_size=(40, 30)) as double:
        status, payload, _ = await post(session, double, {"model": V40, "prompt": "猫", "size": "2K"})
        assert status == 200
        item = payload["data"][0]
        assert item["size"] == "2048x2048"  # the logical size a real gateway reports
        assert item["url"].startswith(f"{double.origin}/files/") and item["url"].endswith(".jpeg")
        assert payload["usage"] == {"generated_images": 1, "output_tokens": 16384, "total_tokens": 16384}
        image = await fetch_image(session, item["url"])
        assert (image.format, image.size) == ("JPEG", (40, 30))
        double.expire_files()
        async with session.get(item["url"]) as response:
            assert response.status == 404


async def test_b64_json_and_png_on_5_0(session):
    async with ImageGatewayDouble("aiearth", KEY) as double:
        body = {
            "model": V50,
            "prompt": "x",
            "size": "3K",
            "response_format": "b64_json",
            "output_format": "png",
        }
        status, payload, _ = await post(session, double, body)
        assert status == 200
        item = payload["data"][0]
        assert "url" not in item and item["size"] == "3072x3072"
        image = Image.open(io.BytesIO(base64.b64decode(item["b64_json"])))
        assert (image.format, image.size) == ("PNG", (96, 96))  # default fast scale 1/32


async def test_output_format_ignored_before_5_0_and_forced_format(session):
    async with ImageGatewayDouble("gogogotoken-com", KEY) as double:
        _, payload, _ = await post(session, double, {"model": V40, "prompt": "x", "output_format": "png"})
        assert payload["data"][0]["url"].endswith(".jpeg")
    async with ImageGatewayDouble("gogogotoken-com", KEY, image_format="png") as double:
        _, payload, _ = await post(session, double, {"model": V40, "prompt": "x"})
        assert (await fetch_image(session, payload["data"][0]["url"])).format == "PNG"


async def test_tier_aspect_from_prompt_and_echoed_upstream_id(session):
    async with ImageGatewayDouble("gogogotoken-ai", KEY) as double:
        body = {"model": "doubao-seedream-5-0-lite", "prompt": "a 16:9 landscape", "size": "2K"}
        _, payload, _ = await post(session, double, body)
        assert payload["model"] == "seedream-5-0-260128"
        assert payload["data"][0]["size"] == "2848x1600"


# ---- auth, models, recording -----------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}])
async def test_bad_auth_is_401_and_key_never_recorded(session, headers):
    async with ImageGatewayDouble("gogogotoken-com", KEY) as double:
        status, payload, _ = await post(session, double, {"model": V40, "prompt": "x"}, headers)
        assert status == 401
        assert payload == {
            "error": {
                "message": "Invalid API key",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
        }
        await post(session, double, {"model": V40, "prompt": "x"})
        first, second = double.requests
        assert (first.auth_present, first.auth_valid) == (bool(headers), False)
        assert (second.auth_present, second.auth_valid) == (True, True)
        assert second.json == {"model": V40, "prompt": "x"} and second.path == "/v1/images/generations"
        assert KEY not in repr(double.requests) and "wrong" not in repr(double.requests)


async def models_status(session: aiohttp.ClientSession, double: ImageGatewayDouble, headers: dict) -> int:
    async with session.get(f"{double.base_url}/models", headers=headers) as response:
        return response.status


async def test_models_endpoint(session):
    async with ImageGatewayDouble("aiearth", KEY) as double:
        async with session.get(f"{double.base_url}/models", headers=AUTH) as response:
            listing = await response.json()
        assert listing["object"] == "list"
        assert {m["id"] for m in listing["data"]} == set(FLAVOURS["aiearth"].models)
        assert set(listing["data"][0]) == {"id", "object", "created", "owned_by"}
        assert await models_status(session, double, {}) == 401
    async with ImageGatewayDouble("302ai", KEY) as double:
        assert await models_status(session, double, AUTH) == 404
    async with ImageGatewayDouble("302ai", KEY, models_endpoint=True) as double:
        assert await models_status(session, double, AUTH) == 200


# ---- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flavour", "model", "size", "ok"),
    [
        ("aiearth", V30, "512x512", True),
        ("aiearth", V30, "511x1024", False),
        ("aiearth", V30, "2048x2049", False),
        ("aiearth", V30, "2K", False),
        ("aiearth", V40, "1K", True),
        ("aiearth", V40, "4K", True),
        ("aiearth", V40, "3K", False),
        ("aiearth", V40, "960x960", True),
        ("aiearth", V40, "900x900", False),
        ("aiearth", V40, "4000x240", False),  # 960,000 px but aspect over 16
        ("aiearth", V45, "1K", False),
        ("aiearth", V45, "1920x1920", True),
        ("aiearth", V45, "4096x4097", False),
        ("aiearth", V50, "3K", True),
        ("aiearth", V50, "4K", False),
        ("aiearth", V50, "3300x3300", False),
        ("aiearth", V50, "banana", False),
        ("aiearth", EDIT, "1024x1024", False),
        ("gogogotoken-com", V40, "1024x1024", True),
        ("gogogotoken-ai", "doubao-seedream-4-5", "1024x1024", False),
        ("gogogotoken-ai", "doubao-seedream-4-5", "1920x1920", True),
        ("xmsmartlink", "gpt-image-2", "1024x1536", True),
        ("xmsmartlink", "gpt-image-2", "2048x2048", True),  # custom sizes: the page says gpt-image-2 takes them
        ("xmsmartlink", "gpt-image-2", "2048x1152", True),
        ("xmsmartlink", "gpt-image-2", "2050x1152", False),  # not multiples of 16
        ("xmsmartlink", "gpt-image-2", "3840x1200", False),  # over 3:1
        ("xmsmartlink", "gpt-image-2", "4096x1024", False),  # a side over 3840
        ("xmsmartlink", "gpt-image-2", "3840x3840", False),  # over 8,294,400 pixels
        ("xmsmartlink", "gpt-image-1.5", "2048x2048", False),  # fixed sizes only
    ],
)
async def test_size_rules(session, flavour, model, size, ok):
    async with ImageGatewayDouble(flavour, KEY) as double:
        body = {"model": model, "prompt": "x", "size": size}
        if model == EDIT:
            body["image"] = png_data_uri()
        if model.startswith("gpt"):
            body["response_format"] = "b64_json"
        status, payload, _ = await post(session, double, body)
        if ok:
            assert status == 200, payload
        else:
            assert status == 400 and error_code(payload) == "InvalidParameter"
            assert payload["error"]["param"] == "size"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model": "doubao-seedream-9", "prompt": "x"}, 404, "model_not_found"),
        ({"prompt": "x"}, 400, "MissingParameter"),
        ({"model": V40}, 400, "MissingParameter"),
        ({"model": V40, "prompt": "a FORBIDDEN cat"}, 400, "InputTextSensitiveContentDetected"),
        ({"model": V40, "prompt": "x", "response_format": "xml"}, 400, "InvalidParameter"),
        ({"model": V30, "prompt": "x", "image": "https://example.com/a.png"}, 400, "InvalidParameter"),
        ({"model": EDIT, "prompt": "x"}, 400, "InvalidParameter"),
        ({"model": V40, "prompt": "x", "image": ["https://e.com/a.png"] * 15}, 400, "InvalidParameter"),
        (
            {
                "model": V40,
                "prompt": "x",
                "image": ["https://e.com/a.png"] * 2,
                "sequential_image_generation": "auto",
                "sequential_image_generation_options": {"max_images": 14},
            },
            400,
            "InvalidParameter",
        ),
        ({"model": V40, "prompt": "x", "image": "ftp://e.com/a.png"}, 400, "InvalidImageURL"),
        ({"model": V40, "prompt": "x", "image": "data:image/png;base64,aGVsbG8="}, 400, "InvalidImageURL"),
        ({"model": V40, "prompt": "x", "image": "data:image/png;base64,@@@"}, 400, "InvalidImageURL"),
        ({"model": V40, "prompt": "x", "image": png_data_uri(fmt="PNG")}, 400, "InvalidImageURL"),
        ({"model": V40, "prompt": "x", "image": png_data_uri((10, 64))}, 400, "InvalidImageURL"),
        ({"model": "gpt-image-2", "prompt": "x", "response_format": "url"}, 404, "model_not_found"),
    ],
)
async def test_request_errors(session, body, status, code):
    async with ImageGatewayDouble("aiearth", KEY) as double:
        got_status, payload, _ = await post(session, double, body)
        assert (got_status, error_code(payload)) == (status, code)
        assert "Request id" in payload["error"]["message"]
        assert double.images_generated == 0


async def test_gpt_image_only_b64_and_invalid_json(session):
    async with ImageGatewayDouble("xmsmartlink", KEY) as double:
        status, payload, _ = await post(
            session, double, {"model": "gpt-image-2", "prompt": "x", "response_format": "url"}
        )
        assert status == 400 and payload["error"]["param"] == "response_format"
        _, payload, _ = await post(session, double, {"model": "gpt-image-2", "prompt": "x"})
        assert "b64_json" in payload["data"][0]
        url = f"{double.base_url}/images/generations"
        async with session.post(url, data=b"{not json", headers=AUTH) as response:
            assert response.status == 400 and error_code(await response.json()) == "InvalidParameter"


async def test_references_adaptive_size_and_loopback_urls(session):
    async with ImageGatewayDouble("aiearth", KEY) as double:
        status, payload, _ = await post(
            session, double, {"model": EDIT, "prompt": "x", "image": png_data_uri((300, 200))}
        )
        assert status == 200 and payload["data"][0]["size"] == "300x200"
        own = payload["data"][0]["url"]  # loopback: fetched and checked by the double
        body = {
            "model": V40,
            "prompt": "x",
            "image": [own, "https://example.com/a.png", png_data_uri(fmt="jpeg")],
        }
        status, payload, _ = await post(session, double, body)
        assert status == 200, payload
        assert double.reference_urls == [own, "https://example.com/a.png"]
        missing = f"{double.origin}/files/nothing.png"
        status, payload, _ = await post(session, double, {"model": V40, "prompt": "x", "image": missing})
        assert status == 400 and error_code(payload) == "InvalidImageURL"


# ---- n, series, streaming --------------------------------------------------------------------


async def test_n_honoured_only_where_accepted(session):
    async with ImageGatewayDouble("gogogotoken-com", KEY) as double:
        _, payload, _ = await post(session, double, {"model": V40, "prompt": "x", "n": 3})
        assert len(payload["data"]) == 3 and payload["usage"]["generated_images"] == 3
    async with ImageGatewayDouble("aiearth", KEY) as double:
        _, payload, _ = await post(session, double, {"model": V40, "prompt": "x", "n": 3})
        assert len(payload["data"]) == 1


def series_body(max_images: int, **extra: Any) -> dict[str, Any]:
    return {
        "model": V45,
        "prompt": "3 pictures",
        "sequential_image_generation": "auto",
        "sequential_image_generation_options": {"max_images": max_images},
        **extra,
    }


async def test_series_with_moderation_failures(session):
    async with ImageGatewayDouble("xmsmartlink", KEY, series_failures={1}, stream=False) as double:
        body = series_body(3)
        body["model"] = V50
        status, payload, _ = await post(session, double, body)
        assert status == 200
        assert [sorted(item) for item in payload["data"]] == [["size", "url"], ["error"], ["size", "url"]]
        assert payload["data"][1]["error"]["code"] == "OutputImageSensitiveContentDetected"
        assert payload["usage"]["generated_images"] == 2
        assert (double.images_generated, double.images_billed, double.images_failed) == (2, 2, 1)
    async with ImageGatewayDouble("aiearth", KEY, series_count=2) as double:
        _, payload, _ = await post(session, double, series_body(5))
        assert len(payload["data"]) == 2


async def read_events(response: aiohttp.ClientResponse) -> list[tuple[float, str | None, Any]]:
    """(arrival time, event name, data) per server-sent event, parsed line by line."""
    events, name, start = [], None, time.monotonic()
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            text = line[len("data: ") :]
            events.append((time.monotonic() - start, name, text if text == "[DONE]" else json.loads(text)))
        elif line == "":
            name = None
    return events


async def test_streaming_events_and_spacing(session):
    async with ImageGatewayDouble("aiearth", KEY, per_image_latency=0.2, series_failures={2}) as double:
        url = f"{double.base_url}/images/generations"
        body = series_body(3, stream=True, response_format="b64_json")
        async with session.post(url, json=body, headers=AUTH) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/event-stream")
            events = await read_events(response)
    names = [name for _, name, _ in events]
    assert names == [
        "image_generation.partial_succeeded",
        "image_generation.partial_succeeded",
        "image_generation.partial_failed",
        "image_generation.completed",
        None,
    ]
    first, failed, completed = events[0][2], events[2][2], events[3][2]
    assert (
        first["type"] == names[0] and first["image_index"] == 0 and "b64_json" in first and "url" not in first
    )
    assert first["size"] == "2048x2048"
    assert failed["image_index"] == 2 and failed["error"]["code"] == "OutputImageSensitiveContentDetected"
    assert completed["usage"]["generated_images"] == 2
    assert events[-1][2] == "[DONE]"
    assert events[0][0] < 0.15 and events[3][0] >= 0.35  # first early, the rest spaced


async def test_stream_url_and_non_streaming_flavour(session):
    async with ImageGatewayDouble("xmsmartlink", KEY) as double:
        url = f"{double.base_url}/images/generations"
        async with session.post(
            url, json={"model": V50, "prompt": "x", "stream": True}, headers=AUTH
        ) as response:
            events = await read_events(response)
        assert events[0][2]["url"].startswith(double.origin)
    async with ImageGatewayDouble("gogogotoken-com", KEY) as double:
        status, payload, response = await post(session, double, {"model": V40, "prompt": "x", "stream": True})
        assert status == 200 and response.content_type == "application/json" and len(payload["data"]) == 1
    async with ImageGatewayDouble("aiearth", KEY) as double:  # validation errors stay plain JSON
        status, payload, _ = await post(
            session, double, {"model": V40, "prompt": "x", "size": "9K", "stream": True}
        )
        assert status == 400 and error_code(payload) == "InvalidParameter"


# ---- latency ---------------------------------------------------------------------------------


async def test_latency_is_non_blocking(session):
    async with ImageGatewayDouble("gogogotoken-com", KEY, latency=0.3, per_image_latency=0.1) as double:
        start = time.monotonic()
        results = await asyncio.gather(
            post(session, double, {"model": V40, "prompt": "x"}),
            post(session, double, {"model": V40, "prompt": "x", "n": 2}),
        )
        elapsed = time.monotonic() - start
        assert [status for status, _, _ in results] == [200, 200]
        assert 0.39 <= elapsed < 0.7


async def test_max_concurrent_answers_429(session):
    async with ImageGatewayDouble("gogogotoken-com", KEY, latency=0.2, max_concurrent=1) as double:
        first, second = await asyncio.gather(
            post(session, double, {"model": V40, "prompt": "x"}),
            post(session, double, {"model": V40, "prompt": "x"}),
        )
        assert sorted([first[0], second[0]]) == [200, 429]


# ---- faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "OutputImageSensitiveContentDetected"),
        (401, None),
        (403, "AccountOverdueError"),
        (404, "InvalidEndpointOrModel.NotFound"),
        (500, None),
        (502, None),
        (503, "ServerOverloaded"),
        (503, "model_not_found"),  # new-api gateways: no channel serves the model
        (400, "model_not_found"),
    ],
)
async def test_status_faults(session, status, code):
    async with ImageGatewayDouble("gogogotoken-com", KEY) as double:
        double.script(Fault.status(status, code))
        got, payload, _ = await post(session, double, {"model": V40, "prompt": "x"})
        assert got == status and error_code(payload) == (code or Fault.status(status).code)
        assert (await post(session, double, {"model": V40, "prompt": "x"}))[0] == 200


async def test_rate_limit_fault_with_retry_after_times(session):
    async with ImageGatewayDouble("gogogotoken-com", KEY) as double:
        double.script(Fault.status(429, code="RateLimitExceeded", retry_after=1), times=2)
        assert len(double.pending_faults) == 2
        for _ in range(2):
            status, payload, response = await post(session, double, {"model": V40, "prompt": "x"})
            assert status == 429 and response.headers["Retry-After"] == "1"
            assert error_code(payload) == "RateLimitExceeded"
        assert (await post(session, double, {"model": V40, "prompt": "x"}))[0] == 200
        assert double.images_generated == 1


async def test_hang_times_out_and_close_is_prompt(session):
    double = await ImageGatewayDouble("gogogotoken-com", KEY).start()
    double.script(Fault.hang())
    url = f"{double.base_url}/images/generations"
    with pytest.raises(asyncio.TimeoutError):
        async with session.post(
            url, json={"model": V40, "prompt": "x"}, headers=AUTH, timeout=aiohttp.ClientTimeout(total=0.3)
        ):
            pass
    start = time.monotonic()
    await double.close()
    assert time.monotonic() - start < 1.5


@pytest.mark.parametrize("stream", [False, True])
async def test_reset_mid_body(session, stream):
    async with ImageGatewayDouble("aiearth", KEY) as double:
        double.script(Fault.reset())
        with pytest.raises(aiohttp.ClientPayloadError):
            await post(session, double, series_body(2, stream=stream))
        assert (double.images_generated, double.images_billed) == (2, 0)


async def test_truncated_html_empty_and_delay(session):
    async with ImageGatewayDouble("gogogotoken-com", KEY) as double:
        double.script(Fault.truncated_json())
        double.script(Fault.html())
        double.script(Fault.empty_data())
        double.script(Fault.delay(0.2))
        status, payload, response = await post(session, double, {"model": V40, "prompt": "x"})
        assert status == 200 and isinstance(payload, str) and payload.startswith('{"model"')
        status, payload, response = await post(session, double, {"model": V40, "prompt": "x"})
        assert status == 502 and response.content_type == "text/html" and "Bad Gateway" in payload
        status, payload, _ = await post(session, double, {"model": V40, "prompt": "x"})
        assert status == 200 and payload["data"] == []
        assert (double.images_generated, double.images_billed) == (1, 0)  # the truncated answer made one
        start = time.monotonic()
        assert (await post(session, double, {"model": V40, "prompt": "x"}))[0] == 200
        assert time.monotonic() - start >= 0.2


async def test_empty_data_with_an_error_object(session):
    # 302.ai's page lists "error" (code, message) as an optional field beside "data".
    async with ImageGatewayDouble("302ai", KEY) as double:
        double.script(Fault.empty_data("InputTextSensitiveContentDetected"))
        status, payload, _ = await post(session, double, {"model": V30, "prompt": "x"})
        assert status == 200 and payload["data"] == []
        assert payload["error"]["code"] == "InputTextSensitiveContentDetected"
        assert "sensitive" in payload["error"]["message"]
        assert double.images_generated == double.images_billed == 0


async def test_refuse_stream_answers_400_without_naming_it(session):
    async with ImageGatewayDouble("aiearth", KEY, refuse_stream=True) as double:
        status, payload, _ = await post(session, double, series_body(2, stream=True))
        assert status == 400 and error_code(payload) == "InvalidParameter"
        assert "stream" not in json.dumps(payload).lower() and payload["error"]["param"] is None
        assert double.images_generated == 0
        status, payload, _ = await post(session, double, series_body(2))
        assert status == 200 and len(payload["data"]) == 2


async def test_missing_file_and_partial_faults(session):
    async with ImageGatewayDouble("gogogotoken-com", KEY) as double:
        double.script(Fault.missing_file())
        _, payload, _ = await post(session, double, {"model": V40, "prompt": "x"})
        async with session.get(payload["data"][0]["url"]) as response:
            assert response.status == 404
        double.script(Fault.partial(failed=[0, 2], count=3))
        _, payload, _ = await post(session, double, series_body(4))
        assert [("error" in item) for item in payload["data"]] == [True, False, True]
        assert payload["usage"]["generated_images"] == 1
        double.script(Fault.partial(failed=[0]))  # a single image refused: a plain 400, as Ark does
        status, payload, _ = await post(session, double, {"model": V40, "prompt": "x"})
        assert status == 400 and error_code(payload) == "OutputImageSensitiveContentDetected"


# ---- realistic images and the standalone process ---------------------------------------------


def test_realistic_2k_jpeg_is_one_to_two_megabytes():
    blob = render(2048, 2048, "jpeg", realistic=True)
    assert 1_000_000 <= len(blob.data) <= 2_000_000


async def test_realistic_images_are_cached_variants(session):
    async with ImageGatewayDouble("aiearth", KEY, realistic=True, image_scale=0.125) as double:
        _, payload, _ = await post(session, double, series_body(2))
        blobs = []
        for item in payload["data"]:
            async with session.get(item["url"]) as response:
                blobs.append(await response.read())
        assert blobs[0] != blobs[1]  # two variants
        assert len(blobs[0]) > 15_000  # 256x256 noise (a flat 256x256 JPEG is about 2 KB)


def test_standalone_process_prints_base_url():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = ["-m", "tests.doubles.image_gateway_double", "--port", "0", "--flavour", "302ai", "--no-prewarm"]

    async def run() -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *args, cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE
        )
        try:
            base_url = (await asyncio.wait_for(process.stdout.readline(), 10)).decode().strip()
            assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/doubao")
            async with aiohttp.ClientSession() as client:
                body = {"model": V40, "prompt": "x"}
                async with client.post(f"{base_url}/images/generations", json=body, headers=AUTH) as response:
                    assert response.status == 200
        finally:
            process.terminate()
            await process.wait()

    asyncio.run(run())
