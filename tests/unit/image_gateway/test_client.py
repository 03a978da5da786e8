"""ImageClient against an in-process gateway on loopback: results, retries, streaming, fan-out."""

import asyncio
import json
import logging
import socket
import threading
import time

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from image_gateway import client as client_module
from image_gateway.catalog import SEEDREAM_3_T2I
from image_gateway.client import Completed, FailedImage, GeneratedImage, GenerationRequest, ImageClient
from image_gateway.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from image_gateway.presets import Preset, build_catalog, get_preset
from tests.unit.image_gateway.fakes import (
    API_KEY,
    collect,
    delayed,
    error_reply,
    hang_reply,
    json_reply,
    reset_reply,
    slow_sse_reply,
    sse_reply,
    text_reply,
    truncated_json_reply,
)


def ok(*items, usage=None):
    body = {"model": "echo-differs", "created": 1, "data": list(items)}
    if usage is not None:
        body["usage"] = {"generated_images": usage, "output_tokens": 16384}
    return json_reply(body)


URL_ITEM = {"url": "https://img.example/0.jpeg?X-Signature=abc", "size": "2048x2048"}


def request(client: ImageClient, **kwargs) -> GenerationRequest:
    return GenerationRequest(
        model=client.preset.models[client.preset.default_model], prompt="a cat", **kwargs
    )


# -- plain JSON answers -------------------------------------------------------------------------


async def test_url_result(gateway, make_client):
    gateway.queue(ok(URL_ITEM, usage=1))
    client = make_client()
    assert await collect(client, request(client)) == [
        GeneratedImage(0, "https://img.example/0.jpeg?X-Signature=abc", None, "2048x2048"),
        Completed(1),
    ]


async def test_b64_result(gateway, make_client):
    gateway.queue(ok({"b64_json": "aGVsbG8="}, {"b64_json": "d29ybGQ="}))
    client = make_client()
    events = await collect(client, request(client, response_format="b64_json"))
    assert events == [
        GeneratedImage(0, None, "aGVsbG8=", None),
        GeneratedImage(1, None, "d29ybGQ=", None),
        Completed(2),  # no usage: count of images
    ]


async def test_series_with_failed_items_bills_usage(gateway, make_client):
    gateway.queue(
        ok(
            URL_ITEM,
            {"error": {"code": "OutputImageSensitiveContentDetected", "message": "refused"}},
            {"url": "https://img.example/2.jpeg"},
            usage=2,
        )
    )
    client = make_client()
    events = await collect(client, request(client, max_images=3))
    assert events[1] == FailedImage(1, "OutputImageSensitiveContentDetected", "refused")
    assert [type(e) for e in events] == [GeneratedImage, FailedImage, GeneratedImage, Completed]
    assert events[-1] == Completed(2)


async def test_only_failed_items_is_valid_and_bills_nothing(gateway, make_client):
    gateway.queue(ok({"error": {"code": "OutputImageSensitiveContentDetected", "message": "no"}}, usage=0))
    client = make_client()
    events = await collect(client, request(client))
    assert events == [FailedImage(0, "OutputImageSensitiveContentDetected", "no"), Completed(0)]


@pytest.mark.parametrize(
    "reply",
    [
        text_reply("<html>hello</html>"),
        text_reply('{"data": [', content_type="application/json"),
        json_reply({"data": []}),
        json_reply({"created": 1}),
        json_reply([1, 2]),
    ],
)
async def test_unusable_answers_are_invalid_responses_not_retried(gateway, make_client, reply):
    gateway.queue(reply)
    client = make_client()
    with pytest.raises(InvalidResponseError):
        await collect(client, request(client))
    assert len(gateway.bodies) == 1


async def test_error_object_in_a_200_is_a_bad_request(gateway, make_client):
    gateway.queue(json_reply({"error": {"code": "InputTextSensitiveContentDetected", "message": "x"}}))
    client = make_client()
    with pytest.raises(BadRequestError) as info:
        await collect(client, request(client))
    assert info.value.is_content_filter


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("InputTextSensitiveContentDetected", BadRequestError),
        ("model_not_found", NotFoundError),
        ("AccountOverdueError", PermissionDeniedError),
    ],
)
async def test_empty_data_beside_an_error_object_is_that_error(gateway, make_client, code, cls):
    # 302.ai's page lists "error" (code, message) as an optional field beside "data".
    gateway.queue(json_reply({"model": "m", "created": 1, "data": [], "error": {"code": code, "message": "x"}}))
    client = make_client("302ai")
    with pytest.raises(cls) as info:
        await collect(client, request(client))
    assert info.value.code == code
    assert info.value.is_content_filter == (code == "InputTextSensitiveContentDetected")
    assert len(gateway.bodies) == 1


@pytest.mark.parametrize("error", [None, {}, ""], ids=["null", "empty-object", "empty-string"])
async def test_empty_data_beside_an_empty_error_is_still_unusable(gateway, make_client, error):
    gateway.queue(json_reply({"data": [], "error": error}))
    client = make_client("302ai")
    with pytest.raises(InvalidResponseError):
        await collect(client, request(client))


# -- retries ------------------------------------------------------------------------------------


async def test_retries_429_and_503_then_succeeds(gateway, make_client, sleeps):
    gateway.queue(
        error_reply(429, "RateLimitExceeded", "slow down"),
        error_reply(503, "ServerOverloaded", "busy"),
        ok(URL_ITEM, usage=1),
    )
    client = make_client()
    events = await collect(client, request(client))
    assert events[-1] == Completed(1)
    assert len(gateway.bodies) == 3
    assert len(sleeps) == 2
    assert 0.375 <= sleeps[0] <= 0.5  # 0.5 s with up to 25 % jitter
    assert 0.75 <= sleeps[1] <= 1.0


async def test_backoff_is_capped(gateway, make_client, sleeps):
    gateway.queue(error_reply(500, "InternalServiceError", "x"))
    client = make_client(max_retries=6, backoff_cap=2.0)
    with pytest.raises(InternalServerError):
        await collect(client, request(client))
    assert len(gateway.bodies) == 7
    assert max(sleeps) <= 2.0


async def test_retry_after_is_honoured_up_to_the_cap(gateway, make_client, sleeps):
    gateway.queue(
        error_reply(429, "RateLimitExceeded", "x", headers={"Retry-After": "7"}),
        error_reply(429, "RateLimitExceeded", "x", headers={"Retry-After": "120"}),
        ok(URL_ITEM),
    )
    client = make_client(retry_after_cap=60.0, backoff_base=0.5)
    await collect(client, request(client))
    # Retry-After at least (capped), and up to one backoff step (0.5 s, then 1 s) more at random.
    assert 7.0 <= sleeps[0] < 7.5 and 60.0 <= sleeps[1] < 61.0


async def test_requests_told_the_same_retry_after_come_back_apart(gateway, make_client, sleeps):
    # A burst that got 429 "Retry-After: 1" together must not meet the limit again together.
    gateway.queue(error_reply(429, "RateLimitExceeded", "x", headers={"Retry-After": "1"}))  # every time
    client = make_client(max_retries=1)
    for _ in range(8):
        with pytest.raises(RateLimitError):
            await collect(client, request(client))
    assert len(sleeps) == 8 and len(set(sleeps)) == 8 and min(sleeps) >= 1.0


async def test_retries_exhausted_raise_rate_limit_error(gateway, make_client, sleeps):
    gateway.queue(error_reply(429, "ModelAccountIpmRateLimitExceeded", "too many"))
    client = make_client(max_retries=2)
    with pytest.raises(RateLimitError) as info:
        await collect(client, request(client))
    assert info.value.code == "ModelAccountIpmRateLimitExceeded"
    assert len(gateway.bodies) == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (408, APIStatusError),
        (409, APIStatusError),
        (422, APIStatusError),
    ],
)
async def test_no_retry_on_client_errors(gateway, make_client, sleeps, status, cls):
    gateway.queue(error_reply(status, "Nope", "no"), ok(URL_ITEM))
    client = make_client()
    with pytest.raises(cls):
        await collect(client, request(client))
    assert len(gateway.bodies) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (503, "model_not_found", NotFoundError),  # new-api: no channel serves this model
        (500, "ModelNotOpen", NotFoundError),
        (429, "InvalidEndpointOrModel.NotFound", NotFoundError),
        (503, "AccountOverdueError", PermissionDeniedError),
        (400, "model_not_found", NotFoundError),
        (429, "insufficient_quota", PermissionDeniedError),  # out of credit, not "busy"
        (403, "insufficient_user_quota", PermissionDeniedError),
    ],
)
async def test_a_code_naming_the_model_or_account_is_not_retried(gateway, make_client, sleeps, status, code, cls):
    # A retry cannot bring a missing model or an overdue account back: the configuration must change.
    gateway.queue(error_reply(status, code, "model doubao-x has no available channel"), ok(URL_ITEM))
    client = make_client()
    with pytest.raises(cls) as info:
        await collect(client, request(client))
    assert (info.value.status, info.value.code) == (status, code)
    assert len(gateway.bodies) == 1
    assert sleeps == []


async def test_timeout_raises_api_timeout_error_and_is_not_retried(gateway, make_client, sleeps):
    # The request was sent: the gateway may still make and bill the images, so no second call.
    gateway.queue(hang_reply(5), ok(URL_ITEM, usage=1))
    client = make_client(timeout=0.2, max_retries=1)
    with pytest.raises(APITimeoutError):
        await collect(client, request(client))
    assert len(gateway.bodies) == 1
    assert sleeps == []


async def test_a_body_cut_off_after_a_200_is_not_retried(gateway, make_client):
    # The gateway accepted the call and may have billed it: a retry could pay twice.
    gateway.queue(truncated_json_reply(), ok(URL_ITEM, usage=1))
    client = make_client()
    with pytest.raises(APIConnectionError):
        await collect(client, request(client))
    assert len(gateway.bodies) == 1


async def test_connection_refused(session, sleeps):
    server = TestServer(web.Application(), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("/v1"))
    await server.close()  # nothing listens there now
    client = ImageClient(session, get_preset("custom"), base_url=base, api_key=API_KEY, sleep=sleeps)
    with pytest.raises(APIConnectionError) as info:
        await collect(client, request(client))
    assert len(sleeps) == 3
    assert API_KEY not in str(info.value)


# -- streaming ----------------------------------------------------------------------------------


def _sse(event: str, data: dict | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    return f"event: {event}\r\ndata: {text}\r\n\r\n".encode()


STREAM = (
    b": hello\n\n"
    + _sse(
        "image_generation.partial_succeeded",
        {"type": "image_generation.partial_succeeded", "image_index": 0, "url": "https://i/0", "size": "2K"},
    )
    + _sse("image_generation.progress", {"type": "image_generation.progress", "percent": 50})
    + _sse(
        "image_generation.partial_failed",
        {
            "type": "image_generation.partial_failed",
            "image_index": 1,
            "error": {"code": "OutputImageSensitiveContentDetected", "message": "refused"},
        },
    )
    + _sse(
        "image_generation.partial_succeeded",
        {"type": "image_generation.partial_succeeded", "image_index": 2, "b64_json": "QUJD"},
    )
    + _sse(
        "image_generation.completed", {"type": "image_generation.completed", "usage": {"generated_images": 2}}
    )
    + b"data: [DONE]\n\n"
)
STREAM_EVENTS = [
    GeneratedImage(0, "https://i/0", None, "2K"),
    FailedImage(1, "OutputImageSensitiveContentDetected", "refused"),
    GeneratedImage(2, None, "QUJD", None),
    Completed(2),
]


@pytest.mark.parametrize("chunk", [len(STREAM), 1, 7, 64])
async def test_sse_stream_in_any_chunking(gateway, make_client, chunk):
    gateway.queue(sse_reply([STREAM[i : i + chunk] for i in range(0, len(STREAM), chunk)]))
    client = make_client("aiearth")
    events = await collect(client, request(client, stream=True, max_images=3))
    assert events == STREAM_EVENTS
    assert gateway.bodies[0]["stream"] is True
    assert "text/event-stream" in gateway.headers[0]["Accept"]


async def test_sse_stream_without_completed_bills_successes(gateway, make_client):
    cut = STREAM.index(b"event: image_generation.completed")
    gateway.queue(sse_reply([STREAM[:cut]]))
    client = make_client("aiearth")
    events = await collect(client, request(client, stream=True))
    assert events == [*STREAM_EVENTS[:3], Completed(2)]


async def test_empty_sse_stream_is_invalid(gateway, make_client):
    gateway.queue(sse_reply([b": nothing\n\n"]))
    client = make_client("aiearth")
    with pytest.raises(InvalidResponseError):
        await collect(client, request(client, stream=True))


async def test_stream_cut_after_an_image_is_not_retried(gateway, make_client):
    cut = STREAM.index(b"event: image_generation.partial_failed")
    gateway.queue(sse_reply([STREAM[:cut]], reset=True), sse_reply([STREAM]))
    client = make_client("aiearth")
    seen = []
    with pytest.raises(APIConnectionError):
        async for event in client.events(request(client, stream=True)):
            seen.append(event)
    assert seen == STREAM_EVENTS[:1]
    assert len(gateway.bodies) == 1  # no second generation


async def test_stream_requested_but_gateway_answers_json(gateway, make_client):
    gateway.queue(ok(URL_ITEM, usage=1))
    client = make_client("aiearth")
    events = await collect(client, request(client, stream=True))
    assert events == [GeneratedImage(0, URL_ITEM["url"], None, "2048x2048"), Completed(1)]
    assert gateway.bodies[0]["stream"] is True


async def test_a_gateway_that_refuses_stream_is_asked_again_without_it_and_from_then_on(gateway, make_client):
    gateway.queue(
        error_reply(400, "InvalidParameter", "unknown field: stream"),
        ok(URL_ITEM, usage=1),
        ok(URL_ITEM, usage=1),
    )
    client = make_client("xmsmartlink")
    events = await collect(client, request(client, stream=True))
    assert events == [GeneratedImage(0, URL_ITEM["url"], None, "2048x2048"), Completed(1)]
    await collect(client, request(client, stream=True))  # the next series asks for JSON at once
    assert [body.get("stream") for body in gateway.bodies] == [True, None, None]


@pytest.mark.parametrize("status", [400, 422])
async def test_a_refusal_of_a_stream_that_does_not_name_it_is_asked_again_without_it(gateway, make_client, status):
    # aiearth's and xmsmartlink's pages do not document "stream"; a gateway may refuse the field
    # with a plain 400 that names nothing. Nothing was made or billed: one more call, plain JSON.
    gateway.queue(
        error_reply(status, "InvalidParameter", "The parameter specified in the request is not valid."),
        ok(URL_ITEM, usage=1),
        ok(URL_ITEM, usage=1),
    )
    client = make_client("aiearth")
    events = await collect(client, request(client, stream=True, max_images=2))
    assert events == [GeneratedImage(0, URL_ITEM["url"], None, "2048x2048"), Completed(1)]
    await collect(client, request(client, stream=True, max_images=2))  # the plain call worked: no stream from now on
    assert [body.get("stream") for body in gateway.bodies] == [True, None, None]


async def test_a_refusal_the_plain_call_repeats_is_raised_and_streaming_stays(gateway, make_client):
    # The 400 was about the size, not "stream": asked once without it (at most once), then raised;
    # the next call still asks to stream.
    gateway.queue(error_reply(400, "InvalidParameter", "size is not supported"))
    client = make_client("xmsmartlink")
    with pytest.raises(BadRequestError):
        await collect(client, request(client, stream=True))
    assert [body.get("stream") for body in gateway.bodies] == [True, None]
    gateway.replies[:] = [ok(URL_ITEM, usage=1)]
    await collect(client, request(client, stream=True))
    assert gateway.bodies[-1]["stream"] is True


@pytest.mark.parametrize(
    "reply",
    [
        # "upstream" is not "stream": a relay's content-filter refusal must not be sent twice
        error_reply(400, "InputTextSensitiveContentDetected", "upstream error: the input text may be sensitive"),
        # an error in a 200 answer: the gateway may have generated (and billed) already
        json_reply({"error": {"code": "InternalError", "message": "stream closed"}}),
        # a code that names the model: asking without "stream" cannot help
        error_reply(400, "model_not_found", "no channel for this model"),
    ],
    ids=["upstream", "error-in-a-200", "model-not-found"],
)
async def test_other_refusals_are_not_retried_without_stream(gateway, make_client, reply):
    gateway.queue(reply)
    client = make_client("xmsmartlink")
    with pytest.raises(APIStatusError):
        await collect(client, request(client, stream=True))
    assert len(gateway.bodies) == 1
    gateway.replies[:] = [ok(URL_ITEM, usage=1)]
    await collect(client, request(client, stream=True))
    assert gateway.bodies[-1]["stream"] is True  # still asked to stream


async def test_stream_not_requested_from_gateway_without_stream(gateway, make_client):
    gateway.queue(ok(URL_ITEM))
    client = make_client("gogogotoken-com")
    await collect(client, request(client, stream=True))
    assert "stream" not in gateway.bodies[0]


# -- n on a gateway without n ---------------------------------------------------------------


async def test_fan_out_runs_n_single_calls(gateway, make_client):
    gateway.queue(ok(URL_ITEM, usage=1))
    client = make_client("aiearth")
    events = await collect(client, request(client, n=3))
    assert [e.index for e in events[:-1]] == [0, 1, 2]
    assert all(isinstance(e, GeneratedImage) for e in events[:-1])
    assert events[-1] == Completed(3)
    assert len(gateway.bodies) == 3
    assert all("n" not in body for body in gateway.bodies)


@pytest.mark.parametrize(("seed", "sent"), [(7, [7, 8, 9]), (2_147_483_646, [2_147_483_646, 2_147_483_647, 0]),
                                             (-1, [-1, -1, -1])])
async def test_fan_out_gives_each_call_its_own_seed(gateway, make_client, seed, sent):
    # One seed for three calls would make (and bill) the same image three times.
    gateway.queue(ok(URL_ITEM, usage=1))
    client = make_client("302ai")  # Seedream 3.0 takes a seed, and 302.ai no "n"
    await collect(client, request(client, n=3, seed=seed))
    assert sorted(body["seed"] for body in gateway.bodies) == sorted(sent)


async def test_fan_out_partial_failure_yields_what_succeeded(gateway, make_client):
    gateway.queue(
        ok(URL_ITEM, usage=1),
        error_reply(400, "OutputImageSensitiveContentDetected", "refused"),
        ok(URL_ITEM, usage=1),
    )
    client = make_client("aiearth")
    events = await collect(client, request(client, n=3))
    generated = [e for e in events if isinstance(e, GeneratedImage)]
    failed = [e for e in events if isinstance(e, FailedImage)]
    assert len(generated) == 2
    assert len(failed) == 1
    assert failed[0].code == "OutputImageSensitiveContentDetected"
    assert sorted(e.index for e in events[:-1]) == [0, 1, 2]
    assert events[-1] == Completed(2)


async def test_fan_out_all_failed_raises(gateway, make_client):
    gateway.queue(error_reply(403, "AccountOverdueError", "pay up"))
    client = make_client("aiearth")
    with pytest.raises(PermissionDeniedError):
        await collect(client, request(client, n=2))
    assert len(gateway.bodies) == 2


async def test_gateway_with_n_gets_one_call(gateway, make_client):
    gateway.queue(ok(URL_ITEM, URL_ITEM, usage=2))
    client = make_client("gogogotoken-com")
    events = await collect(client, request(client, n=2))
    assert events[-1] == Completed(2)
    assert gateway.bodies[0]["n"] == 2
    assert len(gateway.bodies) == 1


def _with_seedream_3(tmp_path, preset: str) -> Preset:
    """`preset` with Seedream 3.0 (which takes a seed) added, as an operator's catalog file does."""
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(f'[models."{SEEDREAM_3_T2I.id}"]\nlike = "{SEEDREAM_3_T2I.id}"\n', encoding="utf-8")
    return build_catalog(get_preset(preset), catalog_file=catalog)


async def test_a_fixed_seed_on_a_gateway_with_n_gives_each_image_its_own_seed(gateway, session, sleeps, tmp_path):
    # README: with count > 1 image k uses seed + k - 1. One call with n=3 and seed 7 would make,
    # and bill, the same image three times.
    gateway.queue(ok(URL_ITEM, usage=1))
    client = ImageClient(session, _with_seedream_3(tmp_path, "gogogotoken-com"), base_url=gateway.base_url,
                         api_key=API_KEY, sleep=sleeps)
    events = await collect(client, GenerationRequest(model=SEEDREAM_3_T2I, prompt="a cat", n=3, seed=7))
    assert [e.index for e in events if isinstance(e, GeneratedImage)] == [0, 1, 2]
    assert events[-1] == Completed(3)
    assert sorted((body["seed"], body.get("n")) for body in gateway.bodies) == [(7, None), (8, None), (9, None)]


@pytest.mark.parametrize("seed", [-1, None])
async def test_a_random_seed_on_a_gateway_with_n_is_still_one_call(gateway, session, sleeps, tmp_path, seed):
    gateway.queue(ok(URL_ITEM, URL_ITEM, URL_ITEM, usage=3))
    client = ImageClient(session, _with_seedream_3(tmp_path, "gogogotoken-com"), base_url=gateway.base_url,
                         api_key=API_KEY, sleep=sleeps)
    events = await collect(client, GenerationRequest(model=SEEDREAM_3_T2I, prompt="a cat", n=3, seed=seed))
    assert events[-1] == Completed(3)
    [body] = gateway.bodies
    assert (body["n"], body.get("seed")) == (3, seed)


# -- secrets and logs ---------------------------------------------------------------------------


async def test_key_never_in_errors_or_logs(gateway, make_client, caplog):
    echo = f"Invalid token Bearer {API_KEY} for https://img.example/a.png?sig=SECRETSIG"
    gateway.queue(error_reply(503, "InternalServiceError", echo), error_reply(401, "invalid_api_key", echo))
    client = make_client()
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthenticationError) as info:
        await collect(client, request(client))
    for text in (str(info.value), repr(info.value), info.value.message, caplog.text):
        assert API_KEY not in text
        assert "SECRETSIG" not in text
    assert "retry 1/3" in caplog.text


async def test_custom_preset_needs_a_base_url(session):
    with pytest.raises(ValueError, match="base URL"):
        ImageClient(session, get_preset("custom"), api_key=API_KEY)


# -- model list ---------------------------------------------------------------------------------


async def test_list_models(gateway, make_client):
    gateway.queue(
        error_reply(502, "BadGateway", "x"),
        json_reply(
            {
                "object": "list",
                "data": [
                    {"id": "doubao-seedream-5-0-260128", "object": "model", "created": 1, "owned_by": "x"},
                    {"id": "gpt-image-2", "object": "model"},
                    {"object": "model"},
                ],
            }
        ),
    )
    client = make_client()
    assert await client.list_models() == ["doubao-seedream-5-0-260128", "gpt-image-2"]
    assert gateway.headers[-1]["Authorization"] == f"Bearer {API_KEY}"


async def test_list_models_not_json(gateway, make_client):
    gateway.queue(text_reply("<html>no</html>"))
    client = make_client()
    with pytest.raises(InvalidResponseError):
        await client.list_models()


async def test_a_stream_error_naming_no_image_fails_the_request_after_what_arrived(gateway, make_client):
    # Only partial_failed (with its image_index) is one image's failure; any other error event
    # ends the request, typed by its code like the same error without a stream, and not retried.
    body = (
        _sse("image_generation.partial_succeeded", {"image_index": 0, "url": "https://i/0"})
        + b'data: {"error": {"code": "InternalServiceError", "message": "upstream died"}}\n\n'
        + b"data: [DONE]\n\n"
    )
    gateway.queue(sse_reply([body]))
    client = make_client("xmsmartlink")
    events = []
    with pytest.raises(InternalServerError) as failed:
        async for event in client.events(request(client, stream=True, max_images=2)):
            events.append(event)
    assert events == [GeneratedImage(0, "https://i/0", None, None)]
    assert (failed.value.code, failed.value.accepted) == ("InternalServiceError", True)
    assert len(gateway.bodies) == 1  # an answer had begun: not asked again

    gateway.replies.clear()
    gateway.queue(sse_reply([b'data: {"error": {"code": "AccountOverdueError", "message": "pay up"}}\n\n']))
    with pytest.raises(PermissionDeniedError):
        await collect(client, request(client, stream=True, max_images=2))


async def test_fan_out_with_streams(gateway, make_client):
    gateway.queue(sse_reply([STREAM]))
    client = make_client("aiearth")
    events = await collect(client, request(client, n=2, stream=True))
    assert sorted(e.index for e in events[:-1]) == list(range(6))
    assert events[-1] == Completed(4)


# -- retry policy and the total timeout ---------------------------------------------------------


async def test_a_reset_after_the_request_was_sent_is_not_retried(gateway, make_client, sleeps):
    # The gateway has the request (it may make and bill the image): a second call could pay twice.
    gateway.queue(reset_reply(), ok(URL_ITEM, usage=1))
    client = make_client()
    with pytest.raises(APIConnectionError):
        await collect(client, request(client))
    assert len(gateway.bodies) == 1
    assert sleeps == []


async def test_a_connection_that_never_opened_is_retried(session, sleeps):
    # Nothing reached the gateway (connection refused): safe to try again, up to the retries.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens there
    client = ImageClient(session, get_preset("aiearth"), base_url=f"http://127.0.0.1:{port}/v1", api_key=API_KEY,
                         max_retries=2, sleep=sleeps)  # fmt: skip
    with pytest.raises(APIConnectionError) as caught:
        await collect(client, request(client))
    assert caught.value.unsent
    assert len(sleeps) == 2


async def test_timeout_is_one_deadline_across_all_attempts(gateway, make_client):
    # Each attempt takes 0.3 s and answers 503: within a 1 s timeout only ~4 attempts fit,
    # not the 11 that 10 retries of 1 s each would allow.
    gateway.queue(delayed(error_reply(503, "ServerOverloaded", "busy"), 0.3))
    client = make_client(timeout=1.0, max_retries=10, backoff_base=0.01, sleep=asyncio.sleep)
    started = time.monotonic()
    with pytest.raises((APITimeoutError, InternalServerError)):
        await collect(client, request(client))
    assert time.monotonic() - started < 1.5
    assert len(gateway.bodies) <= 4


async def test_a_retry_wait_past_the_deadline_is_not_made(gateway, make_client, sleeps, caplog):
    gateway.queue(error_reply(429, "RateLimitExceeded", "x", headers={"Retry-After": "30"}), ok(URL_ITEM))
    client = make_client(timeout=5.0)
    with caplog.at_level(logging.WARNING), pytest.raises(RateLimitError):
        await collect(client, request(client))
    assert len(gateway.bodies) == 1
    assert sleeps == []
    assert "no retry" in caplog.text


async def test_a_long_stream_is_not_cut_by_the_total_timeout(gateway, make_client):
    # Five events 0.3 s apart take longer than the 1 s timeout; none is more than 1 s late.
    events = [
        _sse("image_generation.partial_succeeded", {"image_index": i, "url": f"https://i/{i}"}) for i in range(4)
    ]
    done = _sse("image_generation.completed", {"type": "image_generation.completed", "usage": {"generated_images": 4}})
    gateway.queue(slow_sse_reply([*events, done + b"data: [DONE]\n\n"], gap=0.3))
    client = make_client("aiearth", timeout=1.0)
    got = await collect(client, request(client, stream=True, max_images=4))
    assert [type(e) for e in got] == [GeneratedImage] * 4 + [Completed]
    assert got[-1] == Completed(4)


async def test_a_stream_that_goes_silent_times_out_without_a_retry(gateway, make_client, sleeps):
    first = _sse("image_generation.partial_succeeded", {"image_index": 0, "url": "https://i/0"})
    gateway.queue(slow_sse_reply([first], gap=0.0, then_hang=3.0), sse_reply([STREAM]))
    client = make_client("aiearth", timeout=0.4)
    seen = []
    with pytest.raises(APITimeoutError, match="silent"):
        async for event in client.events(request(client, stream=True, max_images=3)):
            seen.append(event)
    assert seen == [GeneratedImage(0, "https://i/0", None, None)]
    assert len(gateway.bodies) == 1
    assert sleeps == []


async def test_a_stream_with_only_keep_alives_is_held_to_the_deadline(gateway, make_client):
    gateway.queue(slow_sse_reply([b": keep-alive\n\n"] * 40, gap=0.1))
    client = make_client("aiearth", timeout=0.5)
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        await collect(client, request(client, stream=True))
    assert time.monotonic() - started < 2.5
    assert len(gateway.bodies) == 1


# -- "error": null and secrets in snippets ------------------------------------------------------


async def test_an_item_with_error_null_is_a_good_image(gateway, make_client):
    gateway.queue(ok({**URL_ITEM, "error": None}, usage=1))
    client = make_client()
    events = await collect(client, request(client))
    assert events == [GeneratedImage(0, URL_ITEM["url"], None, "2048x2048"), Completed(1)]


async def test_a_stream_event_with_error_null_is_a_good_image(gateway, make_client):
    body = (
        _sse(
            "image_generation.partial_succeeded",
            {"type": "image_generation.partial_succeeded", "image_index": 0, "url": "https://i/0", "error": None},
        )
        + b"data: [DONE]\n\n"
    )
    gateway.queue(sse_reply([body]))
    client = make_client("aiearth")
    events = await collect(client, request(client, stream=True))
    assert events == [GeneratedImage(0, "https://i/0", None, None), Completed(1)]


# A key no pattern recognises: only the exact-match scrub removes it, which a cut would defeat.
ODD_KEY = "gwlive0123456789ABCDEFGHIJKLMN"


async def test_a_key_echoed_in_a_non_json_answer_is_not_cut_into_the_log(gateway, session, caplog):
    # The old 200-character cut kept the first 10 characters of the key.
    gateway.queue(text_reply("x" * 190 + ODD_KEY + " oops", content_type="text/plain"))
    client = ImageClient(session, get_preset("aiearth"), base_url=gateway.base_url, api_key=ODD_KEY)
    with caplog.at_level(logging.DEBUG), pytest.raises(InvalidResponseError) as info:
        await collect(client, request(client))
    for text in (str(info.value), caplog.text):
        assert ODD_KEY[:6] not in text


async def test_a_key_echoed_in_a_non_json_stream_event_is_not_cut_into_the_log(gateway, session, caplog):
    body = (
        b"data: " + b"y" * 90 + ODD_KEY.encode() + b"\n\n"
        + _sse("image_generation.partial_succeeded", {"image_index": 0, "url": "https://i/0"})
        + b"data: [DONE]\n\n"
    )
    gateway.queue(sse_reply([body]))
    client = ImageClient(session, get_preset("aiearth"), base_url=gateway.base_url, api_key=ODD_KEY)
    with caplog.at_level(logging.DEBUG):
        events = await collect(client, request(client, stream=True))
    assert events[-1] == Completed(1)
    assert "not JSON" in caplog.text
    assert ODD_KEY[:6] not in caplog.text


async def test_an_empty_error_beside_a_streamed_image_is_no_failure(gateway, make_client):
    # Some gateways put "error": {"code": null, ...} beside every event: nothing went wrong.
    body = (
        _sse("image_generation.partial_succeeded",
             {"image_index": 0, "url": "https://i/0", "error": {"code": None, "message": None}})
        + _sse("image_generation.completed", {"usage": {"generated_images": 1}, "error": None})
        + b"data: [DONE]\n\n"
    )  # fmt: skip
    gateway.queue(sse_reply([body]))
    client = make_client("xmsmartlink")
    events = await collect(client, request(client, stream=True, max_images=1))
    assert events == [GeneratedImage(0, "https://i/0", None, None), Completed(1)]


async def test_a_body_with_reference_images_is_serialised_off_the_event_loop(gateway, make_client, monkeypatch):
    # Data URIs of up to 10 x 10 MB are 0.3-1.8 s of json.dumps: every other member would wait.
    threads = []

    def encode(body):
        threads.append(threading.current_thread() is threading.main_thread())
        return client_module.json.dumps(body).encode()

    monkeypatch.setattr(client_module, "encode_body", encode)
    gateway.queue(ok(URL_ITEM, usage=1), ok(URL_ITEM, usage=1))
    client = make_client()
    await collect(client, request(client))
    await collect(client, request(client, images=["data:image/png;base64,aGVsbG8="]))
    assert threads == [True, False]  # a prompt alone is serialised in place; with images, in a thread
    assert gateway.bodies[-1]["image"] == "data:image/png;base64,aGVsbG8="
