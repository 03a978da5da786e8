"""ImageClient against the image-gateway double: the gateway answers the documents describe."""

import pytest

from image_gateway.client import Completed, GeneratedImage, GenerationRequest, ImageClient
from image_gateway.errors import BadRequestError, NotFoundError
from image_gateway.presets import get_preset
from tests.doubles.image_gateway_double import Fault, ImageGatewayDouble

KEY = "test-key"


def make(session, double: ImageGatewayDouble, preset: str, sleeps) -> ImageClient:
    return ImageClient(session, get_preset(preset), base_url=double.base_url, api_key=KEY, sleep=sleeps)


def request(client: ImageClient, **kwargs) -> GenerationRequest:
    return GenerationRequest(model=client.preset.models[client.preset.default_model], prompt="a cat", **kwargs)


async def collect(client: ImageClient, req: GenerationRequest) -> list:
    return [event async for event in client.events(req)]


async def test_a_503_model_not_found_is_not_retried(session, sleeps):
    async with ImageGatewayDouble("aiearth", KEY) as double:
        double.script(Fault.status(503, "model_not_found"), times=4)
        client = make(session, double, "aiearth", sleeps)
        with pytest.raises(NotFoundError):
            await collect(client, request(client))
        assert len(double.generation_requests) == 1
        assert sleeps == []


async def test_empty_data_with_an_error_object_is_a_content_filter_refusal(session, sleeps):
    async with ImageGatewayDouble("302ai", KEY) as double:
        double.script(Fault.empty_data("InputTextSensitiveContentDetected"))
        client = make(session, double, "302ai", sleeps)
        with pytest.raises(BadRequestError) as info:
            await collect(client, request(client))
        assert info.value.is_content_filter
        assert len(double.generation_requests) == 1


@pytest.mark.parametrize("preset", ["aiearth", "xmsmartlink"])
async def test_a_gateway_refusing_stream_without_naming_it_gets_plain_json(session, sleeps, preset):
    async with ImageGatewayDouble(preset, KEY, refuse_stream=True) as double:
        client = make(session, double, preset, sleeps)
        for _ in range(2):
            events = await collect(client, request(client, stream=True, max_images=2))
            assert [type(e) for e in events] == [GeneratedImage, GeneratedImage, Completed]
        sent = [r.json.get("stream") for r in double.generation_requests]
        assert sent == [True, None, None]  # asked once more without it, then never again
        assert double.images_billed == 4


async def test_the_retry_without_stream_shares_the_one_deadline(session, sleeps):
    # IMAGE_TIMEOUT_SECONDS is one deadline over the whole call: the refusal took 0.6 s, the plain
    # answer would take 0.6 s more, and 1.0 s is all there is.
    from image_gateway.errors import APITimeoutError  # noqa: PLC0415

    async with ImageGatewayDouble("aiearth", KEY, refuse_stream=True, latency=0.6) as double:
        double.script(Fault.delay(0.6))
        client = ImageClient(session, get_preset("aiearth"), base_url=double.base_url, api_key=KEY, sleep=sleeps,
                             timeout=1.0)  # fmt: skip
        with pytest.raises(APITimeoutError):
            await collect(client, request(client, stream=True, max_images=2))
        assert [r.json.get("stream") for r in double.generation_requests] == [True, None]
